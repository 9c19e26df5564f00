"""A condition comparing the request with another fact keeps the request's pattern in the compiled
rule, whichever side the request is on (a rule that referred to a missing pattern aborted the C
engine). Literal request tests move onto the item fact's copy (facts.mirror)."""

import shutil

import pytest

from engine.decide.pipeline import Engine
from engine.load.cases import load_case

from .conftest import CASES, ROOT

TENS = "mtus-cpmtg-2009-tens.yaml"


@pytest.mark.parametrize("condition", ["request.date >= patient.date_of_injury", "patient.date_of_injury <= request.date"])
def test_a_request_reference_on_either_side_compiles_and_decides(tmp_path, condition):
    root = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", root)
    pack = root / "packs" / TENS
    pack.write_text(pack.read_text().replace("require: patient.chronic == true", f"require: {condition}", 1))
    engine = Engine(root)
    rule = next(v for k, v in engine.compiled.rulesets["devices"].definition.items() if k.startswith("criterion:cpmtg.tens.chronic-pain:met"))
    assert any("request" in pattern for pattern in rule["all"])
    item = engine.decide(load_case(next(CASES.glob("170_*.yaml")))).items[0]
    assert any(o.rule == "cpmtg.tens.chronic-pain" and o.status == "met" for o in item.rules)
