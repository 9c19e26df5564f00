"""Command line: wires the pipeline steps; decides nothing itself.

Exit codes: 0 success; 1 a check failed (validate found problems, a test case mismatched);
2 bad input (one line per problem, `path:line:col: CODE message`); 3 an internal engine fault.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .diagnostics import Diagnostic, InputError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_FAULT = 0, 1, 2, 3


def _engine(rules: str | None):
    from .api import Engine

    return Engine(rules)


def cmd_decide(args) -> int:
    from .cases import load_case
    from .render import render_json, render_text

    case = load_case(args.case)
    engine = _engine(args.rules)
    determination = engine.decide(case)
    text = render_json(determination) if args.format == "json" else render_text(determination)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_validate(args) -> int:
    """Every problem of the rules folders, pack files and case files given, one line each.
    Warnings (W codes: values no rule can match) are shown but do not fail the run."""
    from .validate import validate_paths

    rules, cases, problems = validate_paths(args.paths or ["guideline_rules", "cases"])
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.code.startswith("W")]
    warnings = len(problems) - len(errors)
    print(f"{rules} rules, {cases} case files valid; {len(errors)} problems" + (f", {warnings} warnings" if warnings else ""), file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def cmd_test(args) -> int:
    """Run every case with an `expected:` block; each mismatch with the rules that fired; golden
    rationale text where a golden file exists; counts and the rules that fired in no case."""
    from . import golden
    from .cases import case_files, load_case

    engine = _engine(args.rules)
    files = case_files(args.paths or ["cases"])
    passed = failed = skipped = golden_failed = updated = 0
    fired_rules: set[str] = set()
    for path in files:
        case = load_case(path)
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
            print(f"FAIL {path} [{case.case_id}] item {item.item_id}: expected {want}, got {item.decision} ({item.reason})")
            print(f"     governed by: {item.governed_by or '-'}")
            for r in item.rules:
                mark = "*" if r.rank == item.governing_rank else " "
                subject = f"[{r.subject}]" if r.subject else ""
                print(f"   {mark} {r.rule}{subject}: {r.status.replace('_', ' ')} (tier {r.rank})" + (f"; not documented: {', '.join(r.not_documented)}" if r.not_documented else ""))
            if not item.rules:
                print("     no criterion fired")
        if args.update_golden:
            updated += golden.update(path, determination)
        elif (diff := golden.compare(path, determination)) is not None:
            golden_failed += 1
            print(f"GOLDEN {path}: rationale text differs from {golden.golden_path(path)} (accept with --update-golden)")
            for line in diff:
                print(f"     {line}")
    never = sorted(r.rule.id for r in engine.base.rules if r.rule.id not in fired_rules)
    print(f"{passed} passed, {failed} failed" + (f", {golden_failed} golden texts differ" if golden_failed else "")
          + (f", {updated} golden files written" if updated else "") + (f", {skipped} skipped (no expected:)" if skipped else ""))
    if never:
        print(f"rule coverage: {len(engine.base.rules) - len(never)} of {len(engine.base.rules)} rules fired; "
              f"fired in no case ({len(never)}): {', '.join(never)}")
    else:
        print(f"rule coverage: all {len(engine.base.rules)} rules fired in some case")
    return EXIT_FAILED if failed or golden_failed else EXIT_OK


def cmd_packs(args) -> int:
    from .coverage import corpus_coverage

    engine = _engine(args.rules)
    coverage = corpus_coverage(engine, args.cases or ["cases"])
    print(f"{'pack':46} {'guideline':9} {'edition':8} {'rules':>5} {'cases':>5}  uncovered")
    uncovered_total = 0
    for pack in engine.base.packs:
        covs = coverage.packs().get(pack.pack, [])
        cases = coverage.cases_of(pack.pack)
        missing = [f"{c.rule}({'met' if not c.met else 'not met'})" for c in covs if not c.complete]
        uncovered_total += len(missing)
        print(f"{pack.pack:46} {pack.guideline:9} {pack.edition:8} {len(pack.rules):>5} {len(cases):>5}  {', '.join(missing) or '-'}")
    decided = ", ".join(f"{k}: {v}" for k, v in sorted(coverage.decisions.items()))
    print(f"{len(engine.base.rules)} rules in {len(engine.base.packs)} packs; {coverage.cases} cases, {coverage.items} items ({decided}); "
          f"{uncovered_total} rules lack a met or a not-met case")
    return EXIT_FAILED if uncovered_total else EXIT_OK


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
    from . import soak

    soak.register(sub)
    # [issue-4 commands]
    from . import diff, docs, explain, schema

    explain.register(sub)
    diff.register(sub)
    schema.register(sub)
    docs.register(sub)
    # [issue-5 commands]
    from . import batch, bench, generator

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
    except Exception as exc:  # an engine bug: one line, never a traceback
        from .rete import EngineFault

        kind = "engine fault" if isinstance(exc, EngineFault) else "internal error"
        print(f"imr: {kind}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_FAULT
