"""Safe YAML loading that remembers where every value came from.

PyYAML's safe composer builds a node tree with line and column marks; we convert it to plain
Python values ourselves so that each value's field path maps to its position in the file. That is
what lets a pydantic error on `rules.3.when` be reported as `packs/x.yaml:41:11`.

The limits are checked before the work: a file's kind and size before it is read (load/files.py),
its node count and nesting while libyaml's C parser reads its events, before any tree is built (a
file of millions of small values is refused in a fraction of a second), and the node count again
while composing and after alias expansion, so hostile files such as "billion laughs" alias bombs or
deep nesting end in a one-line error, not a hang. Any other failure to load a file is that file's
positioned diagnostic too (Y009), never an exception that would end a run over a folder.

With libyaml (PyYAML's `yaml._yaml`), the node tree is composed by its C composer once the
pre-scan has passed (about 8x faster than the pure-Python reader, the bulk of loading a rules
folder); the nodes carry the same marks, so every position is the same. Without libyaml, the
pure-Python composer is used, counting nodes as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml import events

from engine.load.files import read_bounded
from engine.model.diagnostics import Diagnostic, InputError

try:
    from yaml._yaml import CParser as _CParser  # libyaml: reads events ~20x faster than the Python parser
except ImportError:  # PyYAML built without libyaml: the composer's own count still bounds the work
    _CParser = None

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
        self.at: yaml.Node | None = None  # the node being built (where an unexpected failure is placed)
        self._scalar = yaml.SafeLoader("")  # only its construct_scalar-family methods are used

    def error(self, node: yaml.Node, code: str, message: str) -> InputError:
        mark = node.start_mark
        return InputError([Diagnostic(self.path, mark.line + 1, mark.column + 1, code, message)])

    def build(self, node: yaml.Node, path: tuple, depth: int) -> Any:
        self.at = node
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
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.error(key_node, "Y005", "merge keys (<<) are not supported: write the fields out")
                try:
                    key = self._scalar.construct_object(key_node)
                except yaml.YAMLError as exc:
                    raise self.error(key_node, "Y005", f"mapping key cannot be read: {_first_line(getattr(exc, 'problem', None) or exc)}") from None
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
            construct = _SCALAR_TAGS.get(node.tag)
            if construct is not None:  # a plain scalar type: its constructor, without construct_object's bookkeeping
                return construct(self._scalar, node)
            return self._scalar.construct_object(node, deep=True)  # any other tag: refused in the library's words
        except yaml.YAMLError as exc:
            raise self.error(node, "Y007", f"bad scalar: {getattr(exc, 'problem', exc)}") from None
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            raise self.error(node, "Y007", f"bad scalar: {_first_line(exc)}") from None


_SCALAR_TAGS = {f"tag:yaml.org,2002:{name}": yaml.SafeLoader.yaml_constructors[f"tag:yaml.org,2002:{name}"]
                for name in ("null", "bool", "int", "float", "str", "timestamp")}
"""The safe constructors that return a scalar's value directly (the others, such as a collection tag on
a scalar, go through construct_object, which raises the library's own error)."""


class _Limit(Exception):
    """A limit reached while reading events or composing: where, which code, what."""

    def __init__(self, mark, code: str, message: str):
        super().__init__(message)
        self.mark, self.code, self.message = mark, code, message


_NODE_EVENTS = (events.ScalarEvent, events.AliasEvent)
_OPEN_EVENTS = (events.SequenceStartEvent, events.MappingStartEvent)


