"""Reading case files (YAML or JSON), case lines (JSON Lines) and a case on standard input into
validated Case models, with positions.

A `.json` case file is read exactly as a batch line is (one JSON parse, the same 5 MB bound, the
same JSON-mode validation, so an ISO date string is a date); its diagnostics are positioned at the
line and column of the JSON text. Any other case file is YAML. `-` reads one case from standard
input, as JSON when its first non-blank character opens a JSON object that parses, else as YAML;
its diagnostics name `<stdin>`.
"""

from __future__ import annotations

import json
import re
import sys
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from engine.model.case import Case
from engine.model.codes import resolve as resolve_codes
from engine.model.diagnostics import Diagnostic, InputError
from engine.load.positions import validation_diagnostics
from engine.load.files import read_bounded
from engine.load.yaml_source import MAX_BYTES, Source, load_failure, load_file, parse_text

from engine.load.paths import DEFAULT_CASES  # noqa: E402 (the one definition)


STDIN = "-"
STDIN_LABEL = "<stdin>"


@dataclass
class JsonSource(Source):
    """A parsed JSON document (a `.json` case file, a batch line, JSON on standard input): its text is
    kept, so the case is validated in JSON mode (an ISO date string is a date, as in a batch), and the
    (line, col) of each field is found in it only when a diagnostic needs one (a batch pays nothing)."""

    text: str = ""
    _scanned: bool = False

    def _scan(self) -> None:
        if not self._scanned:
            self._scanned = True
            try:
                _JsonPositions(self.text, self.positions, self.value_positions).value(0, (), 0)
            except (ValueError, IndexError, RecursionError):  # positions are a courtesy: (1, 1) then
                pass

    def loc(self, path: tuple):
        self._scan()
        return super().loc(path)

    def value_loc(self, path: tuple):
        self._scan()
        return super().value_loc(path)


_WS = re.compile(r"[ \t\n\r]*")


class _JsonPositions:
    """Where each key and value of a JSON text (already parsed once) starts, as 1-based (line, col)."""

    def __init__(self, text: str, positions: dict, value_positions: dict):
        self.text, self.positions, self.value_positions = text, positions, value_positions
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.decoder = json.JSONDecoder()

    def at(self, i: int) -> tuple[int, int]:
        line = bisect_right(self.starts, i)
        return line, i - self.starts[line - 1] + 1

    def skip(self, i: int) -> int:
        return _WS.match(self.text, i).end()

    def value(self, i: int, path: tuple, depth: int) -> int:
        text = self.text
        i = self.skip(i)
        if depth > 200:
            raise ValueError("too deep for positions")
        self.positions.setdefault(path, self.at(i))
        line, col = self.at(i)
        self.value_positions[path] = (line, col + 1) if text[i] == '"' else (line, col)
        if text[i] == "{":
            i = self.skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key_at = i
                key, i = json.decoder.scanstring(text, i + 1)
                self.positions[path + (key,)] = self.at(key_at)
                i = self.skip(i) + 1  # the colon
                i = self.skip(self.value(i, path + (key,), depth + 1))
                if text[i] == "}":
                    return i + 1
                i = self.skip(i + 1)  # the comma
        if text[i] == "[":
            i = self.skip(i + 1)
            if text[i] == "]":
                return i + 1
            n = 0
            while True:
                i = self.skip(self.value(i, path + (n,), depth + 1))
                n += 1
                if text[i] == "]":
                    return i + 1
                i = self.skip(i + 1)
        return self.decoder.raw_decode(text, i)[1]


