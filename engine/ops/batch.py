"""Batch run: a JSON Lines file of cases in, one determination per line out, in input order.

A bad line is reported on standard error as `path:line:col: CODE message` (its line number in the
input) and the rest of the batch still completes; the exit code is then 2. A value unknown to the
vocabulary (a misspelt drug or service) is decided but warned about (W001, with the line number).
`--workers N` decides in N processes (durable-rules is process-global, so parallelism means
processes, not threads); each worker holds its own compiled engine, inherited from the parent by
fork. A progress bar (tqdm) is drawn when standard error is a terminal; a summary line always ends
the run.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.model.diagnostics import Diagnostic, InputError

MAX_LINE_BYTES = 5_000_000  # as for YAML files (yaml_source.MAX_BYTES)
CHUNK = 128  # lines per task sent to a worker: amortises inter-process messaging


@dataclass
class LineResult:
    line: int
    output: str | None = None  # determination JSON
    items: int = 0
    problems: tuple[str, ...] = ()  # diagnostics, one line each
    warnings: tuple[str, ...] = ()  # W001 lines of a decided case
    fault: str | None = None  # an engine fault (exit 3), one line


def decide_line(engine, text: str, line: int, label: str) -> LineResult:
    """Validate and decide one JSON Lines record; never raises for bad input."""
    from engine.load.cases import parse_json_line
    from engine.durable.session import EngineFault
    from engine.checks.cases import value_warnings

    if len(text) > MAX_LINE_BYTES:
        return LineResult(line, problems=(str(Diagnostic(label, line, 1, "E003", f"line longer than {MAX_LINE_BYTES} bytes")),))
    try:
        case, source = parse_json_line(text, label)
    except InputError as exc:
        return LineResult(line, problems=_at_line(exc.diagnostics, line))
    except (RecursionError, MemoryError) as exc:  # a pathological record inside pydantic's own parser
        return LineResult(line, problems=(str(Diagnostic(label, line, 1, "E003", f"case too large or deep: {type(exc).__name__}")),))
    try:
        determination = engine.decide(case)
    except Exception as exc:  # an engine bug: reported for this line, the batch goes on
        kind = "engine fault" if isinstance(exc, EngineFault) else "internal error"
        return LineResult(line, fault=f"{label}:{line}:1: {kind}: {type(exc).__name__}: {exc}".splitlines()[0])
    warnings = _at_line(value_warnings(source, engine.base.vocabulary), line)
    return LineResult(line, output=determination.model_dump_json(), items=len(determination.items), warnings=warnings)


def _at_line(diagnostics, line: int) -> tuple[str, ...]:
    """Diagnostics of one record, placed at its line of the input file."""
    return tuple(str(Diagnostic(d.path, line, d.col, d.code, d.message)) for d in diagnostics)


_worker_engine = None  # set in the parent before the pool forks; each worker process has a copy


def _decide_chunk(chunk: list[tuple[int, str]]) -> list[LineResult]:
    return [decide_line(_worker_engine, text, line, _worker_label) for line, text in chunk]


_worker_label = ""


def _chunks(lines, size: int):
    chunk = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue  # blank lines are allowed and skipped
        chunk.append((n, text))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decide_lines(engine, lines, label: str, workers: int = 1):
    """Yield a LineResult per non-blank line, in input order, deciding in `workers` processes."""
    global _worker_engine, _worker_label
    if workers <= 1:
        for chunk in _chunks(lines, CHUNK):
            yield from (decide_line(engine, text, line, label) for line, text in chunk)
        return
    _worker_engine, _worker_label = engine, label
    # objects alive now (the compiled engine) move to a permanent generation: the workers' garbage
    # collections then never touch them, so their pages stay shared with the parent after fork
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            for results in pool.imap(_decide_chunk, _chunks(lines, CHUNK), chunksize=1):
                yield from results
    finally:
        gc.unfreeze()  # the parent collects as usual again


def _read_lines(path: Path):
    """Lines of the input file (or standard input for '-'), decoded leniently: a bad byte becomes a
    JSON error on its own line instead of aborting the batch."""
    stream = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
    try:
        for raw in stream:
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def run_batch(engine, path: Path, out, workers: int = 1, err=None, progress: bool | None = None) -> dict:
    err = err or sys.stderr  # looked up per call, not bound at import
    label = "<stdin>" if str(path) == "-" else str(path)
    if str(path) != "-" and Path(path).is_dir():
        raise InputError([Diagnostic(label, 1, 1, "E000", "is a directory, not a JSON Lines file")])
    if str(path) != "-" and not Path(path).is_file():
        raise InputError([Diagnostic(label, 1, 1, "E000", "no such file")])
    bar = None
    if progress is None:
        progress = err.isatty()
    if progress:
        from tqdm import tqdm

        total = None
        if str(path) != "-":
            with open(path, "rb") as f:
                total = sum(1 for _ in f)
        bar = tqdm(total=total, unit="case", file=err, dynamic_ncols=True)
    start = time.perf_counter()
    counts = {"cases": 0, "items": 0, "bad_lines": 0, "faults": 0, "warnings": 0}
    try:
        for result in decide_lines(engine, _read_lines(path), label, workers):
            for warning in result.warnings:
                print(warning, file=err)
            counts["warnings"] += len(result.warnings)
            if result.output is not None:
                out.write(result.output + "\n")
                counts["cases"] += 1
                counts["items"] += result.items
            elif result.fault:
                counts["faults"] += 1
                print(result.fault, file=err)
            else:
                counts["bad_lines"] += 1
                for problem in result.problems:
                    print(problem, file=err)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    counts["seconds"] = round(time.perf_counter() - start, 3)
    counts["items_per_s"] = round(counts["items"] / counts["seconds"]) if counts["seconds"] else 0
    return counts
