"""Command line: wires the pipeline steps; decides nothing itself.

Exit codes: 0 success; 1 a check failed (validate found problems, a test case mismatched);
2 bad input (one line per problem, `path:line:col: CODE message`); 3 an internal engine fault.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.model.diagnostics import Diagnostic, InputError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_FAULT = 0, 1, 2, 3


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 rule`, `2 rules`: summaries are read by people, and "1 problems" reads as a slip."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def positive_int(text: str) -> int:
    """argparse type for counts: 0 or a negative number is bad input (exit 2), not a crash later."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _engine(rules: str | None):
    from engine.decide.pipeline import Engine

    return Engine(rules)


def cmd_decide(args) -> int:
    """Decides even when a value is unknown to the vocabulary, but says so first (W001 on stderr):
    a misspelt drug or service silently matches no rule."""
    from engine.load.cases import case_from_source
    from engine.decide.letter import render_json, render_text
    from engine.checks.rulebase import value_warnings
    from engine.load.yaml_source import load_file

    source = load_file(args.case)
    case = case_from_source(source)
    engine = _engine(args.rules)
    for warning in value_warnings(source, engine.base.vocabulary):
        print(warning, file=sys.stderr)
    determination = engine.decide(case)
    text = render_json(determination) if args.format == "json" else render_text(determination)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _defaults() -> list[str]:
    """The project's own rules and cases, wherever imr is run from (as `decide --rules` finds them)."""
    from engine.load.cases import DEFAULT_CASES, shown
    from engine.load.rules_folder import DEFAULT_RULES

    return [shown(DEFAULT_RULES), shown(DEFAULT_CASES)]


def cmd_validate(args) -> int:
    """Every problem of the rules folders, pack files and case files given, one line each.
    Warnings (W codes: values no rule can match) are shown but do not fail the run."""
    from engine.checks.rulebase import validate_paths

    rules, cases, problems = validate_paths(args.paths or _defaults())
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.code.startswith("W")]
    warnings = len(problems) - len(errors)
    print(f"{plural(rules, 'rule')}, {plural(cases, 'case file')} valid; {plural(len(errors), 'problem')}"
          + (f", {plural(warnings, 'warning')}" if warnings else ""), file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _print_mismatch(path, case, item) -> None:
    print(f"FAIL {path} [{case.case_id}] item {item.item_id}: expected {case.expected[item.item_id]}, got {item.decision} ({item.reason})")
    print(f"     governed by: {item.governed_by or '-'}")
    for r in item.rules:
        mark = "*" if r.rank == item.governing_rank else " "
        subject = f"[{r.subject}]" if r.subject else ""
        print(f"   {mark} {r.rule}{subject}: {r.status.replace('_', ' ')} (tier {r.rank})" + (f"; not documented: {', '.join(r.not_documented)}" if r.not_documented else ""))
    if not item.rules:
        print("     no criterion fired")


def cmd_test(args) -> int:
    """Run every case with an `expected:` block; each mismatch with the rules that fired; golden
    rationale text where a golden file exists; counts, and for the whole corpus the rules that
    fired in no case. An invalid case file is reported (stderr) and the others still run: exit 2
    if any was invalid, else 1 on a mismatch."""
    from engine.tools import golden
    from engine.load.cases import case_files, load_case, missing_path

    engine = _engine(args.rules)
    paths = [Path(p) for p in args.paths or _defaults()[1:]]
    missing = [missing_path(p) for p in paths if not p.exists()]
    for d in missing:
        print(d, file=sys.stderr)
    named = {p for p in paths if p.is_file()}  # only these may get a new golden file
    bad_files = len(missing)
    passed = failed = skipped = golden_failed = 0
    golden_changes = {"rewritten": 0, "created": 0}
    fired_rules: set[str] = set()
    for path in case_files([p for p in paths if p.exists()]):
        try:
            case = load_case(path)
        except InputError as exc:
            bad_files += 1
            for d in exc.diagnostics:
                print(d, file=sys.stderr)
            continue
        if not case.expected:
            skipped += 1
            continue
        determination = engine.decide(case)
        for item in determination.items:
            fired_rules.update(r.rule for r in item.rules)
            want = case.expected.get(item.item_id)
            if want is None:
                continue
            if want == item.decision:
                passed += 1
                continue
            failed += 1
            _print_mismatch(path, case, item)
        if args.update_golden:
            if change := golden.update(path, determination, create=path in named):
                golden_changes[change] += 1
        elif (diff := golden.compare(path, determination)) is not None:
            golden_failed += 1
            print(f"GOLDEN {path}: rationale text differs from {golden.golden_path(path)} (accept with --update-golden)")
            for line in diff:
                print(f"     {line}")
    print(f"{passed} passed, {failed} failed" + (f", {plural(golden_failed, 'golden text differs', 'golden texts differ')}" if golden_failed else "")
          + (f", {plural(golden_changes['rewritten'], 'golden file')} rewritten, {golden_changes['created']} created" if args.update_golden else "")
          + (f", {skipped} skipped (no expected:)" if skipped else "")
          + (f", {plural(bad_files, 'invalid case file')}" if bad_files else ""))
    total = len(engine.base.rules)
    never = sorted(r.rule.id for r in engine.base.rules if r.rule.id not in fired_rules)
    if args.paths:  # a few cases leave most rules unfired: listing them would be noise
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired")
    elif never:
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired; "
              f"fired in no case ({len(never)}): {', '.join(never)}")
    else:
        print(f"rule coverage: all {plural(total, 'rule')} fired in some case")
    if bad_files:
        return EXIT_INPUT
    return EXIT_FAILED if failed or golden_failed else EXIT_OK


