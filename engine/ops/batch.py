"""Batch run: a JSON Lines file of cases in, one determination per line out, in input order.

A bad line is reported on standard error as `path:line:col: CODE message` (its line number in the
input) and the rest of the batch still completes; the exit code is then 2. A value unknown to the
vocabulary (a misspelt drug or service) is decided but warned about (W001, with the line number).
`--workers N` decides in N processes (durable-rules is process-global, so parallelism means
processes, not threads); each worker holds its own compiled engine, inherited from the parent by
fork. A progress bar (tqdm) is drawn when standard error is a terminal; a summary line always ends
the run.

Input: a regular file (checked before it is opened: never a FIFO, a device or a folder) or
standard input ('-'); lines are read with a bound, so an oversize line is skipped with one E003,
never read whole. Output (`Output`): never opened over an input (the same file by device and
inode: a hard link, a symbolic link or another spelling of the path, or standard output appended to
it: B001); a file is written to a temporary file beside it and moved into place (os.replace) only
when the batch completes, so an interrupted run or two runs at once never leave a mixed or cut
file. An interrupted batch (Ctrl-C, SIGTERM) keeps the records it wrote, all whole, in
`OUTPUT.partial` and raises `Interrupted`; `--resume` keeps the records of an existing output that
are the decisions of the first input lines (checked line by line: case id, request date and item
ids) and decides the rest, giving the same file as an uninterrupted run.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from engine.checks.cases import diagnosis_warnings, value_warnings
from engine.checks.diagnoses import topic_groups
from engine.durable.session import EngineFault
from engine.load.cases import parse_json_line
from engine.load.files import kind, open_regular, stat_input
from engine.model.diagnostics import Diagnostic, InputError

MAX_LINE_BYTES = 5_000_000  # as for YAML files (yaml_source.MAX_BYTES)
CHUNK = 128  # lines per task sent to a worker: amortises inter-process messaging


@dataclass
class LineResult:
    line: int
    output: str | None = None  # determination JSON
    items: int = 0
    problems: tuple[str, ...] = ()  # diagnostics, one line each
    warnings: tuple[str, ...] = ()  # W-code lines of a decided case (unknown values, diagnoses in no group)
    fault: str | None = None  # an engine fault (exit 3), one line


@dataclass(frozen=True)
class Oversize:
    """An input line longer than MAX_LINE_BYTES, in place of its text: it was skipped, not read."""

    length: int


def _too_long(label: str, line: int, length: int) -> LineResult:
    return LineResult(line, problems=(str(Diagnostic(label, line, 1, "E003", f"line longer than {MAX_LINE_BYTES} bytes ({length} bytes): skipped")),))


def parse_line(text: str, line: int, label: str):
    """(case, source) of one record, or the LineResult that reports it; never raises for bad input."""
    if isinstance(text, Oversize):
        return _too_long(label, line, text.length)
    if len(text) > MAX_LINE_BYTES:
        return _too_long(label, line, len(text))
    try:
        return parse_json_line(text, label)
    except InputError as exc:
        return LineResult(line, problems=_at_line(exc.diagnostics, line))
    except (RecursionError, MemoryError) as exc:  # a pathological record inside pydantic's own parser
        return LineResult(line, problems=(str(Diagnostic(label, line, 1, "E003", f"case too large or deep: {type(exc).__name__}")),))
    except Exception as exc:  # whatever else reading one record raises: that line's problem, the batch goes on
        return LineResult(line, problems=(str(Diagnostic(label, line, 1, "E003", f"cannot read the record: {type(exc).__name__}: {exc}".splitlines()[0])),))


def decide_line(engine, text: str, line: int, label: str) -> LineResult:
    """Validate and decide one JSON Lines record; never raises for bad input."""
    parsed = parse_line(text, line, label)
    if isinstance(parsed, LineResult):
        return parsed
    case, source = parsed
    try:
        determination = engine.decide(case)
    except InputError as exc:  # a rule's text that cannot be rendered for this case (T003): this line's problem
        return LineResult(line, problems=tuple(str(Diagnostic(label, line, 1, d.code, f"{d.message} ({d.path}:{d.line}:{d.col})"))
                                               for d in exc.diagnostics))
    except Exception as exc:  # an engine bug: reported for this line, the batch goes on
        kind = "engine fault" if isinstance(exc, EngineFault) else "internal error"
        return LineResult(line, fault=f"{label}:{line}:1: {kind}: {type(exc).__name__}: {exc}".splitlines()[0])
    vocab = engine.base.vocabulary
    warnings = _at_line(value_warnings(source, vocab) + diagnosis_warnings(source, case, vocab, _topics(engine)), line)
    return LineResult(line, output=_escaped(determination.model_dump_json()), items=len(determination.items), warnings=warnings)


_TOPICS: dict[str, dict] = {}


def _topics(engine) -> dict:
    """The diagnosis groups each topic's rules read (W005), found once per rule base (by its
    digest), not once per line."""
    key = engine.base.digest
    if key not in _TOPICS:
        _TOPICS.clear()
        _TOPICS[key] = topic_groups(engine.base)
    return _TOPICS[key]


# pydantic's JSON escapes C0 controls but writes C1 controls and DEL as they are; in JSON text they
# can only stand inside strings, where \u00XX means the same character: no record carries a raw one
_C1 = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


def _escaped(text: str) -> str:
    return text if text.isascii() and "\x7f" not in text else text.translate(_C1)


def _at_line(diagnostics, line: int) -> tuple[str, ...]:
    """Diagnostics of one record, placed at its line of the input file."""
    return tuple(str(Diagnostic(d.path, line, d.col, d.code, d.message)) for d in diagnostics)


_worker_engine = None  # set in the parent before the pool forks; each worker process has a copy


def _worker_start() -> None:
    """In each worker: Ctrl-C (sent to the whole process group) is the parent's to handle, and
    SIGTERM (the pool's terminate) ends the worker quietly; then the signals blocked while the
    pool forked are let through."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _decide_chunk(chunk: list[tuple[int, str]]) -> list[LineResult]:
    return [decide_line(_worker_engine, text, line, _worker_label) for line, text in chunk]


_worker_label = ""


def _chunks(lines, size: int, first_line: int = 1):
    chunk = []
    for n, text in enumerate(lines, start=first_line):
        if isinstance(text, str) and not text.strip():
            continue  # blank lines are allowed and skipped
        chunk.append((n, text))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decide_lines(engine, lines, label: str, workers: int = 1, first_line: int = 1):
    """Yield a LineResult per non-blank line, in input order, deciding in `workers` processes;
    `first_line` is the line number of the first of `lines` (a resumed batch starts further on)."""
    global _worker_engine, _worker_label
    if workers <= 1:
        for chunk in _chunks(lines, CHUNK, first_line):
            yield from (decide_line(engine, text, line, label) for line, text in chunk)
        return
    _worker_engine, _worker_label = engine, label
    # objects alive now (the compiled engine) move to a permanent generation: the workers' garbage
    # collections then never touch them, so their pages stay shared with the parent after fork
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        # the workers are forked with Ctrl-C and SIGTERM blocked (so neither reaches one before
        # _worker_start has set its handlers); the parent takes them again once they exist
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            pool = context.Pool(workers, initializer=_worker_start)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        with pool:
            for results in pool.imap(_decide_chunk, _chunks(lines, CHUNK, first_line), chunksize=1):
                yield from results
    finally:
        gc.unfreeze()  # the parent collects as usual again


READ = 1 << 20  # bytes per read when skipping an oversize line or counting lines


class Input:
    """The batch's input: a regular file (its kind checked before it is opened) or standard input."""

    def __init__(self, path):
        self.path = path
        self.label = "<stdin>" if str(path) == "-" else str(path)
        if str(path) == "-":
            self.stream, self.regular = sys.stdin.buffer, False
            self.stat = _fstat(sys.stdin)
            return
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise InputError([Diagnostic(self.label, 1, 1, "E000", "no such file")]) from None
        except (OSError, ValueError):
            st = stat_input(path, "E000")  # its one-line report
        if stat.S_ISDIR(st.st_mode):
            raise InputError([Diagnostic(self.label, 1, 1, "E000", "is a directory, not a JSON Lines file")])
        if not stat.S_ISREG(st.st_mode):
            raise InputError([Diagnostic(self.label, 1, 1, "E000", f"is {kind(st.st_mode)}, not a JSON Lines file: give a stream on standard input ('-')")])
        self.stream, self.regular = open_regular(path, "E000"), True
        self.stat = os.fstat(self.stream.fileno())

    def lines(self):
        """Every line (blank ones too), decoded leniently (a bad byte becomes a JSON error on its own
        line instead of aborting the batch), read with a bound: a line past MAX_LINE_BYTES is skipped
        chunk by chunk and given as Oversize."""
        limit = MAX_LINE_BYTES + 2  # room for "\r\n"
        while True:
            raw = self.stream.readline(limit)
            if not raw:
                return
            if len(raw) == limit and not raw.endswith(b"\n"):
                length = len(raw)
                while not raw.endswith(b"\n"):
                    raw = self.stream.readline(READ)
                    if not raw:
                        break
                    length += len(raw)
                yield Oversize(length - (1 if raw.endswith(b"\n") else 0))
                continue
            yield raw.decode("utf-8", errors="replace").rstrip("\r\n")

    def count_lines(self) -> int | None:
        """Lines of a regular input file, for the progress bar (read in chunks: a long line is not held)."""
        if not self.regular:
            return None
        with open(self.path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(READ), b""))

    def close(self) -> None:
        if self.stream is not sys.stdin.buffer:
            self.stream.close()


