"""Each Overturned case passes because of the rules: change the one fact that makes it pass and it
flips to Upheld."""

import pytest

from .conftest import case_data, case_path, decisions, with_change

FLIPS = [
    # (case file, item, field path, new value, why)
    ("001_postsurgical_lumbar_initial_course.yaml", "postop-pt", "requested_items.0.frequency_per_week", 4,
     "16 visits exceed the initial course of 8"),
    ("002_flare_up_with_functional_improvement.yaml", "pt-neck", "treatment_history.0.functional_improvement", False,
     "no functional improvement from prior therapy"),
    ("002_flare_up_with_functional_improvement.yaml", "pt-neck", "clinical_findings.acute_flare_up", "not documented",
     "home program in place and no flare-up documented"),
    ("003_topical_diclofenac_knee_oa.yaml", "diclofenac-gel", "requested_items.0.duration_weeks", 16,
     "topical NSAIDs are for 4-12 weeks"),
    ("004_lidocaine_patch_after_failed_gabapentin.yaml", "lidoderm", "medications.0.outcome", "effective",
     "no failed first-line trial"),
    ("005_texas_odg_lumbago_initial.yaml", "pt-low-back", "treatment_history.0.visits_completed", 6,
     "12 visits exceed ODG's 9 for lumbago"),
    ("006_initial_pt_chronic_neck.yaml", "pt-neck", "requested_items.0.duration_weeks", 6,
     "12 visits exceed the 9-10 visit allowance"),
]


@pytest.mark.parametrize("name,item,path,value,why", FLIPS, ids=[f"{f[0][:3]}-{f[2].split('.')[-1]}" for f in FLIPS])
def test_one_fact_flips_overturned_to_upheld(engine, name, item, path, value, why):
    data = case_data(case_path(name))
    original = with_change(data, "case_id", data["case_id"])
    assert decisions(engine, original)[item] == "Overturned"
    assert decisions(engine, with_change(data, path, value))[item] == "Upheld", why


def test_seed_flips_when_the_missing_documentation_is_supplied(engine):
    """The reverse direction: documenting what the seed lacked overturns the cervical therapy item."""
    data = case_data(case_path("000_seed_b27565c25da42ea0.yaml"))
    data["treatment_history"][1].update(visits_completed=2, functional_improvement=True)
    data["clinical_findings"]["acute_flare_up"] = True
    case = with_change(data, "case_id", "seed-documented")
    assert decisions(engine, case)["pt-cervical"] == "Overturned"
