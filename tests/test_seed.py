"""The seed determination (../shared/seeds/000_b27565c25da42ea0.txt) comes out of the rules."""

from engine.load.cases import load_case

from .conftest import SEED


def _items(engine):
    return {item.item_id: item for item in engine.decide(load_case(SEED)).items}


def test_all_three_items_upheld(engine):
    items = _items(engine)
    assert {k: v.decision for k, v in items.items()} == {
        "pt-lumbar": "Upheld", "pt-cervical": "Upheld", "compound-topical": "Upheld"}


def test_therapy_rationales_cite_pages_98_99_and_name_the_missing_functional_improvement(engine):
    items = _items(engine)
    for key in ("pt-lumbar", "pt-cervical"):
        item = items[key]
        assert [c.text() for c in item.citations] == [
            "MTUS Chronic Pain Medical Treatment Guidelines (2009), Physical Medicine, pages 98-99"]
        assert "functional improvement from prior therapy" in item.rationale
        assert "not documented" in item.rationale
        assert "home exercise program" in item.rationale
        assert "allow for" in item.rationale  # the guideline allowance
        assert any("Functional improvement" in doc for doc in item.missing_documentation)
        assert item.governed_by.startswith("MTUS")
    assert "8-10 visits" in items["pt-lumbar"].rationale  # radiculopathy group
    assert "9-10 visits" in items["pt-cervical"].rationale  # myalgia group, as in the letter


def test_compound_rationale_names_not_recommended_ingredients_and_the_compound_rule(engine):
    item = _items(engine)["compound-topical"]
    assert [c.text() for c in item.citations] == [
        "MTUS Chronic Pain Medical Treatment Guidelines (2009), Topical Analgesics, pages 111-113"]
    for drug in ("ketoprofen", "gabapentin", "baclofen", "cyclobenzaprine"):
        assert drug in item.rationale
    assert "at least one drug (or drug class) that is not recommended is not recommended" in item.rationale
    fired = {(r.rule, r.status) for r in item.rules}
    assert ("cpmtg.topical.compound-any-not-recommended", "not_met") in fired


def test_postsurgical_guideline_does_not_govern_without_a_surgery_date(engine):
    item = _items(engine)["pt-lumbar"]
    assert "Postsurgical" not in item.governed_by
    assert item.governing_rank == 2