def _prescan(text: str) -> None:
    """Count values and nesting as libyaml reads the events, before anything is built: raises
    _Limit at the first value past MAX_NODES or the first collection deeper than MAX_DEPTH. A
    document libyaml cannot read is left to the composer, which reports it in its own words."""
    if _CParser is None:
        return
    parser = _CParser(text)
    nodes = depth = 0
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, events.StreamEndEvent):
                return
            if isinstance(event, _OPEN_EVENTS):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Limit(event.start_mark, "Y004", f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, events.CollectionEndEvent):
                depth -= 1
                continue
            elif not isinstance(event, _NODE_EVENTS):
                continue
            nodes += 1
            if nodes > MAX_NODES:
                raise _Limit(event.start_mark, "Y003", f"document holds more than {MAX_NODES} values: refused before building it")
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" in (exc.problem or ""):  # libyaml's own limit (1,000 levels), met while scanning ahead
            raise _Limit(exc.problem_mark, "Y004", f"nesting deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError:
        return
    finally:
        parser.dispose()


class _CountingLoader(yaml.SafeLoader):
    """The safe composer, counting nodes as it composes them (in case the count above was skipped)."""

    composed = 0

    def compose_node(self, parent, index):
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _Limit(self.peek_event().start_mark, "Y003", f"document holds more than {MAX_NODES} values: refused before building it")
        return super().compose_node(parent, index)


if _CParser is not None:
    class _CLoader(_CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml's parser and composer with the safe resolver (yaml.CSafeLoader's make-up): used only
        once `_prescan` has counted the document's values and nesting, so the C composer's work is bounded."""

        def __init__(self, text: str):
            _CParser.__init__(self, text)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


def _compose(text: str) -> yaml.Node | None:
    _prescan(text)
    loader = _CLoader(text) if _CParser is not None else _CountingLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _first_line(exc: Exception) -> str:
    """Diagnostics are one line each; some library messages span several."""
    text = " ".join(str(exc).split("\n")[:1]).strip()
    return text or type(exc).__name__


def load_failure(path, exc: Exception, line: int = 1, col: int = 1) -> Diagnostic:
    """An unexpected exception while loading one file, as that file's diagnostic (Y009): a run
    over a folder reports it with the other files' problems instead of ending."""
    return Diagnostic(str(path), line, col, "Y009", f"cannot load: {type(exc).__name__}: {_first_line(exc)}")


def parse_text(text: str, path: str) -> Source:
    """Parse one YAML document from text; raises InputError with a single positioned diagnostic."""
    if len(text) > MAX_BYTES:
        raise InputError([Diagnostic(path, 1, 1, "Y001", f"file larger than {MAX_BYTES} bytes")])
    try:
        node = _compose(text)
    except _Limit as exc:
        line, col = (exc.mark.line + 1, exc.mark.column + 1) if exc.mark else (1, 1)
        raise InputError([Diagnostic(path, line, col, exc.code, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError([Diagnostic(path, line, col, "Y002", f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError (a control character): its text spans lines
        raise InputError([Diagnostic(path, 1, 1, "Y002", f"invalid YAML: {_first_line(exc)}")]) from None
    except RecursionError:
        raise InputError([Diagnostic(path, 1, 1, "Y004", "nesting too deep")]) from None
    except Exception as exc:  # anything else the reader or composer raises: this file's problem, not the run's
        raise InputError([load_failure(path, exc)]) from None
    if node is None:
        raise InputError([Diagnostic(path, 1, 1, "Y008", "file is empty")])
    builder = _Builder(path)
    try:
        data = builder.build(node, (), 0)
    except InputError:
        raise
    except RecursionError:
        raise InputError([Diagnostic(path, 1, 1, "Y004", "nesting too deep")]) from None
    except Exception as exc:  # a value the builder did not expect: this file's problem, placed at that value
        mark = builder.at.start_mark if builder.at is not None else None
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise InputError([load_failure(path, exc, line, col)]) from None
    return Source(path=path, data=data, positions=builder.positions, value_positions=builder.value_positions)


def load_file(path: str | Path) -> Source:
    """Read and parse a YAML file; unreadable, special (a FIFO, a device, a folder), oversized or
    non-UTF-8 files become diagnostics too."""
    raw = read_bounded(path, MAX_BYTES, "Y000", "Y001")  # a regular file, its size checked before reading
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Diagnostic(str(path), 1, 1, "Y001", f"not UTF-8 text (byte {exc.start})")]) from None
    if "\x00" in text:
        raise InputError([Diagnostic(str(path), 1, 1, "Y001", "file contains NUL bytes; not a YAML text file")])
    return parse_text(text, str(path))
