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


def _is_rules_folder(path: Path) -> bool:
    return path.is_dir() and (path / "packs").is_dir()


def cmd_validate(args) -> int:
    from .cases import case_files, load_case
    from .validate import load_rule_base

    paths = [Path(p) for p in (args.paths or ["guideline_rules", "cases"])]
    problems: list[Diagnostic] = []
    checked_rules = checked_cases = 0
    case_paths = []
    for path in paths:
        if not path.exists():
            problems.append(Diagnostic(str(path), 1, 1, "E000", "no such file or folder"))
        elif _is_rules_folder(path):
            try:
                base = load_rule_base(path)
                from .compiler import compile_rules

                compile_rules(base)
                checked_rules += len(base.rules)
            except InputError as exc:
                problems.extend(exc.diagnostics)
        else:
            case_paths.extend(case_files([path]))
    for path in case_paths:
        try:
            load_case(path)
            checked_cases += 1
        except InputError as exc:
            problems.extend(exc.diagnostics)
    for problem in sorted(set(problems)):
        print(problem)
    summary = f"{checked_rules} rules, {checked_cases} case files valid; {len(set(problems))} problems"
    print(summary, file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def cmd_test(args) -> int:
    from .cases import case_files, load_case

    engine = _engine(args.rules)
    files = case_files(args.paths or ["cases"])
    passed = failed = skipped = 0
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
            else:
                failed += 1
                rules = ", ".join(f"{r.rule}={r.status}" for r in item.rules if r.rank == item.governing_rank) or "none"
                print(f"FAIL {path}: {item.item_id}: expected {want}, got {item.decision} ({item.reason}); rules: {rules}")
    never = sorted(r.rule.id for r in engine.base.rules if r.rule.id not in fired_rules)
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    if never:
        print(f"rules that fired in no case ({len(never)}): {', '.join(never)}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_packs(args) -> int:
    from .coverage import corpus_coverage

    engine = _engine(args.rules)
    coverage = corpus_coverage(engine, args.cases or ["cases"])
    print(f"{'pack':46} {'guideline':9} {'edition':8} {'rules':>5} {'cases':>5}  uncovered")
    uncovered_total = 0
    for pack in engine.base.packs:
        covs = coverage.packs().get(pack.pack, [])
        cases = set().union(*[c.met | c.not_met for c in covs]) if covs else set()
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
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("packs", help="list rule packs with rule counts and the cases that exercise each rule")
    p.add_argument("cases", nargs="*", help="case files or folders (default: cases)")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=cmd_packs)

    # Commands living in their own modules register here (one line each).
    from . import soak

    soak.register(sub)
    # [issue-4 commands]
    # [issue-5 commands]
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
