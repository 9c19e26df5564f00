"""Medication rules: the derived facts they read, and each Overturned medication case flips to
Upheld when the one fact its rules depend on changes (so it passes because of the rules)."""

import pytest

from .conftest import DELETE, case_data, case_path, decisions, with_change


def _item_facts(engine, case, item_id):
    facts = engine.facts(case)
    for iid, _topic, item_facts in facts.items:
        if iid == item_id:
            return {f["t"]: f for f in item_facts if f["t"] != "ingredient"}
    raise KeyError(item_id)


def test_morphine_equivalents_add_every_current_opioid(engine):
    data = case_data(case_path("243_oxycodone_above_120_med_no_consult.yaml"))
    data["medications"].append({"name": "Tramadol 50 mg", "drug": "tramadol", "status": "current", "daily_dose_mg": 200})
    item = _item_facts(engine, with_change(data, "case_id", "two-opioids"), "oxycodone")["item"]
    assert item["mme_daily"] == 180.0  # 120 mg oxycodone x 1.5
    assert item["mme_daily_total"] == 200.0  # + 200 mg tramadol x 0.1


def test_an_opioid_without_a_dose_leaves_the_total_not_documented(engine):
    data = case_data(case_path("243_oxycodone_above_120_med_no_consult.yaml"))
    data["medications"].append({"name": "Morphine ER", "drug": "morphine", "status": "current"})
    item = _item_facts(engine, with_change(data, "case_id", "undosed"), "oxycodone")["item"]
    assert item["mme_daily"] == 180.0 and "mme_daily_total" not in item


def test_refill_dose_comes_from_the_current_line(engine):
    data = case_data(case_path("240_hydrocodone_continued_four_as.yaml"))
    case = with_change(data, "requested_items.0.daily_dose_mg", DELETE)
    assert _item_facts(engine, case, "norco")["item"]["mme_daily_total"] == 40.0


def test_course_weeks_count_use_already_taken(engine):
    new = _item_facts(engine, with_change(case_data(case_path("220_cyclobenzaprine_short_course_flare.yaml")), "case_id", "x"), "cyclobenzaprine")
    assert new["history"]["course_weeks"] == 2.0
    ongoing = _item_facts(engine, with_change(case_data(case_path("221_cyclobenzaprine_three_months.yaml")), "case_id", "x"), "cyclobenzaprine")
    assert ongoing["history"]["course_weeks"] == pytest.approx(13.7 + 4, abs=0.1)


def test_a_tricyclic_or_snri_trial_is_documented_only_when_one_is_listed(engine):
    data = case_data(case_path("760_tx_2020_gabapentin_after_duloxetine.yaml"))
    def meds(case):
        return next(f for f in engine.facts(case).case_facts if f["t"] == "meds")
    assert meds(with_change(data, "case_id", "x"))["tca_snri_tried"] is True  # a past SNRI, not tolerated
    assert "tca_snri_tried" not in meds(with_change(data, "medications.0.drug", "sertraline"))  # an SSRI: silence, not "no"


FLIPS = [
    ("200_capsaicin_after_failed_treatments.yaml", "capsaicin-cream", "medications",
     [{"name": "Naproxen 500 mg", "drug": "naproxen", "status": "current", "outcome": "effective"}]),
    ("203_methyl_salicylate_menthol_cream.yaml", "salicylate-cream", "requested_items.0.ingredients.0.drug", "camphor"),
    ("220_cyclobenzaprine_short_course_flare.yaml", "cyclobenzaprine", "requested_items.0.duration_weeks", 4),
    ("220_cyclobenzaprine_short_course_flare.yaml", "cyclobenzaprine", "clinical_findings.acute_flare_up", False),
    ("230_omeprazole_age_over_65_on_naproxen.yaml", "omeprazole", "medications.0.status", "past"),
    ("233_naproxen_and_esomeprazole_with_aspirin.yaml", "esomeprazole", "medications.1.status", "past"),
    ("233_naproxen_and_esomeprazole_with_aspirin.yaml", "naproxen", "medications.0.functional_improvement", False),
    ("240_hydrocodone_continued_four_as.yaml", "norco", "medications.0.functional_improvement", False),
    ("240_hydrocodone_continued_four_as.yaml", "norco", "clinical_findings.aberrant_behaviour", True),
    ("244_oxycodone_above_120_med_with_consult.yaml", "oxycodone", "clinical_findings.pain_management_consult", False),
    ("246_tramadol_trial_after_nsaid_failure.yaml", "tramadol", "clinical_findings.functional_baseline_and_goals", "not documented"),
    ("250_first_urine_drug_screen_on_opioids.yaml", "uds", "medications.0.status", "past"),
    ("252_repeat_uds_moderate_risk_six_months.yaml", "uds", "treatment_history.0.last_visit", "2015-03-10"),
    ("254_repeat_uds_low_risk_after_a_year.yaml", "uds", "clinical_findings.opioid_risk_level", "not documented"),
    ("255_repeat_uds_high_risk_monthly.yaml", "uds", "treatment_history.0.last_visit", "2015-07-28"),
    ("260_gabapentin_lumbar_radiculopathy.yaml", "gabapentin", "diagnoses.0.code", "M54.50"),
    ("263_gabapentin_continued_good_response.yaml", "gabapentin", "medications.0.pain_relief_percent", 25),
    ("270_amitriptyline_lumbar_radiculopathy.yaml", "amitriptyline", "diagnoses.0.code", "S83.241A"),
    ("272_sertraline_secondary_depression.yaml", "sertraline", "diagnoses.1.code", "F41.1"),
    ("273_duloxetine_diabetic_neuropathy_continued.yaml", "duloxetine", "medications.0.functional_improvement", False),
    ("750_tx_gabapentin_lumbar_radiculopathy.yaml", "gabapentin", "diagnoses.0.code", "M54.50"),
    ("752_tx_gabapentin_continued_relief_and_function.yaml", "gabapentin", "medications.0.functional_improvement", False),
    ("760_tx_2020_gabapentin_after_duloxetine.yaml", "gabapentin", "medications.0.drug", "sertraline"),
]


@pytest.mark.parametrize("name,item,path,value", FLIPS, ids=[f"{f[0][:3]}-{f[2].split('.')[-1]}" for f in FLIPS])
def test_one_fact_flips_a_medication_case_to_upheld(engine, name, item, path, value):
    data = case_data(case_path(name))
    if isinstance(value, str) and path.endswith("last_visit"):
        import datetime as dt

        value = dt.date.fromisoformat(value)
    assert decisions(engine, with_change(data, "case_id", data["case_id"]))[item] == "Overturned"
    assert decisions(engine, with_change(data, path, value))[item] == "Upheld"
