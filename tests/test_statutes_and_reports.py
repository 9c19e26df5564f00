"""Packs of `role: statute` (Labor Code 4604.5(c)(1), adopted into whichever tier governs, lifted under
the Postsurgical Treatment Guidelines) and `role: report` (MTUS Drug Formulary prospective review,
answered beside the decision): the acceptance cases, the letter's lines, and the statute citation
check."""

from __future__ import annotations

import datetime as dt
import shutil

from engine.decide.letter import render_text
from engine.load.cases import load_case
from engine.load.paths import DEFAULT_RULES
from engine.model.case import Case
from tests.conftest import case_data, case_path, run, with_change


def _decide(engine, name):
    return engine.decide(load_case(case_path(name)))


def test_thirty_pt_visits_outside_the_postsurgical_period_are_upheld_under_the_cap(engine):
    d = _decide(engine, "820_pt_30_visits_over_cap.yaml")
    item = d.items[0]
    assert (item.decision, item.reason_code) == ("Upheld", "not_met")
    assert [(c.basis, c.section) for c in item.citations] == [("Labor Code", "Labor Code 4604.5(c)(1)")]
    text = render_text(d)
    assert "come to 30, past the 24" in text and "Labor Code 4604.5(c)(1)" in text


def test_inside_the_postsurgical_period_the_cap_is_not_counted(engine):
    item = _decide(engine, "823_pt_30_visits_postsurgical.yaml").items[0]
    assert item.decision == "Overturned" and item.governed_by.startswith("MTUS Postsurgical")
    cap = [r for r in item.rules if r.rule == "lc4604.5.visit-cap"]
    assert [(r.status, r.rank) for r in cap] == [("not_met", 0)]  # it fired, beside the sequence, never adopted


def test_employer_authorization_lifts_the_cap(engine):
    data = case_data(case_path("820_pt_30_visits_over_cap.yaml"))
    case = with_change(data, "requested_items.0.employer_authorized_visits", True)
    item = engine.decide(case).items[0]
    assert item.decision == "No rule applies" and not any(r.rule == "lc4604.5.visit-cap" for r in item.rules)


def test_special_fill_day_4_and_day_9(engine):
    day4 = _decide(engine, "800_special_fill_opioid_day_4.yaml")
    day9 = _decide(engine, "801_special_fill_opioid_day_9.yaml")
    assert day4.items[0].prospective_review.needed is False
    assert day9.items[0].prospective_review.needed is True
    assert "Prospective review (MTUS Drug Formulary): not needed" in render_text(day4)
    assert "Prospective review (MTUS Drug Formulary): needed before the drug is dispensed" in render_text(day9)


def test_a_brand_with_a_generic_and_no_reason_needs_prospective_review(engine):
    review = _decide(engine, "802_brand_exempt_with_generic.yaml").items[0].prospective_review
    assert review.needed is True and review.rules == ["formulary.pr.exempt-brand"]


def test_prospective_review_is_not_answered_before_the_formulary(engine):
    data = case_data(case_path("803_exempt_generic_pharmacy.yaml"))
    data["request_date"] = dt.date(2017, 6, 1)
    data["injured_worker"]["date_of_injury"] = dt.date(2016, 11, 20)
    assert engine.decide(Case.model_validate(data)).items[0].prospective_review is None


def test_validate_wants_a_statute_cited_by_code_and_section(capsys, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, rules)
    pack = rules / "packs" / "labor-code-4604.5-visit-cap.yaml"
    text = pack.read_text()
    line = next(n for n, l in enumerate(text.splitlines(), 1) if l.strip() == "section: Labor Code 4604.5(c)(1)")
    pack.write_text(text.replace("section: Labor Code 4604.5(c)(1)", "section: the visit cap"))
    code, out, err = run(capsys, "validate", rules)
    assert code == 1
    assert f"{pack}:{line}:5: R017 a statute rule cites its code and section" in out + err
