"""A finding of a pack that did not address the item (its `addresses` entry has a `when` the item
fails) is withdrawn before decisions: it neither decides nor blocks a decision of its tier."""

import json
import shutil

import yaml

from engine.decide.pipeline import Engine
from engine.load.cases import case_from_json_line

from .conftest import ROOT

PACK = """
pack: test-{name}
title: Test pack {name}
guideline: MTUS
document: Test guideline {name}
edition: "2009"
effective: {{from: 2009-07-18, to: 2016-07-28}}
topic: physical_medicine
addresses:
  - applies_to: {{type: [therapy], service: [test_service]}}
{when}
rules:
  - id: test.{name}
    title: Fixed outcome of pack {name}
    silence: requirement
    section: Test section
    pages: "1"
    when: item.visits_requested > 0
    outcome: {outcome}
    rationale:
      {outcome}: Pack {name} decided.
    documentation: [Nothing]
"""


def _engine(tmp_path) -> Engine:
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", root)
    services = yaml.safe_load((root / "vocabulary" / "services.yaml").read_text())
    services["services"]["test_service"] = {"type": "therapy", "topic": "physical_medicine", "title": "Test"}
    (root / "vocabulary" / "services.yaml").write_text(yaml.safe_dump(services))
    (root / "packs" / "test-x.yaml").write_text(PACK.format(name="x", outcome="not_met", when="    when: history.prior == true"))
    (root / "packs" / "test-y.yaml").write_text(PACK.format(name="y", outcome="met", when=""))
    return Engine(root)


def _case(prior: bool):
    return case_from_json_line(json.dumps({
        "case_id": "withdraw", "jurisdiction": "CA", "request_date": "2015-03-02",
        "treatment_history": [{"service": "test_service", "region": "lumbar", "visits_completed": 6 if prior else 0}],
        "requested_items": [{"type": "therapy", "id": "t", "description": "Test therapy", "service": "test_service",
                             "region": "lumbar", "visits": 6}],
    }), "test")


def test_finding_of_a_pack_that_did_not_address_the_item_is_withdrawn(tmp_path):
    engine = _engine(tmp_path)
    item = engine.decide(_case(prior=False)).items[0]
    assert item.decision == "Overturned"
    assert [r.rule for r in item.rules] == ["test.y"]


def test_the_same_finding_decides_where_its_pack_addresses_the_item(tmp_path):
    engine = _engine(tmp_path)
    item = engine.decide(_case(prior=True)).items[0]
    assert item.decision == "Upheld"
    assert {r.rule for r in item.rules} == {"test.x", "test.y"}
