"""Minnesota, a jurisdiction added as data only (a profile and packs): a Minnesota case decides
under its own profile and cites the rule's part and subpart; the same facts elsewhere never reach
the Minnesota packs; its history starts with treatment after 1995-01-04 (Minn. R. 5221.6020)."""

from __future__ import annotations

import datetime as dt

from engine.model.case import Case

from .conftest import ROOT, case_data, decide_probe, run

CASE = ROOT / "cases/mn-tp-low-back/803_mn_low_back_additional_visits_exceeded.yaml"
PASSIVE = {"type": "therapy", "id": "chiro", "description": "Chiropractic adjustment 2x3 lumbar", "service": "chiropractic",
           "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 3, "modality": "passive", "passive_care_weeks": 4}


def test_a_minnesota_case_decides_under_its_profile_citing_part_and_subpart(capsys):
    code, out, _ = run(capsys, "decide", CASE)
    out = " ".join(out.split())  # the letter wraps its lines
    assert code == 0
    assert out.startswith("MNTP PRE-SCREEN")
    assert "Minn. R. 5221.6200, subp. 3.B" in out and ": Upheld" in out
    assert "compensation judge" in out and "does not deny payment" in out
    assert "IMR" not in out and "Labor Code 4610" not in out


def test_documenting_a_departure_turns_the_limit_into_care_allowed(engine):
    data = case_data(CASE)
    data.pop("expected")
    data["clinical_findings"]["progressive_improvement"] = True
    item = engine.decide(Case.model_validate(data)).items[0]
    assert item.decision == "Overturned"
    assert {r.rule for r in item.rules if r.status == "met"} >= {"mn.lb.passive.additional-12-visits", "mn.lb.passive.departure"}


def test_the_same_facts_in_california_never_reach_the_minnesota_packs(engine):
    item = decide_probe(engine, jurisdiction="CA", day=dt.date(2014, 3, 3), item=dict(PASSIVE))
    assert not any(r.pack.startswith("mn-tp-") for r in item.rules)


def test_the_history_starts_with_treatment_after_january_4_1995(engine):
    before = decide_probe(engine, jurisdiction="MN", day=dt.date(1995, 1, 4), item=dict(PASSIVE))
    first = decide_probe(engine, jurisdiction="MN", day=dt.date(1995, 1, 5), item=dict(PASSIVE))
    assert before.decision == "Not covered"
    assert first.decision == "Overturned" and first.citations[0].section == "Minn. R. 5221.6200, subp. 3"
