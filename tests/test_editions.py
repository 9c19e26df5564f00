"""Editions and jurisdictions: a request is judged by the guideline edition in force on its date,
under its jurisdiction's search sequence.

The boundary days come from the packs' `effective` dates (reference/guidelines.md version banner):
the 2009 CPMTG 2009-07-18..2016-07-28, the updated 2016 CPMTG 2016-07-29..2017-11-30, the
ACOEM-based MTUS from 2017-12-01, ACOEM 2nd ed. (MTUS) 2007-06-15..2017-11-30, the Drug Formulary
from 2018-01-01, ODG 2013-01-01..2018-12-31.
"""

from __future__ import annotations

import datetime as dt

import pytest

from engine.model.case import Case

from .conftest import case_data, case_path, decide_probe as _decide


PT = {"type": "therapy", "id": "pt", "description": "Physical therapy 2x3 lumbar", "service": "physical_therapy",
      "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 3}
BRACE = {"type": "procedure", "id": "lso", "description": "Lumbosacral orthosis", "service": "lumbar_support", "region": "lumbar"}
COMPOUND = {"type": "medication", "id": "cream", "description": "Flurbiprofen / cyclobenzaprine cream", "form": "topical",
            "compounded": True, "ingredients": [{"drug": "flurbiprofen", "strength": "20%"}, {"drug": "cyclobenzaprine", "strength": "4%"}],
            "region": "lumbar"}


def _packs(item) -> set[str]:
    return {r.pack for r in item.rules if r.rank == item.governing_rank}


@pytest.mark.parametrize("day, governed, decision", [
    (dt.date(2009, 7, 17), None, "No rule applies"),  # the 2007 MTUS (ACOEM 2nd ed.): its PT criteria not encoded
    (dt.date(2009, 7, 18), "Chronic Pain Medical Treatment Guidelines (2009)", None),
    (dt.date(2016, 7, 28), "Chronic Pain Medical Treatment Guidelines (2009)", None),
    (dt.date(2016, 7, 29), "Chronic Pain Medical Treatment Guidelines (2016)", "No rule applies"),
    (dt.date(2017, 11, 30), "Chronic Pain Medical Treatment Guidelines (2016)", "No rule applies"),
    (dt.date(2017, 12, 1), "ACOEM-based treatment guidelines", "No rule applies"),
])
def test_california_physical_therapy_follows_the_cpmtg_editions(engine, day, governed, decision):
    item = _decide(engine, jurisdiction="CA", day=day, item=PT)
    if governed is None:
        assert item.governed_by is None
    else:
        assert item.governed_by.startswith("MTUS") and governed in item.governed_by
        assert "Non-MTUS" not in item.governed_by  # an MTUS edition in force is never skipped for ODG
    if decision:
        assert item.decision == decision
    else:
        assert item.decision in ("Upheld", "Overturned") and _packs(item) == {"mtus-cpmtg-2009-physical-medicine"}


@pytest.mark.parametrize("day, governed, decision", [
    (dt.date(2007, 6, 14), None, "No rule applies"),  # ACOEM before the MTUS (8 CCR 9792.8): not encoded
    (dt.date(2007, 6, 15), "Chapter 12 Low Back Complaints (2004)", "Overturned"),
    (dt.date(2017, 11, 30), "Chapter 12 Low Back Complaints (2004)", "Overturned"),
    (dt.date(2017, 12, 1), "ACOEM-based treatment guidelines", "No rule applies"),
])
def test_california_lumbar_support_follows_the_acoem_editions(engine, day, governed, decision):
    item = _decide(engine, jurisdiction="CA", day=day, item=BRACE)  # an acute strain: ACOEM's criterion is met
    assert item.decision == decision
    assert (item.governed_by is None) if governed is None else (governed in item.governed_by)


def test_the_drug_formulary_applies_from_2018_01_01(engine):
    before = _decide(engine, jurisdiction="CA", day=dt.date(2017, 12, 31), item=COMPOUND)
    after = _decide(engine, jurisdiction="CA", day=dt.date(2018, 1, 1), item=COMPOUND)
    assert before.decision == "No rule applies" and "Drug Formulary" not in before.governed_by
    assert after.decision == "Upheld" and "Drug Formulary" in after.governed_by
    assert [r.rule for r in after.rules if r.rank == after.governing_rank] == ["formulary.compounded.necessity-not-documented"]
    documented = _decide(engine, jurisdiction="CA", day=dt.date(2018, 1, 1), item={**COMPOUND, "compound_necessity_documented": True})
    assert documented.decision == "No rule applies"  # the formulary's precondition alone never overturns


@pytest.mark.parametrize("day, decision, reason", [
    (dt.date(2007, 4, 30), "Not covered", "no_edition"),
    (dt.date(2007, 5, 1), "No rule applies", "edition_not_encoded"),
    (dt.date(2012, 12, 31), "No rule applies", "edition_not_encoded"),
    (dt.date(2013, 1, 1), "Overturned", "met"),
    (dt.date(2018, 12, 31), "Overturned", "met"),
    (dt.date(2019, 1, 1), "No rule applies", "edition_not_encoded"),
])
def test_texas_follows_the_odg_edition_only(engine, day, decision, reason):
    # MTUS editions in force on these days do not count in Texas: before ODG (2007-05-01) is "Not
    # covered"; inside Texas's ODG history but outside the encoded ODG edition, "No rule applies"
    item = _decide(engine, jurisdiction="TX", day=day, item=BRACE)
    assert (item.decision, item.reason_code) == (decision, reason)
    if decision == "Overturned":
        assert item.governed_by.startswith("ODG") and _packs(item) == {"odg-low-back-2015-lumbar-supports"}


@pytest.mark.parametrize("item", [PT, BRACE, COMPOUND])
def test_a_request_outside_every_edition_is_not_covered(engine, item):
    decided = _decide(engine, jurisdiction="CA", day=dt.date(1995, 3, 1), item=item)
    assert decided.decision == "Not covered" and decided.governed_by is None and decided.rules == []


@pytest.mark.parametrize("stem, ca, tx", [
    ("307_esi_repeat_after_sixty_percent_relief", "Overturned", "Upheld"),
    ("334_lumbar_support_spondylolisthesis_ca", "Upheld", "Overturned"),
])
def test_texas_and_california_govern_the_same_facts_differently(engine, stem, ca, tx):
    data = case_data(case_path(f"{stem}.yaml"))
    data.pop("expected")
    decided = {}
    for jurisdiction in ("CA", "TX"):
        case = Case.model_validate({**data, "jurisdiction": jurisdiction})
        decided[jurisdiction] = engine.decide(case)
    ca_item, tx_item = decided["CA"].items[0], decided["TX"].items[0]
    assert (ca_item.decision, tx_item.decision) == (ca, tx)
    assert ca_item.governed_by.startswith("MTUS") and tx_item.governed_by.startswith("ODG")
    assert "MTUS" in decided["CA"].profile and "ODG" in decided["TX"].profile
    assert _packs(ca_item) and all(p.startswith("mtus-") for p in _packs(ca_item))
    assert _packs(tx_item) and all(p.startswith("odg-") for p in _packs(tx_item))


def _pack(**changes) -> dict:
    data = {"pack": "probe-scope", "title": "Probe", "guideline": "MTUS", "document": "Probe document", "edition": "1",
            "effective": {"from": dt.date(2020, 1, 1)}, "topic": "any",
            "addresses": [{"applies_to": {"type": ["therapy"]}}], "scope_only": True}
    data.update(changes)
    return data


def test_a_pack_needs_rules_or_an_explicit_scope_only_flag():
    from pydantic import ValidationError

    from engine.model.rules import Pack

    assert Pack.model_validate(_pack()).rules == []
    with pytest.raises(ValidationError, match="scope_only"):
        Pack.model_validate(_pack(scope_only=False))
    rule = {"id": "probe.rule", "title": "t", "silence": "requirement", "section": "s", "pages": "1", "when": "item.type == \"therapy\"",
            "outcome": "not_met", "rationale": {"not_met": "x"}}
    with pytest.raises(ValidationError, match="no rules"):
        Pack.model_validate(_pack(rules=[rule]))


def test_a_topic_any_pack_is_compiled_into_every_ruleset(engine):
    for topic, spec in engine.compiled.rulesets.items():
        assert any(name.startswith("address:mtus-acoem-2017-scope:CA:") for name in spec.definition), topic
        assert not any(name.startswith("address:mtus-acoem-2017-scope:TX:") for name in spec.definition), topic
