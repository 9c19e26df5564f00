"""The engine's layout: packages by step, each importing only the steps below it, and no cycles.

Every import is counted, those inside functions too, so a cycle cannot hide behind a lazy import;
an import inside a function must say why on its line (start-up cost), since that is the only
reason to place one there.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"

LAYERS = ["words", "model", "load", "ingest", "language", "facts", "checks", "durable", "decide", "tools", "ops", "service", "cli"]
"""Bottom to top: a package may import its own modules and those of the packages before it."""


def _modules() -> dict[str, Path]:
    out = {}
    for path in ENGINE.rglob("*.py"):
        parts = path.relative_to(ENGINE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path):
    """(line, module imported, inside a function) for every import of an engine module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inner = {id(node) for fn in functions for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "engine":
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}", id(node) in inner
                yield node.lineno, node.module, id(node) in inner
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "engine":
                    yield node.lineno, alias.name, id(node) in inner


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for _, target, _ in _imports(path):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for a, targets in _graph().items():
        for b in targets:
            if _package(a) != _package(b):
                packages.setdefault(_package(a), set()).add(_package(b))
    assert _cycles(packages) == []


def test_each_package_imports_only_the_steps_below_it():
    wrong = []
    for name, targets in _graph().items():
        mine = _package(name)
        if mine not in LAYERS:
            continue
        for target in targets:
            theirs = _package(target)
            if theirs in LAYERS and LAYERS.index(theirs) > LAYERS.index(mine):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_every_module_is_in_a_layer():
    stray = sorted(n for n in _modules() if _package(n) not in LAYERS + ["", "__main__"])
    assert stray == []


def _commented(lines: list[str], line: int) -> bool:
    """The import's line, or an import line above it in the same block, carries a comment."""
    n = line - 1
    while n >= 0 and lines[n].strip().startswith(("from ", "import ")):
        if "#" in lines[n]:
            return True
        n -= 1
    return False


def test_an_import_inside_a_function_says_why():
    silent = []
    for name, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, _, inner in _imports(path):
            if inner and not _commented(lines, line):
                silent.append(f"{path.relative_to(ENGINE.parent)}:{line}: {lines[line - 1].strip()}")
    assert sorted(set(silent)) == []


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
