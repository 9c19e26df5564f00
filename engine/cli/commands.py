"""The body of each `imr` command: read the inputs, call the step or tool that does the work,
print what it returned. Nothing here decides; nothing below engine/cli imports this package.

Each command imports the modules it needs inside its body, on purpose (start-up cost): `imr --help`,
`imr schema` or `imr docs` should not load durable-rules' C engine, the condition grammar or the
ICD-10-CM code set that `imr decide` needs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from engine.model.diagnostics import Diagnostic, InputError
from engine.words import plural

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_FAULT = 0, 1, 2, 3


def _engine(rules: str | None):
    from engine.decide.pipeline import Engine  # start-up cost

    return Engine(rules)


def _defaults() -> list[str]:
    """The project's own rules and cases, wherever imr is run from (as `decide --rules` finds them)."""
    from engine.load.cases import shown
    from engine.load.paths import DEFAULT_CASES, DEFAULT_RULES

    return [shown(DEFAULT_RULES), shown(DEFAULT_CASES)]


def cmd_decide(args) -> int:
    """Decides even when a value is unknown to the vocabulary, but says so first (W001 on stderr):
    a misspelt drug or service silently matches no rule."""
    from engine.checks.cases import value_warnings  # start-up cost
    from engine.decide.letter import render_json, render_text
    from engine.load.cases import case_from_source
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


def cmd_validate(args) -> int:
    """Every problem of the rules folders, pack files and case files given, one line each.
    Warnings (W codes: values no rule can match) are shown but do not fail the run."""
    from engine.tools.validate import validate_paths  # start-up cost

    rules, cases, problems = validate_paths(args.paths or _defaults())
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.code.startswith("W")]
    warnings = len(problems) - len(errors)
    print(f"{plural(rules, 'rule')}, {plural(cases, 'case file')} valid; {plural(len(errors), 'problem')}"
          + (f", {plural(warnings, 'warning')}" if warnings else ""), file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _print_mismatch(m) -> None:
    case, item = m.case, m.item
    print(f"FAIL {m.path} [{case.case_id}] item {item.item_id}: expected {m.expected}, got {item.decision} ({item.reason})")
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
    from engine.tools.casetest import run_cases  # start-up cost

    engine = _engine(args.rules)
    run = run_cases(engine, [Path(p) for p in args.paths or _defaults()[1:]], update_golden=args.update_golden)
    for d in run.invalid:
        print(d, file=sys.stderr)
    for m in run.mismatches:
        _print_mismatch(m)
    for g in run.golden_diffs:
        print(f"GOLDEN {g.path}: rationale text differs from {g.golden} (accept with --update-golden)")
        for line in g.lines:
            print(f"     {line}")
    changes = run.golden_changes
    print(f"{run.passed} passed, {run.failed} failed"
          + (f", {plural(len(run.golden_diffs), 'golden text differs', 'golden texts differ')}" if run.golden_diffs else "")
          + (f", {plural(changes['rewritten'], 'golden file')} rewritten, {changes['created']} created" if args.update_golden else "")
          + (f", {run.skipped} skipped (no expected:)" if run.skipped else "")
          + (f", {plural(run.invalid_files, 'invalid case file')}" if run.invalid_files else ""))
    total, never = len(run.rules), run.never_fired
    if args.paths:  # a few cases leave most rules unfired: listing them would be noise
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired")
    elif never:
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired; "
              f"fired in no case ({len(never)}): {', '.join(never)}")
    else:
        print(f"rule coverage: all {plural(total, 'rule')} fired in some case")
    if run.invalid_files:
        return EXIT_INPUT
    return EXIT_FAILED if run.failed or run.golden_diffs else EXIT_OK


def cmd_packs(args) -> int:
    from engine.tools.coverage import corpus_coverage  # start-up cost

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
    """Print, write or check the generated JSON Schemas; a --dir that is not a usable folder is bad input."""
    from engine.load.paths import SCHEMA_DIR
    from engine.tools import schema

    folder = Path(args.dir) if args.dir else SCHEMA_DIR
    if (args.write or args.check) and folder.exists() and not folder.is_dir():
        raise InputError([Diagnostic(str(folder), 1, 1, "S002", "not a folder: --dir names the folder of the schema files")])
    if args.write:
        try:
            written = schema.write(folder)
        except OSError as exc:  # a parent that is a file, no permission
            raise InputError([Diagnostic(str(exc.filename or folder), 1, 1, "S002", f"cannot write the schema folder: {exc.strerror or exc}")]) from None
        for path in written:
            print(f"wrote {path}")
        return EXIT_OK
    if args.check:
        old = schema.stale(folder)
        for path in old:
            print(f"{path}:1:1: S001 schema is out of date with the models: run `imr schema --write`")
        return EXIT_FAILED if old else EXIT_OK
    sys.stdout.write(schema.render(args.kind))
    return EXIT_OK