def json_source(text: str, label: str) -> JsonSource:
    """One JSON document (a batch line or a whole `.json` file): a JSON syntax error is one E003 at
    its line and column."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise InputError([Diagnostic(label, line, col, "E003", f"invalid JSON: {getattr(exc, 'msg', exc)}")]) from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise InputError([Diagnostic(label, 1, 1, "E003", f"invalid JSON: {str(exc).splitlines()[0]}")]) from None
    return JsonSource(path=label, data=data, text=text)


def case_from_source(source: Source) -> Case:
    if not isinstance(source.data, dict):
        raise InputError([Diagnostic(source.path, 1, 1, "E001", "a case file is a mapping of fields (case_id, request_date, ...)")])
    try:
        if isinstance(source, JsonSource):
            case = Case.model_validate_json(source.text)  # JSON mode: as a batch line is validated
        else:
            case = Case.model_validate(source.data)
        case, errors, _ = resolve_codes(case)  # diagnosis codes by the request date (model/codes.py)
    except ValidationError as exc:
        raise InputError(validation_diagnostics(exc, source, "E002")) from None
    except Exception as exc:  # a model check that failed unexpectedly: this file's problem (a folder run goes on)
        raise InputError([load_failure(source.path, exc)]) from None
    if errors:
        raise InputError([source.diagnostic(path, code, message) for path, code, message in errors])
    return case


def decoded_text(raw: bytes, label: str) -> str:
    """The text of a case file or of standard input, refused (Y001) when it is not UTF-8 or holds NUL bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Diagnostic(label, 1, 1, "Y001", f"not UTF-8 text (byte {exc.start})")]) from None
    if "\x00" in text:
        raise InputError([Diagnostic(label, 1, 1, "Y001", "input contains NUL bytes; not a text file")])
    return text


def is_json_case(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".json"


def read_stdin(stream=None) -> Source:
    """One case from standard input, read with the file bound (MAX_BYTES; a longer input is Y001,
    refused without reading the rest): JSON when the first non-blank character is `{` and the text
    parses as JSON, else YAML (a YAML flow mapping also starts with `{`); a text that is neither
    gets the JSON error when it looked like JSON, else the YAML one."""
    stream = stream if stream is not None else sys.stdin.buffer
    raw = stream.read(MAX_BYTES + 1)
    if isinstance(raw, str):  # a text stream (a test's StringIO)
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise InputError([Diagnostic(STDIN_LABEL, 1, 1, "Y001", f"standard input larger than {MAX_BYTES} bytes")])
    text = decoded_text(raw, STDIN_LABEL)
    if text.lstrip()[:1] != "{":
        return parse_text(text, STDIN_LABEL)
    try:
        return json_source(text, STDIN_LABEL)
    except InputError as json_error:
        try:
            return parse_text(text, STDIN_LABEL)
        except InputError:
            raise json_error from None


def load_source(path: str | Path) -> Source:
    """A case file parsed (not yet validated): `.json` as JSON, anything else as YAML, `-` from
    standard input. Limits are the same for all three (a regular file of at most 5 MB)."""
    if str(path) == STDIN:
        return read_stdin()
    if is_json_case(path):
        return json_source(decoded_text(read_bounded(path, MAX_BYTES, "Y000", "Y001"), str(path)), str(path))
    return load_file(path)


def source_label(path: str | Path) -> str:
    """How diagnostics name a case path: `<stdin>` for `-`."""
    return STDIN_LABEL if str(path) == STDIN else str(path)


def load_case(path: str | Path) -> Case:
    return case_from_source(load_source(path))


def case_from_json_line(line: str, label: str) -> Case:
    """One JSON Lines record; `label` names it in diagnostics (path:line)."""
    return parse_json_line(line, label)[0]


def parse_json_line(line: str, label: str) -> tuple[Case, Source]:
    """The Case and the parsed record (for value warnings), from one JSON parse of the line: the
    same reading as a `.json` case file's (json_source, case_from_source)."""
    source = json_source(line, label)
    return case_from_source(source), source


CASE_SUFFIXES = (".yaml", ".yml", ".json")
"""What makes a file in a folder a case file: both YAML spellings (a `.yml` case is never skipped) and JSON."""


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
    return Diagnostic(str(path), 1, 1, "E008", f"no case files (*.yaml, *.yml, *.json) in this folder: nothing to {doing}")


def shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it (`cases/x.yaml`), else in full."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
