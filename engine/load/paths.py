"""Where the project keeps its rules, cases and schemas: the defaults of every command, wherever
`imr` is run from.

In the checkout (an editable install, `pip install -e .`, or `python -m engine` run there) they are
its top-level folders guideline_rules/, cases/ and schema/. An installed wheel (`pip install .`,
`uv tool install .`, `pipx install .`) carries the rules folder and the schemas as package data
(engine/data/, mapped from the top-level folders in pyproject.toml), found through
importlib.resources; it carries no case corpus. `--rules DIR` overrides the rules either way.

Rule folders kept outside the project (packs an organisation writes for guidelines it licenses)
are layered over the base: `--layer DIR` (repeatable) and the `IMR_RULE_LAYERS` environment
variable (folders separated by the path separator, ':' on POSIX) each add a folder's `packs/` and
`profiles/` to the base's, so the search sequence chooses among shipped and licensed packs alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


LAYERS_ENV = "IMR_RULE_LAYERS"


@dataclass(frozen=True)
class RulesLocation:
    """Where a rule base is read from: a base rules folder (packs, profiles, vocabulary) and the
    folders layered over it (packs and profiles only), in order."""

    base: Path
    layers: tuple[Path, ...] = ()

    def folders(self) -> tuple[Path, ...]:
        return (self.base, *self.layers)


def locate(rules: "str | Path | RulesLocation | None" = None, layers=()) -> RulesLocation:
    """The one conversion from what a command was given (`--rules`, `--layer`, the environment) to
    a RulesLocation: the environment's layers first, then the command line's."""
    if isinstance(rules, RulesLocation):
        return rules if not layers else RulesLocation(rules.base, (*rules.layers, *map(Path, layers)))
    env = tuple(Path(p) for p in os.environ.get(LAYERS_ENV, "").split(os.pathsep) if p)
    return RulesLocation(Path(rules) if rules is not None else DEFAULT_RULES, (*env, *map(Path, layers or ())))
