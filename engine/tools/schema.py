"""`imr schema`: JSON Schema of rule packs, jurisdiction profiles and case files, for editors.

Generated from the pydantic models (rule_model.py, case_model.py), never written by hand, so the
schema an editor validates against while typing (yaml-language-server, via the
`# yaml-language-server: $schema=...` line at the top of every rule and case file) is the schema
the engine enforces. The files in schema/ are generated artifacts; a test checks they are current
(`imr schema --write` regenerates them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.load.paths import SCHEMA_DIR  # noqa: F401 (re-exported: tests read it here)
from engine.model.case import Case
from engine.model.rules import Pack, Profile
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _models() -> dict:
    return {"rule-pack": Pack, "profile": Profile, "case": Case}


def schema_of(kind: str) -> dict:
    model = _models()[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": DIALECT, "$id": f"{kind}.schema.json", **schema}
    schema["description"] = " ".join((model.__doc__ or "").split()) or schema.get("title", kind)
    if kind == "rule-pack":
        schema["properties"].pop("$schema", None)  # packs point to the schema with a comment line
        # `silence` is optional in the model only so that its absence is R014 at the rule's line
        # (imr validate); an editor checking a pack against the schema asks for it too
        rule = schema["$defs"]["Rule"]
        rule["required"] = sorted({*rule.get("required", []), "silence"}, key=list(rule["properties"]).index)
    return schema


def render(kind: str) -> str:
    return json.dumps(schema_of(kind), indent=2, ensure_ascii=False) + "\n"


def stale(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Schema files missing from or different in `folder`."""
    out = []
    for kind in _models():
        path = folder / f"{kind}.schema.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(kind):
            out.append(path)
    return out


def write(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in stale(folder):
        kind = path.name.removesuffix(".schema.json")
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    return written