def cmd_explain(args) -> int:
    from engine.load.cases import load_case  # start-up cost
    from engine.tools.explain import explain_case, render_text

    case = load_case(args.case)
    known = [item.id for item in case.requested_items]
    unknown = [i for i in args.item or [] if i not in known]
    if unknown:  # else the trace would be silently empty
        raise InputError([Diagnostic(args.case, 1, 1, "E005", f"unknown item '{i}' (items: {', '.join(known)})") for i in unknown])
    engine = _engine(args.rules)
    items = explain_case(engine, case, counterfactuals=not args.no_counterfactuals, max_size=args.max_size)
    if args.item:
        items = [i for i in items if i.item_id in args.item]
    if args.format == "json":
        sys.stdout.write(json.dumps([asdict(i) for i in items], indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_text(case, items, verbose=args.verbose))
    return EXIT_OK


def cmd_diff(args) -> int:
    import tempfile  # start-up cost

    from engine.decide.pipeline import Engine
    from engine.load.paths import DEFAULT_CASES
    from engine.tools.diff import impact, render_json, render_text, repository, rules_folder

    repo = repository(args.repo)
    with tempfile.TemporaryDirectory(prefix="imr-diff-") as scratch:
        base_dir = rules_folder(args.base, repo, args.rules_path, Path(scratch))
        head_dir = rules_folder(args.head, repo, args.rules_path, Path(scratch))
        base_engine, head_engine = Engine(base_dir), Engine(head_dir)
        result = impact(base_engine, head_engine, args.cases or [repo / "cases" if (repo / "cases").is_dir() else DEFAULT_CASES],
                        args.base, args.head or "working tree")
    sys.stdout.write(render_json(result) if args.format == "json" else render_text(result))
    return EXIT_FAILED if (args.fail_on_change and result.changes) else EXIT_OK


def cmd_docs(args) -> int:
    from engine.checks.rulebase import load_rule_base  # start-up cost
    from engine.tools.docs import render

    text = render(load_rule_base(args.rules))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_batch(args) -> int:
    from engine.ops.batch import run_batch  # start-up cost

    engine = _engine(args.rules)
    try:
        out = open(args.output, "w") if args.output else sys.stdout
    except OSError as exc:
        raise InputError([Diagnostic(str(args.output), 1, 1, "E000", f"cannot write the output file: {exc.strerror or exc}")]) from None
    try:
        counts = run_batch(engine, args.input, out, workers=args.workers, progress=False if args.no_progress else None)
    finally:
        if args.output:
            out.close()
    print(f"batch: {plural(counts['cases'], 'case')} decided ({plural(counts['items'], 'item')}), {plural(counts['bad_lines'], 'bad line')}, "
          + (f"{plural(counts['warnings'], 'warning')}, " if counts["warnings"] else "")
          + f"{plural(counts['faults'], 'engine fault')}, {counts['seconds']} s, {counts['items_per_s']} items/s, workers {args.workers}", file=sys.stderr)
    if counts["faults"]:
        return EXIT_FAULT
    return EXIT_INPUT if counts["bad_lines"] else EXIT_OK


def cmd_bench(args) -> int:
    from engine.ops.bench import bench  # start-up cost

    figures = bench(_engine(args.rules), args.count, args.seed, args.workers)
    if args.format == "json":
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}  {value}")
    return EXIT_OK


def cmd_soak(args) -> int:
    """Exit 1 when memory grew by more than 50 MB after warm-up (judged only past decision 1,000)."""
    from engine.load.cases import case_files, load_case  # start-up cost
    from engine.load.paths import DEFAULT_CASES
    from engine.ops.soak import soak

    engine = _engine(args.rules)
    folders = args.cases or [DEFAULT_CASES]
    paths = case_files(folders)
    if not paths:  # nothing to cycle through
        raise InputError([Diagnostic(str(p), 1, 1, "E000", "no case files in this folder") for p in folders])
    cases = [load_case(p) for p in paths]
    figures = soak(engine, cases, args.count, args.every, out=sys.stdout)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
    if args.count < 1000:
        print(f"soak: {plural(args.count, 'decision')}: too few to judge memory growth (it is measured from decision 1,000)", file=sys.stderr)
        return EXIT_OK
    grew = figures["rss_end_mb"] - figures["rss_after_1000_mb"]
    return EXIT_FAILED if grew > 50 else EXIT_OK


def cmd_generate(args) -> int:
    from engine.checks.rulebase import load_rule_base  # start-up cost
    from engine.ops.generator import generate_lines

    vocab = load_rule_base(args.rules).vocabulary
    out = open(args.output, "w") if args.output else sys.stdout
    try:
        for line in generate_lines(vocab, args.count, args.seed):
            out.write(line + "\n")
    finally:
        if args.output:
            out.close()
    return EXIT_OK
