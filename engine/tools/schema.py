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

from engine.load.paths import SCHEMA_DIR  # noqa: E402 (the one definition)
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _models() -> dict:
    from engine.model.case import Case
    from engine.model.rules import Pack, Profile

    return {"rule-pack": Pack, "profile": Profile, "case": Case}


def schema_of(kind: str) -> dict:
    model = _models()[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": DIALECT, "$id": f"{kind}.schema.json", **schema}
    schema["description"] = " ".join((model.__doc__ or "").split()) or schema.get("title", kind)
    if kind == "rule-pack":
        schema["properties"].pop("$schema", None)  # packs point to the schema with a comment line
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


def cmd_schema(args) -> int:
    folder = Path(args.dir) if args.dir else SCHEMA_DIR
    if args.write:
        for path in write(folder):
            print(f"wrote {path}")
        return 0
    if args.check:
        old = stale(folder)
        for path in old:
            print(f"{path}:1:1: S001 schema is out of date with the models: run `imr schema --write`")
        return 1 if old else 0
    sys.stdout.write(render(args.kind))
    return 0


def register(sub) -> None:
    p = sub.add_parser("schema", help="JSON Schema of rule packs, profiles and case files (for editors)")
    p.add_argument("kind", nargs="?", choices=sorted(_models()), default="rule-pack", help="which schema to print (default rule-pack)")
    p.add_argument("--write", action="store_true", help="(re)generate every schema file into schema/")
    p.add_argument("--check", action="store_true", help="exit 1 when a schema file in schema/ is out of date")
    p.add_argument("--dir", help="schema folder (default: schema/ of this project)")
    p.set_defaults(func=cmd_schema)
