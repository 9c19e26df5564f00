"""Expectations that name rules (issue 9): `governing` (the decision must rest on each) and
`not_fired` (each must stay silent), checked by `imr test`, validated at the line of the id, listed
by `imr packs`; and the corpus names every rule of the rule base in some `governing` list."""

from __future__ import annotations

import re

import pytest

from engine.load.cases import case_files, load_case
from engine.model.case import Case, ItemExpectation

from .conftest import CASES, SEED, case_data, run

LONG = """  pt-lumbar:
    decision: Upheld
    governing:
      - cpmtg.pm.functional-improvement
{more}"""


def _seed(tmp_path, more: str = "", name: str = "seed.yaml"):
    """The seed case with its pt-lumbar expectation in the long form (`more`: further lines)."""
    path = tmp_path / name
    path.write_text(SEED.read_text().replace("  pt-lumbar: Upheld\n", LONG.format(more=more)))
    return path


def _line(path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == text)


@pytest.fixture(autouse=True)
def _shared_engine(request, monkeypatch):
    """The commands run on the session's engine (building one per command is the slow part)."""
    from engine.cli import commands

    shared = request.getfixturevalue("engine")
    build = commands._engine
    monkeypatch.setattr(commands, "_engine", lambda rules: shared if rules is None else build(rules))


# ---------------------------------------------------------------- the model

def test_short_and_long_forms_are_one_model():
    data = case_data(SEED)
    data["expected"] = {"pt-lumbar": {"decision": "Upheld", "governing": ["cpmtg.pm.functional-improvement"]},
                        "pt-cervical": "Upheld"}
    case = Case.model_validate(data)
    assert case.expectations() == {
        "pt-lumbar": ItemExpectation(decision="Upheld", governing=["cpmtg.pm.functional-improvement"]),
        "pt-cervical": ItemExpectation(decision="Upheld"),
    }
    assert case.expected_decisions() == {"pt-lumbar": "Upheld", "pt-cervical": "Upheld"}


@pytest.mark.parametrize("value, message", [
    ({"decision": "Upheld", "governs": ["x.y.z"]}, "unknown field"),
    ({"governing": ["x.y.z"]}, "required field is missing"),
    ({"decision": "Upheld", "governing": ["Not An Id"]}, "should match pattern"),
    ({"decision": "Upheld", "governing": ["a.b.c"], "not_fired": ["a.b.c"]}, "rule named in both governing and not_fired: a.b.c"),
    (["Upheld"], "Input should be 'Upheld'"),
])
def test_malformed_expectations_are_rejected(tmp_path, value, message):
    import yaml

    data = case_data(SEED)
    data["expected"] = {"pt-lumbar": value}
    path = tmp_path / "case.yaml"
    path.write_text("# yaml-language-server: $schema=x\n" + yaml.safe_dump(data, sort_keys=False))
    from engine.model.diagnostics import InputError

    with pytest.raises(InputError) as err:
        load_case(path)
    assert any(message in d.message and "expected.pt-lumbar" in d.message for d in err.value.diagnostics), err.value.diagnostics


# ---------------------------------------------------------------- validation at the line of the id

def test_an_unknown_rule_id_is_an_error_at_its_line_in_validate_and_test(tmp_path, capsys):
    path = _seed(tmp_path, more="      - cpmtg.pm.functional-improvment\n")
    line = _line(path, "- cpmtg.pm.functional-improvment")
    code, out, err = run(capsys, "validate", str(path))
    assert code == 1
    assert (f"{path}:{line}:9: E006 expected.pt-lumbar.governing: unknown rule 'cpmtg.pm.functional-improvment' "
            "(did you mean 'cpmtg.pm.functional-improvement'?)") in out.splitlines()
    code, out, err = run(capsys, "test", str(path))
    assert code == 2  # the case file is invalid
    assert f"{path}:{line}:9: E006" in err
    assert "0 passed, 0 failed" in out and "1 invalid case file" in out


def test_a_rule_in_both_lists_is_an_error_at_its_line(tmp_path, capsys):
    path = _seed(tmp_path, more="    not_fired: [cpmtg.pm.functional-improvement]\n")
    line = _line(path, "not_fired: [cpmtg.pm.functional-improvement]")
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    problems = [p for p in out.splitlines() if " E0" in p]
    assert problems == [f"{path}:{line}:17: E007 expected.pt-lumbar: rule 'cpmtg.pm.functional-improvement' is named both in governing and in not_fired"]
    assert run(capsys, "test", str(path))[0] == 2