def _fstat(stream) -> os.stat_result | None:
    try:
        return os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # a stream without a file descriptor (a test's StringIO)
        return None


def _same(a: os.stat_result | None, b: os.stat_result | None) -> bool:
    return a is not None and b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


MAX_RECORD_BYTES = 256_000_000  # a determination of 100 items is a few hundred kB


@dataclass
class Record:
    number: int  # its line in the output file
    text: str
    signature: tuple
    items: int


class Prefix:
    """The complete records at the start of an earlier output, read one at a time; the first record
    that is cut short (a run killed while writing it) or unreadable ends it."""

    def __init__(self, path: Path):
        self.path = path
        self.stream = open_regular(path, "B002")
        self.number = 0
        self._next = self._read()

    def _read(self) -> Record | None:
        raw = self.stream.readline(MAX_RECORD_BYTES)
        if not raw.endswith(b"\n"):
            return None
        try:
            record = json.loads(raw)
            signature = (record["case_id"], record["request_date"], tuple(i["item_id"] for i in record["items"]))
        except (ValueError, KeyError, TypeError):
            return None
        self.number += 1
        return Record(self.number, raw.decode("utf-8").rstrip("\n"), signature, len(record["items"]))

    def peek(self) -> Record | None:
        return self._next

    def take(self) -> Record:
        record, self._next = self._next, self._read()
        return record

    def close(self) -> None:
        self.stream.close()


