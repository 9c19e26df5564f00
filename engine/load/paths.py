"""Where the project keeps its rules, cases and schemas: the defaults of every command, wherever
`imr` is run from.

In the checkout (an editable install, `pip install -e .`, or `python -m engine` run there) they are
its top-level folders guideline_rules/, cases/ and schema/. An installed wheel (`pip install .`,
`uv tool install .`, `pipx install .`) carries the rules folder and the schemas as package data
(engine/data/, mapped from the top-level folders in pyproject.toml), found through
importlib.resources; it carries no case corpus. `--rules DIR` overrides the rules either way.
"""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def _shipped(name: str) -> Path | None:
    """A folder the wheel ships under engine/data/, when this engine is an installed wheel."""
    from importlib.resources import files  # start-up cost: only outside a checkout

    try:
        found = files("engine").joinpath("data", name)
    except (ImportError, TypeError, ValueError):
        return None
    return found if isinstance(found, Path) and found.is_dir() else None  # a real folder: files are opened by path


def _folder(name: str, marker: str | None = None) -> Path:
    """The checkout's top-level folder if this engine runs from a checkout, else the wheel's copy."""
    own = PROJECT / name
    if (own / marker if marker else own).is_dir():
        return own
    return _shipped(name) or own


DEFAULT_RULES = _folder("guideline_rules", "packs")
DEFAULT_CASES = PROJECT / "cases"
"""The project's own case corpus (in the checkout only)."""
SCHEMA_DIR = _folder("schema")
