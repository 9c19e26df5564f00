"""Golden rationale text for `imr test`: the letter a case produces, kept beside the case.

`cases/golden/<case file name>.txt` holds the text `imr decide` printed when an analyst last
accepted it. A plain `imr test` compares the current text with it (only where a golden file
exists) and shows a unified diff on a mismatch; `imr test --update-golden` rewrites the golden
files that exist, and creates one only for a case file named on the command line (a folder never
creates any: golden text is kept for the few letters an analyst chose, not for the whole corpus).
A rationale edit then shows up as a reviewable diff.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from engine.decide.letter import render_text


def golden_path(case_path: Path) -> Path:
    return case_path.parent / "golden" / f"{case_path.stem}.txt"


def letter(determination) -> str:
    text = render_text(determination)
    return text if text.endswith("\n") else text + "\n"


def compare(case_path: Path, determination) -> list[str] | None:
    """None when there is no golden file or it matches; else the unified diff lines."""
    path = golden_path(case_path)
    if not path.is_file():
        return None
    want, got = path.read_text(encoding="utf-8"), letter(determination)
    if want == got:
        return None
    return list(difflib.unified_diff(want.splitlines(), got.splitlines(), str(path), "current output", lineterm="", n=1))


def update(case_path: Path, determination, create: bool = False) -> str | None:
    """Rewrite the golden file if it exists (or write it when `create`): "rewritten" or "created"
    when the file changed, None when it was current or is not kept."""
    path = golden_path(case_path)
    text = letter(determination)
    exists = path.is_file()
    if (exists and path.read_text(encoding="utf-8") == text) or not (exists or create):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return "rewritten" if exists else "created"