def signature(case) -> tuple:
    """What a record says of the case it decides: its id, request date and item ids."""
    return (case.case_id, case.request_date.isoformat(), tuple(item.id for item in case.requested_items))


class Output:
    """Where the records go: standard output (`path` None), or a file, written to a temporary file
    beside it and moved into place when the batch completes (a device or a FIFO named as the output
    is written directly). Refuses, before anything is opened, an output that is the input."""

    def __init__(self, path: Path | None, source: Input, resume: bool = False, stdout=None):
        self.path, self.source = path, source
        self.mark = (0, 0)  # bytes and records written whole, updated in one step after each record
        self.prefix: Prefix | None = None
        self.partial: Path | None = None
        self._tmp: str | None = None
        if path is None:
            self.mode, self.file = "stream", stdout or sys.stdout
            if resume:
                raise InputError([Diagnostic("-o", 1, 1, "B002", "--resume continues an output file: name it with -o OUTPUT")])
            if _same(_fstat(self.file), source.stat):
                raise InputError([Diagnostic("<stdout>", 1, 1, "B001",
                                             f"standard output is the input file {source.label}: a batch never writes over its input")])
            return
        label = str(path)
        st = _stat(path)
        if _same(st, source.stat):
            raise InputError([Diagnostic(label, 1, 1, "B001", f"is the input file {source.label}: a batch never writes its output over its input")])
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise InputError([Diagnostic(label, 1, 1, "E000", "cannot write: Is a directory")])
        target = Path(os.path.realpath(path))
        self.partial = target.with_name(target.name + ".partial")
        if _same(_stat(self.partial), source.stat):
            raise InputError([Diagnostic(str(self.partial), 1, 1, "B001", f"is the input file {source.label}: it would be replaced by the output")])
        if resume:
            self.prefix = self._prefix(st, target)
        if st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, a FIFO: no file to replace
            self.mode, self.target = "direct", target
            self.file = self._open(lambda: open(path, "wb"), label)
            return
        self.mode, self.target = "file", target
        fd, self._tmp = self._open(lambda: tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent), label)
        self.file = os.fdopen(fd, "wb")
        self._mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()

    def _prefix(self, st, target: Path) -> Prefix | None:
        """The earlier output to resume from: OUTPUT.partial if there is one, else OUTPUT."""
        for candidate, candidate_stat in ((self.partial, _stat(self.partial)), (target, st)):
            if candidate_stat is None:
                continue
            if not stat.S_ISREG(candidate_stat.st_mode):
                raise InputError([Diagnostic(str(candidate), 1, 1, "B002", f"cannot resume from {kind(candidate_stat.st_mode)}")])
            return Prefix(candidate)
        return None

    @staticmethod
    def _open(opener, label: str):
        try:
            return opener()
        except OSError as exc:
            raise InputError([Diagnostic(label, 1, 1, "E000", f"cannot write: {exc.strerror or exc}")]) from None

    def write(self, record: str) -> None:
        if self.mode == "stream":
            self.file.write(record + "\n")
            self.mark = (0, self.mark[1] + 1)
            return
        data = record.encode("utf-8") + b"\n"
        self.file.write(data)
        self.mark = (self.mark[0] + len(data), self.mark[1] + 1)

    @property
    def records(self) -> int:
        return self.mark[1]

    def commit(self) -> None:
        """The batch is complete: the file takes its place whole (and an earlier .partial goes)."""
        if self.prefix is not None:
            self.prefix.close()
        if self.mode == "stream":
            self.file.flush()
            return
        if self.mode == "direct":
            self.file.close()
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.chmod(self._tmp, self._mode)
        os.replace(self._tmp, self.target)
        self._tmp = None
        if self.partial is not None and self.partial.exists():
            self.partial.unlink()

    def interrupt(self) -> str:
        """The batch was interrupted: the whole records written so far go to OUTPUT.partial (the
        output named is left as it was); returns where they are."""
        if self.prefix is not None:
            self.prefix.close()
        if self.mode == "stream":
            try:
                self.file.flush()
            except OSError:
                pass
            return "standard output"
        if self.mode == "direct":
            self.file.close()
            return str(self.path)
        self.file.flush()
        self.file.truncate(self.mark[0])  # a record cut by the interruption is not kept
        self.file.close()
        if self.records == 0:
            self.discard()
            return str(self.path)
        os.chmod(self._tmp, self._mode)
        os.replace(self._tmp, self.partial)
        self._tmp = None
        return str(self.partial)

    def discard(self) -> None:
        """The batch failed: nothing is left behind."""
        if self.prefix is not None:
            self.prefix.close()
        if self._tmp is not None:
            try:
                self.file.close()
            except OSError:
                pass
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None


