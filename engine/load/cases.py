"""Reading case files (YAML) and case lines (JSON) into validated Case models, with positions."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from engine.model.case import Case
from engine.model.diagnostics import Diagnostic, InputError
from engine.load.positions import validation_diagnostics
from engine.load.yaml_source import Source, load_failure, load_file

from engine.load.paths import DEFAULT_CASES  # noqa: E402 (the one definition)


def case_from_source(source: Source) -> Case:
    if not isinstance(source.data, dict):
        raise InputError([Diagnostic(source.path, 1, 1, "E001", "a case file is a mapping of fields (case_id, request_date, ...)")])
    try:
        return Case.model_validate(source.data)
    except ValidationError as exc:
        raise InputError(validation_diagnostics(exc, source, "E002")) from None
    except Exception as exc:  # a model check that failed unexpectedly: this file's problem (a folder run goes on)
        raise InputError([load_failure(source.path, exc)]) from None


def load_case(path: str | Path) -> Case:
    return case_from_source(load_file(path))


def case_from_json_line(line: str, label: str) -> Case:
    """One JSON Lines record; `label` names it in diagnostics (path:line)."""
    return parse_json_line(line, label)[0]


def parse_json_line(line: str, label: str) -> tuple[Case, Source]:
    """The Case and the parsed record (for value warnings), from one JSON parse of the line."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError([Diagnostic(label, 1, getattr(exc, "colno", 1), "E003", f"invalid JSON: {getattr(exc, 'msg', exc)}")]) from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise InputError([Diagnostic(label, 1, 1, "E003", f"invalid JSON: {str(exc).splitlines()[0]}")]) from None
    source = Source(path=label, data=data)
    if isinstance(data, dict):
        try:
            return Case.model_validate_json(line), source
        except ValidationError as exc:
            raise InputError(validation_diagnostics(exc, source, "E002")) from None
    return case_from_source(source), source


CASE_SUFFIXES = (".yaml", ".yml")
"""What makes a file in a folder a case file: both YAML spellings (a `.yml` case is never skipped)."""


def case_files(paths: list[str | Path]) -> list[Path]:
    """Expand folders into the case files inside them (`.yaml` and `.yml`), in a stable order; a
    file named on its own is kept whatever its name."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in CASE_SUFFIXES and x.is_file()))
        else:
            out.append(p)
    return out


def missing_path(path: str | Path) -> Diagnostic:
    """The one report of a path that is not there, so every command words it alike."""
    return Diagnostic(str(path), 1, 1, "E000", "no such file or folder")


def empty_folder(path: str | Path, doing: str) -> Diagnostic:
    """The one report of a folder without a case file: nothing to run is never a pass."""
    return Diagnostic(str(path), 1, 1, "E008", f"no case files (*.yaml, *.yml) in this folder: nothing to {doing}")


def shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it (`cases/x.yaml`), else in full."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
