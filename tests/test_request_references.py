"""A condition comparing the request with another fact compiles, whichever side the request is on
(a rule that referred to a missing pattern aborted the C engine), and decides: both facts are
folded into the item fact (durable.encode), so the comparison is a test within that fact (`$m`)."""

import json
import shutil

import pytest

from engine.decide.pipeline import Engine
from engine.load.cases import load_case

from .conftest import ROOT, case_path

TENS = "mtus-cpmtg-2009-tens.yaml"


@pytest.mark.parametrize("condition", ["request.date >= patient.date_of_injury", "patient.date_of_injury <= request.date"])
def test_a_request_reference_on_either_side_compiles_and_decides(tmp_path, condition):
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", root)
    pack = root / "packs" / TENS
    pack.write_text(pack.read_text().replace("require: patient.chronic == true", f"require: {condition}", 1))
    engine = Engine(root)
    rule = next(v for k, v in engine.compiled.rulesets["devices"].definition.items() if k.startswith("criterion:cpmtg.tens.chronic-pain:met"))
    # folded into the item fact (durable.encode): the comparison is a test within it, on both fields
    text = json.dumps(rule["all"])
    assert '"$m"' in text and "request.date" in text and "patient.date_of_injury" in text
    item = engine.decide(load_case(case_path("170_*.yaml"))).items[0]
    assert any(o.rule == "cpmtg.tens.chronic-pain" and o.status == "met" for o in item.rules)
