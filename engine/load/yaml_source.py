"""Safe YAML loading that remembers where every value came from.

PyYAML's safe composer builds a node tree with line and column marks; we convert it to plain
Python values ourselves so that each value's field path maps to its position in the file. That is
what lets a pydantic error on `rules.3.when` be reported as `packs/x.yaml:41:11`.

The conversion is bounded (size, depth, node count after alias expansion), so hostile files such
as "billion laughs" alias bombs or deep nesting end in a one-line error, not a hang.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.model.diagnostics import Diagnostic, InputError

MAX_BYTES = 5_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000

Loc = tuple[int, int]


@dataclass
class Source:
    """A parsed YAML document: its data and the (line, col) of every field path."""

    path: str
    data: Any
    positions: dict[tuple, Loc] = field(default_factory=dict)
    value_positions: dict[tuple, Loc] = field(default_factory=dict)

    def loc(self, path: tuple) -> Loc:
        """Position of the deepest known prefix of `path` (a missing field points at its parent)."""
        path = tuple(path)
        while path and path not in self.positions:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def value_loc(self, path: tuple) -> Loc:
        """Where the value (not the key) of a field starts: for positions inside a condition."""
        return self.value_positions.get(tuple(path)) or self.loc(path)

    def diagnostic(self, path: tuple, code: str, message: str) -> Diagnostic:
        line, col = self.loc(path)
        return Diagnostic(self.path, line, col, code, message)


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.positions: dict[tuple, Loc] = {}
        self.value_positions: dict[tuple, Loc] = {}
        self.nodes = 0
        self._scalar = yaml.SafeLoader("")  # only its construct_scalar-family methods are used

    def error(self, node: yaml.Node, code: str, message: str) -> InputError:
        mark = node.start_mark
        return InputError([Diagnostic(self.path, mark.line + 1, mark.column + 1, code, message)])

    def build(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(node, "Y003", f"document expands to more than {MAX_NODES} values (alias bomb?)")
        if depth > MAX_DEPTH:
            raise self.error(node, "Y004", f"nesting deeper than {MAX_DEPTH} levels")
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        start = node.start_mark
        if isinstance(node, yaml.ScalarNode) and node.style in ("'", '"'):
            self.value_positions[path] = (start.line + 1, start.column + 2)  # inside the quote
        elif isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            self.value_positions[path] = (start.line + 2, 1)  # block scalar: text starts below
        else:
            self.value_positions[path] = (start.line + 1, start.column + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.error(key_node, "Y005", "mapping keys must be plain scalars")
                key = self._scalar.construct_object(key_node)
                if not isinstance(key, (str, int, bool)) or key is None:
                    raise self.error(key_node, "Y005", f"mapping key {key!r} is not a name")
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    raise self.error(key_node, "Y006", f"duplicate key '{key}'")
                self.positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        try:
            return self._scalar.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.error(node, "Y007", f"bad scalar: {getattr(exc, 'problem', exc)}") from None
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            raise self.error(node, "Y007", f"bad scalar: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    """Diagnostics are one line each; some library messages span several."""
    text = " ".join(str(exc).split("\n")[:1]).strip()
    return text or type(exc).__name__


def parse_text(text: str, path: str) -> Source:
    """Parse one YAML document from text; raises InputError with a single positioned diagnostic."""
    if len(text) > MAX_BYTES:
        raise InputError([Diagnostic(path, 1, 1, "Y001", f"file larger than {MAX_BYTES} bytes")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError([Diagnostic(path, line, col, "Y002", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError (a control character): its text spans lines
        raise InputError([Diagnostic(path, 1, 1, "Y002", f"invalid YAML: {_first_line(exc)}")]) from None
    except RecursionError:
        raise InputError([Diagnostic(path, 1, 1, "Y004", "nesting too deep")]) from None
    if node is None:
        raise InputError([Diagnostic(path, 1, 1, "Y008", "file is empty")])
    builder = _Builder(path)
    try:
        data = builder.build(node, (), 0)
    except RecursionError:
        raise InputError([Diagnostic(path, 1, 1, "Y004", "nesting too deep")]) from None
    return Source(path=path, data=data, positions=builder.positions, value_positions=builder.value_positions)


def load_file(path: str | Path) -> Source:
    """Read and parse a YAML file; unreadable or non-UTF-8 files become diagnostics too."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError([Diagnostic(str(path), 1, 1, "Y000", f"cannot read file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_BYTES:
        raise InputError([Diagnostic(str(path), 1, 1, "Y001", f"file larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Diagnostic(str(path), 1, 1, "Y001", f"not UTF-8 text (byte {exc.start})")]) from None
    if "\x00" in text:
        raise InputError([Diagnostic(str(path), 1, 1, "Y001", "file contains NUL bytes; not a YAML text file")])
    return parse_text(text, str(path))