def test_validate_checks_rule_ids_against_the_rules_folder_given(tmp_path, capsys):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(CASES.parent / "guideline_rules", rules)
    pack = rules / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml"
    pack.write_text(pack.read_text().replace("id: cpmtg.pm.functional-improvement\n", "id: cpmtg.pm.functional-gains\n", 1))
    path = _seed(tmp_path)
    code, out, _ = run(capsys, "validate", str(rules), str(path))
    assert "E006 expected.pt-lumbar.governing: unknown rule 'cpmtg.pm.functional-improvement'" in out
    assert run(capsys, "validate", str(path))[0] == 0  # against the project's rules it is known


# ---------------------------------------------------------------- imr test

def test_rule_expectations_pass_and_are_counted(tmp_path, capsys):
    path = _seed(tmp_path, more="      - cpmtg.pm.home-program-transition\n    not_fired: [cpmtg.massage.visits]\n")
    code, out, _ = run(capsys, "test", str(path))
    assert code == 0, out
    assert "3 passed, 0 failed; 3 rule expectations checked" in out


def test_a_rule_that_does_not_govern_is_a_failure_naming_it(tmp_path, capsys):
    path = _seed(tmp_path, more="      - cpmtg.pm.frequency-fading\n")
    code, out, _ = run(capsys, "test", str(path))
    assert code == 1
    fail = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1
    assert re.fullmatch(rf"FAIL {re.escape(str(path))} \[seed-000-b27565c25da42ea0\] item pt-lumbar: expected cpmtg.pm.frequency-fading "
                        r"to govern; governing: (\S+, )*cpmtg.pm.functional-improvement(, \S+)*", fail[0]), fail[0]
    assert "2 passed, 1 failed; 2 rule expectations checked (1 failed)" in out


def test_a_rule_that_fires_when_it_must_not_is_a_failure_naming_it(tmp_path, capsys):
    path = _seed(tmp_path, more="    not_fired: [cpmtg.pm.frequency-fading]\n")
    code, out, _ = run(capsys, "test", str(path))
    assert code == 1
    assert (f"FAIL {path} [seed-000-b27565c25da42ea0] item pt-lumbar: expected cpmtg.pm.frequency-fading not to fire; "
            "it fired (met)") in out.splitlines()
    assert "2 passed, 1 failed; 2 rule expectations checked (1 failed)" in out


def test_a_wrong_decision_and_a_wrong_rule_are_one_failed_item(tmp_path, capsys):
    path = tmp_path / "seed.yaml"
    path.write_text(_seed(tmp_path, more="    not_fired: [cpmtg.pm.frequency-fading]\n").read_text()
                    .replace("    decision: Upheld\n", "    decision: Overturned\n", 1))
    code, out, _ = run(capsys, "test", str(path))
    assert code == 1
    assert "item pt-lumbar: expected Overturned, got Upheld" in out
    assert "item pt-lumbar: expected cpmtg.pm.frequency-fading not to fire" in out
    assert "2 passed, 1 failed" in out


# ---------------------------------------------------------------- the corpus

FILES = case_files([CASES])


def _named(kind: str) -> set[str]:
    return {r for f in FILES for e in load_case(f).expectations().values() for r in getattr(e, kind)}


def test_every_rule_is_named_in_some_governing_list(engine):
    named = _named("governing")
    behind_answers = _named("review_rules")  # a report pack's rules govern no decision: they stand behind its answer
    missing = [r.rule.id for r in engine.base.rules
               if r.rule.id not in (behind_answers if r.pack.role == "report" else named)]
    assert not missing, f"rules no case names in `governing` (add them where they govern): {missing}"


def test_every_pack_with_rules_has_a_rule_that_must_stay_silent(engine):
    silent = _named("not_fired")
    packs = {r.pack.pack for r in engine.base.rules}
    lacking = sorted(p for p in packs if not any(r.rule.id in silent for r in engine.base.rules if r.pack.pack == p))
    assert not lacking, f"packs with no `not_fired` example: {lacking}"


def test_packs_lists_the_cases_that_name_each_rule(capsys):
    code, out, _ = run(capsys, "packs")
    lines = out.splitlines()
    at = lines.index(next(line for line in lines if line.strip().startswith("amtg.extension-functional-improvement:")))
    assert lines[at + 1].strip().startswith("governing: 167_acupuncture_extension_with_improvement")
    assert lines[at + 2].strip() == "not fired: 165_acupuncture_initial_six"
    assert "named by no case's expectation" in lines[-1]


def test_packs_fails_on_a_rule_named_by_no_case(tmp_path, capsys):
    path = _seed(tmp_path)
    code, out, _ = run(capsys, "packs", str(path))
    assert code == 1
    assert re.search(r"^    cpmtg\.massage\.visits: met in 0, not met in 0 cases; named by no case$", out, re.M), out
    assert re.search(r"^    cpmtg\.pm\.functional-improvement: met in 0, not met in 1 case$", out, re.M), out
    assert re.search(r"\d+ rules named by no case's expectation: ", out.splitlines()[-1])
