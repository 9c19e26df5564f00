"""`imr schema`: the committed JSON Schemas are current, and every rule and case file points to one."""

from __future__ import annotations

import json
from pathlib import Path

from engine.cli.main import main
from engine.tools.schema import SCHEMA_DIR, render, stale

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schemas_are_up_to_date():
    assert stale() == [], "schema/ is out of date with the models: run `imr schema --write`"


def test_every_rule_and_case_file_points_to_its_schema():
    for folder, schema in (("guideline_rules/packs", "rule-pack"), ("cases", "case")):
        for path in sorted((ROOT / folder).rglob("*.yaml")):
            first = path.read_text().splitlines()[0]
            assert first.startswith("# yaml-language-server: $schema="), f"{path}: add the schema line (see README)"
            target = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
            assert target == (SCHEMA_DIR / f"{schema}.schema.json").resolve(), path


def test_schemas_describe_the_models():
    pack = json.loads(render("rule-pack"))
    case = json.loads(render("case"))
    assert pack["$schema"].endswith("2020-12/schema") and pack["additionalProperties"] is False
    assert {"pack", "guideline", "effective", "addresses"} <= set(pack["required"])
    assert "Rule" in pack["$defs"] and pack["$defs"]["Rule"]["additionalProperties"] is False
    assert {"case_id", "request_date", "requested_items"} <= set(case["required"])
    tri = case["$defs"]["TreatmentHistory"]["properties"]["functional_improvement"]
    assert {"type": "boolean"} in tri["anyOf"] and {"const": "not documented", "type": "string"} in tri["anyOf"]


def test_cli_print_check_and_write(tmp_path, capsys):
    assert main(["schema", "case"]) == 0
    assert json.loads(capsys.readouterr().out)["$id"] == "case.schema.json"
    assert main(["schema", "--check", "--dir", str(tmp_path)]) == 1
    assert "S001" in capsys.readouterr().out
    assert main(["schema", "--write", "--dir", str(tmp_path)]) == 0
    assert main(["schema", "--check", "--dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.schema.json", "profile.schema.json", "rule-pack.schema.json"]
