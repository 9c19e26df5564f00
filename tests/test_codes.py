"""Every diagnostic code the engine emits is registered with a title, and none is registered unused."""

from __future__ import annotations

import re

from engine.cli.main import main
from engine.model.diagnostics import CODES

from .conftest import ROOT

CODE = re.compile(r"\b([A-Z][0-9]{3})\b")


def _used() -> set[str]:
    used = set()
    for path in (ROOT / "engine").rglob("*.py"):
        if path.name == "diagnostics.py":
            continue
        text = re.sub(r"# noqa.*", "", path.read_text(encoding="utf-8"))
        for m in re.finditer(r"[\"' ]([A-Z][0-9]{3})[\"' ]", text):
            used.add(m.group(1))
    return used


def test_every_code_used_is_registered():
    assert sorted(_used() - set(CODES)) == []


def test_every_registered_code_is_used():
    assert sorted(set(CODES) - _used()) == []


def test_codes_lists_them(capsys):
    assert main(["codes"]) == 0
    out = capsys.readouterr().out
    assert all(code in out for code in CODES)


def test_every_reason_code_has_its_letter_sentence():
    from typing import get_args

    from engine.decide.letter import REASONS
    from engine.model.enums import Reason

    assert set(REASONS) == set(get_args(Reason))