def _stat(path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a batch: the counts so far and the signal. Both signals are ignored
    from then on, so that a second one cannot cut the clean-up short: `restore()` when it is done."""

    def __init__(self, counts: dict, signum: int, handlers: dict):
        super().__init__(f"interrupted by signal {signum}")
        self.counts, self.signum, self.handlers = counts, signum, handlers

    def restore(self) -> None:
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)


def _resumed(engine, source: Input, prefix: Prefix, lines, counts: dict):
    """LineResults of the input lines an earlier output already decided: each good line must match
    the next record (its case id, request date and item ids), which is kept as it is; bad lines are
    reported again. Returns, through StopIteration, the line number and text of the first line left
    to decide (None when none is left)."""
    n = 0
    for text in lines:
        n += 1
        if isinstance(text, str) and not text.strip():
            continue
        record = prefix.peek()
        if record is None:
            return n, text
        parsed = parse_line(text, n, source.label)
        if isinstance(parsed, LineResult):
            yield parsed
            continue
        case, case_source = parsed
        if signature(case) != record.signature:
            raise InputError([Diagnostic(str(prefix.path), record.number, 1, "B002",
                                         f"cannot resume: record {record.number} (case '{record.signature[0]}') is not the decision of "
                                         f"input line {n} (case '{case.case_id}'): not an output of {source.label}; remove it or run without --resume")])
        prefix.take()
        counts["resumed"] += 1
        yield LineResult(n, output=record.text, items=record.items,
                         warnings=_at_line(value_warnings(case_source, engine.base.vocabulary), n))
    if prefix.peek() is not None:
        raise InputError([Diagnostic(str(prefix.path), prefix.peek().number, 1, "B002",
                                     f"cannot resume: it holds more records than {source.label} has cases; remove it or run without --resume")])
    return None


def _results(engine, source: Input, output, workers: int, counts: dict):
    lines = source.lines()
    first = 1
    prefix = getattr(output, "prefix", None)
    if prefix is not None:
        pending = yield from _resumed(engine, source, prefix, lines, counts)
        if pending is None:
            return
        first, text = pending
        lines = _chain(text, lines)
    yield from decide_lines(engine, lines, source.label, workers, first_line=first)


def _chain(first, rest):
    yield first
    yield from rest


def run_batch(engine, path, out, workers: int = 1, err=None, progress: bool | None = None) -> dict:
    """Decide every line of `path` (a path, or an Input) and write the records to `out` (an
    Output, or any text stream); the counts. Raises Interrupted on Ctrl-C or SIGTERM, with the
    counts so far (the records written are whole: Output.interrupt keeps them)."""
    err = err or sys.stderr  # looked up per call, not bound at import
    source = path if isinstance(path, Input) else Input(path)
    bar = None
    if progress is None:
        progress = err.isatty()
    counts = {"cases": 0, "items": 0, "bad_lines": 0, "faults": 0, "warnings": 0, "resumed": 0}
    start = time.perf_counter()
    results = _results(engine, source, out, workers, counts)
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=source.count_lines(), unit="case", file=err, dynamic_ncols=True)
        for result in results:
            for warning in result.warnings:
                print(warning, file=err)
            counts["warnings"] += len(result.warnings)
            if result.output is not None:
                out.write(result.output if isinstance(out, Output) else result.output + "\n")
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
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as the command line raises it
        handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second one would cut the clean-up short
            try:
                handlers[sig] = signal.signal(sig, signal.SIG_IGN)
            except ValueError:  # not the main thread
                pass
        results.close()  # ends the worker pool, if any
        raise Interrupted(_timed(counts, start), int(getattr(exc, "signum", signal.SIGINT)), handlers) from None
    finally:
        results.close()
        if bar is not None:
            bar.close()
        if source is not path:
            source.close()
    return _timed(counts, start)


def _timed(counts: dict, start: float) -> dict:
    counts["seconds"] = round(time.perf_counter() - start, 3)
    counts["items_per_s"] = round(counts["items"] / counts["seconds"]) if counts["seconds"] else 0
    return counts
