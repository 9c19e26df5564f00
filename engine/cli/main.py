"""Command line: the parser, the exit codes and the one error boundary; decides nothing itself.

Exit codes: 0 success; 1 a check failed (validate found problems, a test case mismatched);
2 bad input (one line per problem, `path:line:col: CODE message`); 3 an internal engine fault.
Command bodies are in commands.py.

What a command prints on standard output goes through `Printable`, so a control character from a
case or a rule (a terminal escape in a description) is shown escaped, never acted on by the
terminal; diagnostics escape theirs themselves (model/diagnostics.py). SIGTERM ends a command as
Ctrl-C does: one line, exit 128 + the signal's number, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import sys
from pathlib import Path

from engine.cli import commands
from engine.cli.commands import EXIT_FAULT, EXIT_INPUT, EXIT_OK
from engine.model.diagnostics import Diagnostic, InputError
from engine.words import printable


def positive_float(text: str) -> float:
    """argparse type for a budget in seconds: more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type for counts: 0 or a negative number is bad input (exit 2), not a crash later."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


SCHEMA_KINDS = ["case", "profile", "rule-pack"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imr", description="Guideline rules engine for workers' compensation utilization review pre-screening.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("decide", help="decide one case file: likely IMR decision per requested item")
    p.add_argument("case", help="case file: YAML, or JSON read as a batch line (*.json); '-' for standard input")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", help="rules folder (default: guideline_rules/ of this project)")
    p.set_defaults(func=commands.cmd_decide)

    p = sub.add_parser("validate", help="check rule folders and case files; one line per problem")
    p.add_argument("paths", nargs="*", help="rules folders and case files or folders (default: guideline_rules cases)")
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text",
                   help="text lines (default), one JSON document, or SARIF 2.1.0 for CI annotations; the exit code is the same")
    p.set_defaults(func=commands.cmd_validate)

    p = sub.add_parser("test", help="run case files with an `expected:` block against the rules")
    p.add_argument("paths", nargs="*", help="case files or folders (default: cases)")
    p.add_argument("--rules", help="rules folder")
    p.add_argument("--update-golden", action="store_true", help="rewrite golden rationale text (golden/*.txt beside the cases) instead of comparing it")
    p.add_argument("--mutate", action="store_true", help="mutation testing: delete each rule in turn and report every rule whose deletion no case notices")
    p.add_argument("--workers", type=positive_int, default=1, help="with --mutate: decide the mutants in N processes (default 1)")
    p.set_defaults(func=commands.cmd_test)

    p = sub.add_parser("packs", help="list rule packs with rule counts and the cases that exercise each rule")
    p.add_argument("cases", nargs="*", help="case files or folders (default: cases)")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_packs)

    p = sub.add_parser("soak", help="decide many cases in one process and print memory figures")
    p.add_argument("cases", nargs="*", type=Path, help="case files or folders (default: cases/ of this project)")
    p.add_argument("--cases", dest="count", type=positive_int, default=100_000, help="number of decisions (default 100000)")
    p.add_argument("--every", type=positive_int, default=10_000, help="print a progress line every N decisions")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_soak)

    p = sub.add_parser("explain", help="the trace behind a determination: facts, rule conditions, search sequence, what would change it")
    p.add_argument("case", help="case file: YAML, or JSON read as a batch line (*.json); '-' for standard input")
    p.add_argument("--item", action="append", help="only this requested item id (repeatable)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", help="rules folder")
    p.add_argument("--verbose", action="store_true", help="also list the topic's rules outside the item's scope")
    p.add_argument("--max-size", type=int, default=3, choices=[1, 2, 3], help="largest set of facts tried together (default 3)")
    p.add_argument("--no-counterfactuals", action="store_true", help="skip the re-runs that find what documentation would change an Upheld item")
    p.add_argument("--budget-seconds", type=positive_float, default=60.0,
                   help="stop the search for what would change the decisions after this many seconds for the whole case (default 60); the output says so")
    p.add_argument("--budget-runs", type=positive_int, default=2000,
                   help="and after this many engine re-runs for one item (default 2000)")
    p.set_defaults(func=commands.cmd_explain)

    p = sub.add_parser("diff", help="impact of a rule change: cases whose decision or governing rule moves between two rule sets")
    p.add_argument("cases", nargs="*", help="case files or folders (default: the repository's cases/, else this project's)")
    p.add_argument("--base", required=True, help="git revision (e.g. HEAD, main) or rules folder before the change")
    p.add_argument("--head", help="git revision or rules folder after the change (default: the working tree's guideline_rules/)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--repo", help="git repository holding the rules (default: the one around the current directory)")
    p.add_argument("--rules-path", default="guideline_rules", help="rules folder inside the repository (default guideline_rules)")
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when any item moves (for CI)")
    p.set_defaults(func=commands.cmd_diff)

    p = sub.add_parser("schema", help="JSON Schema of rule packs, profiles and case files (for editors)")
    p.add_argument("kind", nargs="?", choices=SCHEMA_KINDS, default="rule-pack", help="which schema to print (default rule-pack)")
    p.add_argument("--write", action="store_true", help="(re)generate every schema file into schema/")
    p.add_argument("--check", action="store_true", help="exit 1 when a schema file in schema/ is out of date")
    p.add_argument("--dir", help="schema folder (default: schema/ of this project)")
    p.set_defaults(func=commands.cmd_schema)

    p = sub.add_parser("docs", help="render the rule packs as readable Markdown (generated from the rules)")
    p.add_argument("--rules", help="rules folder")
    p.add_argument("-o", "--output", help="write to this file instead of standard output (e.g. docs/rules.md)")
    p.set_defaults(func=commands.cmd_docs)

    p = sub.add_parser("vocabulary", help="where each ICD-10-CM code of the treated chapters stands: counts, or the diagnosis-group table")
    p.add_argument("--table", action="store_true", help="the Markdown table per prefix: region and groups per topic, ungrouped prefixes with reasons, counts")
    p.add_argument("--write", action="store_true", help="with --table: (re)write docs/diagnosis-groups.md")
    p.add_argument("-o", "--output", help="with --table: write to this file instead of standard output")
    p.add_argument("--check", action="store_true", help="exit 1 when a treated code is in no group of a topic and not ungrouped, or docs/diagnosis-groups.md is out of date")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_vocabulary)

    p = sub.add_parser("batch", help="decide a JSON Lines file of cases; determinations out as JSON Lines")
    p.add_argument("input", type=Path, help="JSON Lines file, one case per line ('-' for standard input)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")
    p.add_argument("--workers", type=positive_int, default=1, help="decide in N processes (default 1)")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted batch: keep the records of OUTPUT.partial (else OUTPUT) that are the decisions of the first input lines, decide the rest")
    p.add_argument("--rules", help="rules folder")
    p.add_argument("--no-rationale", action="store_true", help="leave out the rationale text (decisions, reasons, citations and documentation lists stay): faster")
    p.set_defaults(func=commands.cmd_batch)

    p = sub.add_parser("bench", help="throughput, latency, memory and overhead over the durable-rules floor")
    p.add_argument("--cases", dest="count", type=positive_int, default=20_000, help="generated cases to time (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--workers", type=positive_int, default=1, help="also time a batch in N processes against 1")
    p.add_argument("--peers", action="store_true",
                   help="also time the same decisions in zen-engine (the `bench` extra) and plain Python, and the "
                        "cost per item with 37, 300 and 2,000 rules in a topic and 1, 3 and 10 items a case")
    p.add_argument("--start", action="store_true",
                   help="instead: start-up in fresh processes (the seed decided with a cold and a warm rules cache, "
                        "validate and test of the project): wall time and peak memory beside the goals")
    p.add_argument("--serve", action="store_true",
                   help="instead: start `imr serve` with --workers (default 2 here) on 127.0.0.1 and time POST /v1/determinations "
                        "of the seed at concurrency 1, 16 and 64 from a second process (--cases requests each; engine/service/bench.py)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_bench)

    p = sub.add_parser("generate", help="write seeded, realistic generated cases as JSON Lines (batch input)")
    p.add_argument("--cases", dest="count", type=positive_int, default=1000, help="number of cases (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same cases")
    p.add_argument("-o", "--output", type=Path, help="output file (default: standard output)")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_generate)

    p = sub.add_parser("serve", help="the HTTP API (and the pre-screen page) on 127.0.0.1; prints a first admin token once")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=positive_int, default=8765, help="port (default 8765)")
    p.add_argument("--workers", type=positive_int, default=1, help="worker processes (default 1; never threads sharing durable-rules)")
    p.add_argument("--db", default="imr-decisions.sqlite3", help="decision log: a SQLite file, or a database URL (postgresql+psycopg://...)")
    p.add_argument("--credentials", default="imr-credentials.json", help="tokens and passwords file (salted hashes only)")
    p.add_argument("--store-cases", action="store_true", help="also store each input case (health information) in the log, for `imr replay`")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_serve)

    p = sub.add_parser("token", help="add an API token (printed once, stored hashed) or a page login")
    p.add_argument("name", help="who the credential is for")
    p.add_argument("--role", choices=["reviewer", "auditor", "admin"], default="reviewer")
    p.add_argument("--password", action="store_true", help="a page login: read a password from standard input instead of making a token")
    p.add_argument("--credentials", default="imr-credentials.json", help="tokens and passwords file")
    p.set_defaults(func=commands.cmd_token)

    p = sub.add_parser("replay", help="re-decide the inputs stored in a decision log and report every decision that differs")
    p.add_argument("--db", default="imr-decisions.sqlite3", help="decision log: a SQLite file or a database URL")
    p.add_argument("--current", action="store_true", help="re-decide with the rules given now (--rules, --layer) instead of the rules each was decided under")
    p.add_argument("--rules", help="rules folder (with --current)")
    p.set_defaults(func=commands.cmd_replay)

    p = sub.add_parser("ingest", help="read an IMR determination letter (.txt, .pdf) into a structured record and a draft case file")
    p.add_argument("letter", help="the letter: text (.txt) or PDF (.pdf)")
    p.add_argument("-o", "--output", help="write the draft case file here (default: print it, unless --format json)")
    p.add_argument("--format", choices=["yaml", "json"], default="yaml",
                   help="yaml: the draft case (default); json: the structured record (items with decision and bases, rationale, summary sentences, facts with their sentences)")
    p.add_argument("--rules", help="rules folder whose vocabulary names services and drugs (default: this project's)")
    p.set_defaults(func=commands.cmd_ingest)

    p = sub.add_parser("agree", help="ingest every letter of a folder, decide each draft case and print the agreement table")
    p.add_argument("folder", help="a folder of letters (*.txt, *.pdf)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=commands.cmd_agree)

    p = sub.add_parser("formulary", help="the MTUS Drug List data: import a published version (CSV or XLSX)")
    fsub = p.add_subparsers(dest="formulary_command", required=True, metavar="ACTION")
    q = fsub.add_parser("import", help="read the published MTUS Drug List (CSV or XLSX, its column layout) into one version file")
    q.add_argument("file", help="the list exported as .csv or .xlsx")
    q.add_argument("--version", required=True, help="the list's version, as the Administrative Director's order names it (v.3)")
    q.add_argument("--effective-from", required=True, type=dt.date.fromisoformat, help="the version's effective date (YYYY-MM-DD)")
    q.add_argument("--effective-to", type=dt.date.fromisoformat, help="its last day in effect, when a later version replaces it")
    q.add_argument("--source", help="where the file was published (address and date); default: the file's name")
    q.add_argument("--partial", action="store_true", help="the file holds part of the list: a drug not in it has no status (not Unlisted)")
    q.add_argument("--rules", help="rules folder whose vocabulary/ receives the version (default: the project's)")
    q.set_defaults(func=commands.cmd_formulary_import)

    p = sub.add_parser("codes", help="every diagnostic code with its one-line meaning")
    p.set_defaults(func=commands.cmd_codes)
    _add_layers(sub)
    return parser


def _add_layers(sub) -> None:
    """`--layer DIR` on every command that reads rules (those with `--rules`, validate and diff)."""
    for name, p in sub.choices.items():
        if name in ("validate", "diff") or any("--rules" in a.option_strings for a in p._actions):
            p.add_argument("--layer", action="append", default=[], metavar="DIR",
                           help="a rules folder of packs (and profiles) layered over the base rules, e.g. licensed "
                                "guideline packs kept outside the project (repeatable; also IMR_RULE_LAYERS)")


class Printable:
    """A text stream that shows control characters escaped (words.printable); newline and tab pass."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def __getattr__(self, name):  # flush, fileno, isatty, buffer, encoding: the stream's own
        return getattr(self.stream, name)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python is when it arrives, as Ctrl-C raises KeyboardInterrupt."""

    signum = signal.SIGTERM


def _on_sigterm(signum, frame):
    raise Terminated()


def signal_number(exc: BaseException) -> int:
    """The signal behind an interruption: SIGTERM for Terminated, else SIGINT (Ctrl-C)."""
    return int(getattr(exc, "signum", signal.SIGINT))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(args, "layer"):  # one place turns --rules, --layer and IMR_RULE_LAYERS into where the rules are
        from engine.load.paths import locate  # start-up cost: only for commands that read rules

        args.rules = locate(getattr(args, "rules", None), args.layer)
    stdout = sys.stdout
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (a test): SIGTERM keeps its handler
        previous = None
    sys.stdout = Printable(stdout)
    try:
        return _run(args)
    finally:
        sys.stdout = stdout
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _is_engine_fault(exc: Exception) -> bool:
    try:
        from engine.durable.session import EngineFault  # only on this path (start-up cost)
    except Exception:  # the engine itself does not import: an internal error, still one line
        return False
    return isinstance(exc, EngineFault)


def _run(args) -> int:
    try:
        return args.func(args)
    except InputError as exc:
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt as exc:
        print("imr: interrupted", file=sys.stderr)
        return 128 + signal_number(exc)
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # an output path that cannot be written (a folder, no permission, ...)
        where = exc.filename if exc.filename is not None else "imr"
        print(Diagnostic(str(where), 1, 1, "E000", f"cannot write: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # an engine bug: one line, never a traceback
        kind = "engine fault" if _is_engine_fault(exc) else "internal error"
        print(printable(f"imr: {kind}: {type(exc).__name__}: {exc}".splitlines()[0], multiline=False), file=sys.stderr)
        return EXIT_FAULT
