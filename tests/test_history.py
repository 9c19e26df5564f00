"""Every request date of a jurisdiction's guideline history gets an answer (issue 11, item 1): a
decision, or "No rule applies" naming the edition in force; "Not covered" only outside the history.

The history is the profile's `history:` (guideline_rules/profiles/), so these tests read the
boundary days from the data and decide one request on each, and one on every year in between.
"""

from __future__ import annotations

import datetime as dt

import pytest

from .conftest import decide_probe

ITEMS = {
    "pt": {"type": "therapy", "id": "pt", "description": "Physical therapy 2x3 lumbar", "service": "physical_therapy",
           "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 3},
    "brace": {"type": "procedure", "id": "brace", "description": "Lumbosacral orthosis", "service": "lumbar_support", "region": "lumbar"},
    "acupuncture": {"type": "therapy", "id": "acupuncture", "description": "Acupuncture 2x3 lumbar", "service": "acupuncture",
                    "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 3},
}


def _days(profile) -> list[dt.date]:
    """Boundary days of every period, and one day (1 March) of every year from the start to today."""
    today = dt.date.today()
    start = min(e.effective.from_ for e in profile.history)
    days = {dt.date(y, 3, 1) for y in range(start.year, today.year + 1)} | {today}
    for e in profile.history:
        days.add(e.effective.from_)
        if e.effective.to is not None:
            days |= {e.effective.to, e.effective.to + dt.timedelta(days=1)}
    return sorted(d for d in days if start <= d <= today)


@pytest.mark.parametrize("jurisdiction", ["CA", "TX"])
def test_every_year_and_boundary_of_the_history_gets_an_answer_naming_its_edition(engine, jurisdiction):
    profile = engine.base.profiles[jurisdiction]
    assert profile.history, f"the {jurisdiction} profile has no guideline history"
    days = _days(profile)
    assert len(days) > 20
    for day in days:
        for name, item in ITEMS.items():
            got = decide_probe(engine, jurisdiction=jurisdiction, day=day, item=item)
            assert got.decision != "Not covered", (jurisdiction, day, name, got.reason)
            if got.decision in ("Upheld", "Overturned"):
                assert got.citations and all(c.edition for c in got.citations), (jurisdiction, day, name)
            else:  # the edition in force is named in the reason
                assert f"in force on {day.isoformat()}: " in got.reason, (jurisdiction, day, name, got.reason)
                assert any(e.name in got.reason for e in profile.editions_on(day))


@pytest.mark.parametrize("jurisdiction", ["CA", "TX"])
def test_the_day_before_the_history_is_not_covered_and_says_where_it_starts(engine, jurisdiction):
    profile = engine.base.profiles[jurisdiction]
    start = min(e.effective.from_ for e in profile.history)
    got = decide_probe(engine, jurisdiction=jurisdiction, day=start - dt.timedelta(days=1), item=ITEMS["pt"])
    assert (got.decision, got.reason_code) == ("Not covered", "no_edition")
    assert f"starts {start.isoformat()}" in got.reason


def test_no_rule_applies_says_whether_the_topic_or_the_edition_is_not_encoded(engine):
    # Texas acupuncture: no pack of the topic ranks in Texas at all
    assert decide_probe(engine, jurisdiction="TX", day=dt.date(2015, 3, 10), item=ITEMS["acupuncture"]).reason_code == "topic_not_encoded"
    # Texas lumbar support in 2010: the topic has an ODG pack, not in force then
    assert decide_probe(engine, jurisdiction="TX", day=dt.date(2010, 3, 10), item=ITEMS["brace"]).reason_code == "edition_not_encoded"


def test_a_history_period_is_checked_like_an_effective_span():
    from pydantic import ValidationError

    from engine.model.rules import HistoryEdition

    with pytest.raises(ValidationError):
        HistoryEdition.model_validate({"name": "x", "effective": {"from": dt.date(2010, 1, 1), "to": dt.date(2009, 1, 1)},
                                       "encoded": "no", "source": "s"})
