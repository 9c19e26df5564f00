"""Coverage counts: a scope-only pack (no rules) is exercised by the cases whose items it addressed."""

from engine.tools.coverage import corpus_coverage

from .conftest import case_path


def test_scope_only_pack_counts_the_cases_it_addressed(engine):
    coverage = corpus_coverage(engine, [case_path("319_esi_2017_updated_cpmtg_not_encoded.yaml"), case_path("006_initial_pt_chronic_neck.yaml")])
    assert coverage.cases_of("mtus-cpmtg-2016-scope") == {"319_esi_2017_updated_cpmtg_not_encoded.yaml:" + _case_id(319)}
    assert len(coverage.cases_of("mtus-cpmtg-2009-physical-medicine")) == 1


def _case_id(number: int) -> str:
    from engine.load.cases import load_case

    return load_case(case_path(f"{number}_*.yaml")).case_id
