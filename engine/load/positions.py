"""Turning pydantic validation errors into positioned one-line diagnostics."""

from __future__ import annotations

from pydantic import ValidationError

from engine.model.diagnostics import Diagnostic, InputError
from engine.load.yaml_source import Source, load_failure, load_file

_TAGS = {"therapy", "medication", "procedure"}
_TYPE_MARKERS = {"bool", "int", "float", "str", "date", "list", "dict", "constrained-int", "constrained-float", "constrained-str"}


def _is_marker(part: str) -> bool:
    return (part in _TAGS or part in _TYPE_MARKERS or "[" in part or part[:1].isupper()
            or part.startswith("literal") or part.startswith("function-"))


def _clean_path(loc: tuple) -> tuple:
    """Drop pydantic's union/tag markers so the path names only real fields and indexes."""
    return tuple(p for p in loc if isinstance(p, int) or not _is_marker(p))


def _field_name(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "(document)"


def _message(errors: list[dict]) -> str:
    types = {e["type"] for e in errors}
    literal = [e for e in errors if e["type"] == "literal_error"]
    if "extra_forbidden" in types:
        return "unknown field"
    if "missing" in types:
        return "required field is missing"
    if literal and "not documented" in literal[0]["msg"]:
        others = types - {"literal_error"}
        if others and all(t.startswith("bool") for t in others):
            return "should be true, false or 'not documented'"
        if others:
            kind = next(iter(sorted(others))).split("_")[0]
            detail = next(e["msg"] for e in errors if e["type"] != "literal_error")
            return f"{detail} (or 'not documented')" if kind else "invalid value"
    return errors[0]["msg"].replace("Value error, ", "")


def validation_diagnostics(exc: ValidationError, source: Source, code: str, root: tuple = ()) -> list[Diagnostic]:
    """One diagnostic per field, positioned at the field in the YAML file."""
    by_path: dict[tuple, list[dict]] = {}
    for error in exc.errors(include_url=False):
        by_path.setdefault(root + _clean_path(error["loc"]), []).append(error)
    out = []
    for path, errors in by_path.items():
        line, col = source.loc(path)
        out.append(Diagnostic(source.path, line, col, code, f"{_field_name(path)}: {_message(errors)}"))
    return out


def load_model(path, model, code: str, problems: list[Diagnostic], source: Source | None = None):
    """Read one YAML file (or its already-read `source`) into `model`: the model and its source, or
    (None, source) with every problem appended to `problems` as a positioned line (`code` for a
    schema error; Y009 for an unexpected failure), so a run over many files goes on past a bad one."""
    try:
        if source is None:
            source = load_file(path)
        return model.model_validate(source.data), source
    except InputError as exc:
        problems.extend(exc.diagnostics)
    except ValidationError as exc:
        problems.extend(validation_diagnostics(exc, source, code))
    except Exception as exc:  # a model check that failed unexpectedly: this file's problem, not the run's
        problems.append(load_failure(path, exc))
    return None, source