def cmd_packs(args) -> int:
    from engine.tools.coverage import corpus_coverage

    engine = _engine(args.rules)
    coverage = corpus_coverage(engine, args.cases or _defaults()[1:])
    print(f"{'pack':46} {'guideline':9} {'edition':8} {'rules':>5} {'cases':>5}  uncovered")
    uncovered_total = 0
    for pack in engine.base.packs:
        covs = coverage.packs().get(pack.pack, [])
        cases = coverage.cases_of(pack.pack)
        missing = [f"{c.rule}({'met' if not c.met else 'not met'})" for c in covs if not c.complete]
        uncovered_total += len(missing)
        print(f"{pack.pack:46} {pack.guideline:9} {pack.edition:8} {len(pack.rules):>5} {len(cases):>5}  {', '.join(missing) or '-'}")
    decided = ", ".join(f"{k}: {v}" for k, v in sorted(coverage.decisions.items()))
    print(f"{plural(len(engine.base.rules), 'rule')} in {plural(len(engine.base.packs), 'pack')}; {plural(coverage.cases, 'case')}, "
          f"{plural(coverage.items, 'item')} ({decided}); {plural(uncovered_total, 'rule lacks', 'rules lack')} a met or a not-met case")
    return EXIT_FAILED if uncovered_total else EXIT_OK


def cmd_schema(args) -> int:
    """schema.py's command, with a --dir that is not a usable folder reported as bad input."""
    from engine.tools import schema

    folder = Path(args.dir) if args.dir else None
    if folder is not None and (args.write or args.check) and folder.exists() and not folder.is_dir():
        raise InputError([Diagnostic(str(folder), 1, 1, "S002", "not a folder: --dir names the folder of the schema files")])
    try:
        return schema.cmd_schema(args)
    except OSError as exc:  # a parent that is a file, no permission
        raise InputError([Diagnostic(str(exc.filename or folder), 1, 1, "S002", f"cannot write the schema folder: {exc.strerror or exc}")]) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imr", description="Guideline rules engine for workers' compensation utilization review pre-screening.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("decide", help="decide one case file: likely IMR decision per requested item")
    p.add_argument("case", help="case YAML file")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--rules", help="rules folder (default: guideline_rules/ of this project)")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("validate", help="check rule folders and case files; one line per problem")
    p.add_argument("paths", nargs="*", help="rules folders and case files or folders (default: guideline_rules cases)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("test", help="run case files with an `expected:` block against the rules")
    p.add_argument("paths", nargs="*", help="case files or folders (default: cases)")
    p.add_argument("--rules", help="rules folder")
    p.add_argument("--update-golden", action="store_true", help="rewrite golden rationale text (cases/golden/*.txt) instead of comparing it")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("packs", help="list rule packs with rule counts and the cases that exercise each rule")
    p.add_argument("cases", nargs="*", help="case files or folders (default: cases)")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=cmd_packs)

    # Commands living in their own modules register here (one line each).
    from engine.ops import soak

    soak.register(sub)
    # [issue-4 commands]
    from engine.tools import diff
    from engine.tools import docs
    from engine.tools import explain
    from engine.tools import schema

    explain.register(sub)
    diff.register(sub)
    schema.register(sub)
    sub.choices["schema"].set_defaults(func=cmd_schema)
    docs.register(sub)
    # [issue-5 commands]
    from engine.ops import batch
    from engine.ops import bench
    from engine.ops import generator

    batch.register(sub)
    bench.register(sub)
    generator.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("imr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # an output path that cannot be written (a folder, no permission, ...)
        where = exc.filename if exc.filename is not None else "imr"
        print(Diagnostic(str(where), 1, 1, "E000", f"cannot write: {exc.strerror or exc}"), file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # an engine bug: one line, never a traceback
        from engine.durable.session import EngineFault

        kind = "engine fault" if isinstance(exc, EngineFault) else "internal error"
        print(f"imr: {kind}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_FAULT
