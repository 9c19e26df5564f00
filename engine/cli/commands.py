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

from engine.model.diagnostics import CODES, Diagnostic, InputError
from engine.words import plural, printable

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_FAULT = 0, 1, 2, 3


def _engine(rules: str | None):
    from engine.decide.pipeline import Engine  # start-up cost

    return Engine(rules)


def _defaults() -> list[str]:
    """The project's own rules and cases, wherever imr is run from (as `decide --rules` finds them)."""
    from engine.load.cases import shown  # start-up cost (as in every command)
    from engine.load.paths import DEFAULT_CASES, DEFAULT_RULES

    return [shown(DEFAULT_RULES), shown(DEFAULT_CASES)]


def cmd_decide(args) -> int:
    """Decides even when a value is unknown to the vocabulary, but says so first (W001 on stderr):
    a misspelt drug or service silently matches no rule; so are diagnoses in no group of an item's
    topic (W005) and current medications the drug vocabulary does not know (W006)."""
    from engine.checks.cases import crosswalk_problems, diagnosis_warnings, value_warnings  # start-up cost
    from engine.checks.diagnoses import topic_groups
    from engine.decide.letter import render_json, render_text
    from engine.load.cases import case_from_source, load_source

    source = load_source(args.case)  # a .json file as a batch line, `-` from standard input, else YAML
    case = case_from_source(source)
    engine = _engine(args.rules)
    vocab = engine.base.vocabulary
    if problems := crosswalk_problems(source, case, vocab):  # a code that names no key, or another key: bad input
        raise InputError(problems)
    for warning in value_warnings(source, vocab) + diagnosis_warnings(source, case, vocab, lambda: topic_groups(engine.base)):
        print(warning, file=sys.stderr)
    determination = engine.decide(case)
    text = render_json(determination) if args.format == "json" else render_text(determination)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_validate(args) -> int:
    """Every problem of the rules folders, pack files and case files given, one line each (or, with
    --format json or sarif, one document: engine/tools/report.py). Warnings (W codes: values no rule
    can match) are shown but do not fail the run; the exit code is the same in every format."""
    from engine.tools.validate import validate_paths  # start-up cost

    rules, cases, problems = validate_paths(args.paths or _defaults(), getattr(args, "rules", None))
    fmt = getattr(args, "format", "text")
    if fmt in ("json", "sarif"):  # one document on standard output; the summary line stays on stderr
        from engine.tools.report import render_json, render_sarif  # start-up cost: only for these formats

        sys.stdout.write((render_json if fmt == "json" else render_sarif)(rules, cases, problems))
    else:
        for problem in problems:
            print(problem)
    errors = [p for p in problems if not p.code.startswith("W")]
    warnings = len(problems) - len(errors)
    print(f"{plural(rules, 'rule')}, {plural(cases, 'case file')} valid; {plural(len(errors), 'problem')}"
          + (f", {plural(warnings, 'warning')}" if warnings else ""), file=sys.stderr)
    return EXIT_FAILED if errors else EXIT_OK


def _print_mismatch(m) -> None:
    """The decision mismatch with the rules that fired, then one line per failed rule expectation."""
    case, item = m.case, m.item
    head = f"FAIL {m.path} [{case.case_id}] item {item.item_id}"
    if m.decision_differs:
        _print_decision_mismatch(m, head)
    for r in m.rules:
        print(f"{head}: {r.text()}")


def _print_decision_mismatch(m, head: str) -> None:
    item = m.item
    print(f"{head}: expected {m.expected}, got {item.decision} ({item.reason})")
    print(f"     governed by: {item.governed_by or '-'}")
    for r in item.rules:
        mark = "*" if r.rank == item.governing_rank else " "
        subject = f"[{r.subject}]" if r.subject else ""
        print(f"   {mark} {r.rule}{subject}: {r.status.replace('_', ' ')} (tier {r.rank})" + (f"; not documented: {', '.join(r.not_documented)}" if r.not_documented else ""))
    if not item.rules:
        print("     no criterion fired")


def cmd_test(args) -> int:
    """Run every case with an `expected:` block; each mismatch with the rules that fired, and each
    failed rule expectation naming its rule; golden rationale text where a golden file exists;
    counts, and for the whole corpus the rules that fired in no case; the agreement table of the
    cases written from real decisions, where a disagreement the case does not explain (or an
    explanation that is stale) fails like a mismatch. An invalid case file is
    reported (stderr) and the others still run: exit 2 if any was invalid, else 1 on a mismatch.
    With --mutate: the mutation run instead (cmd_mutate)."""
    if args.mutate:
        return cmd_mutate(args)
    from engine.tools.casetest import run_cases  # start-up cost

    engine = _engine(args.rules)
    run = run_cases(engine, [Path(p) for p in args.paths or _defaults()[1:]], update_golden=args.update_golden)
    for d in run.invalid:
        print(d, file=sys.stderr)
    if not run.files:  # no case file anywhere: the lines above say why; a summary of nothing would read as a pass
        return EXIT_INPUT
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
          + (f", {plural(run.invalid_files, 'invalid case file')}" if run.invalid_files else "")
          + (f", {plural(run.empty_folders, 'folder')} without case files" if run.empty_folders else "")
          + f"; {plural(run.rule_checks, 'rule expectation')} checked" + (f" ({run.rule_failed} failed)" if run.rule_failed else ""))
    if run.agreement.rows:
        print(run.agreement.text())
    agreement_problems = run.agreement.problems()
    for line in agreement_problems:
        print(f"UNEXPLAINED {line}")
    total, never = len(run.rules), run.never_fired
    if args.paths:  # a few cases leave most rules unfired: listing them would be noise
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired")
    elif never:
        print(f"rule coverage: {total - len(never)} of {plural(total, 'rule')} fired; "
              f"fired in no case ({len(never)}): {', '.join(never)}")
    else:
        print(f"rule coverage: all {plural(total, 'rule')} fired in some case")
    if run.invalid_files or run.empty_folders:
        return EXIT_INPUT
    return EXIT_FAILED if run.failed or run.golden_diffs or agreement_problems else EXIT_OK


def cmd_mutate(args) -> int:
    """`imr test --mutate`: delete each rule in turn; one line per rule whose deletion no case
    notices, then the summary. Given PATHS, only the rules those cases exercise are deleted.
    Exit 1 when any survived, 2 when a case file is invalid."""
    from engine.tools.mutate import run_mutation, summary  # start-up cost

    engine = _engine(args.rules)
    run = run_mutation(engine, [Path(p) for p in args.paths or _defaults()[1:]], workers=args.workers,
                       exercised_only=bool(args.paths))
    for d in run.invalid:
        print(d, file=sys.stderr)
    if run.baseline_failures:
        print(f"imr test --mutate: {plural(run.baseline_failures, 'expectation')} already fail with the full rule base (see `imr test`)", file=sys.stderr)
    for s in run.survivors:
        print(f"SURVIVED {s.rule} ({s.pack}): deleting it fails no expectation of the {plural(s.cases, 'case')} decided without it")
    print(summary(run))
    if run.invalid:
        return EXIT_INPUT
    return EXIT_FAILED if run.survivors else EXIT_OK


def _case_list(label: str, paths) -> list[str]:
    """`label: a, b, c` wrapped under a rule's line: the case files by name."""
    import textwrap  # only imr packs wraps text

    return textwrap.wrap(f"{label}: " + ", ".join(Path(p).stem for p in paths), width=110,
                         initial_indent=" " * 6, subsequent_indent=" " * 8, break_on_hyphens=False)


def cmd_packs(args) -> int:
    """The packs with their rule and case counts; per rule its met / not-met coverage and the case
    files whose expectations name it. Exit 1 when a rule lacks a met or a not-met case, or is
    named by no case."""
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
        for c in covs:
            print(f"    {c.rule}: met in {len(c.met)}, not met in {plural(len(c.not_met), 'case')}"
                  + ("" if c.named else "; named by no case"))
            if c.governing_in:
                print("\n".join(_case_list("governing", c.governing_in)))
            if c.silent_in:
                print("\n".join(_case_list("not fired", c.silent_in)))
    decided = ", ".join(f"{k}: {v}" for k, v in sorted(coverage.decisions.items()))
    unnamed = coverage.unnamed
    print(f"{plural(len(engine.base.rules), 'rule')} in {plural(len(engine.base.packs), 'pack')}; {plural(coverage.cases, 'case')}, "
          f"{plural(coverage.items, 'item')} ({decided}); {plural(uncovered_total, 'rule lacks', 'rules lack')} a met or a not-met case; "
          f"{plural(len(unnamed), 'rule')} named by no case's expectation" + (f": {', '.join(unnamed)}" if unnamed else ""))
    return EXIT_FAILED if uncovered_total or unnamed else EXIT_OK


def cmd_schema(args) -> int:
    """Print, write or check the generated JSON Schemas; a --dir that is not a usable folder is bad input."""
    from engine.load.paths import SCHEMA_DIR  # start-up cost
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
    from engine.load.cases import load_case, source_label  # start-up cost
    from engine.tools.explain import explain_case, render_text

    case = load_case(args.case)  # a .json file as a batch line, `-` from standard input, else YAML
    known = [item.id for item in case.requested_items]
    unknown = [i for i in args.item or [] if i not in known]
    if unknown:  # else the trace would be silently empty
        raise InputError([Diagnostic(source_label(args.case), 1, 1, "E005", f"unknown item '{i}' (items: {', '.join(known)})") for i in unknown])
    engine = _engine(args.rules)
    progress = _Progress(sys.stderr) if sys.stderr.isatty() and not args.no_counterfactuals else None
    try:
        items = explain_case(engine, case, counterfactuals=not args.no_counterfactuals, max_size=args.max_size,
                             budget_seconds=args.budget_seconds, budget_runs=args.budget_runs, progress=progress, only=args.item)
    finally:
        if progress is not None:
            progress.clear()
    if args.item:
        items = [i for i in items if i.item_id in args.item]
    if args.format == "json":
        sys.stdout.write(json.dumps([asdict(i) for i in items], indent=2, default=str) + "\n")
    else:
        sys.stdout.write(render_text(case, items, verbose=args.verbose))
    return EXIT_OK


class _Progress:
    """One line on a terminal, redrawn in place: which Upheld item the search is on, and its re-runs."""

    def __init__(self, stream):
        import time  # only on a terminal

        self.stream, self.clock, self.start, self.width, self.last = stream, time.monotonic, time.monotonic(), 0, 0.0

    def __call__(self, done: int, total: int, item_id: str, runs: int) -> None:
        now = self.clock()
        if now - self.last < 0.1 and runs > 1:  # at most ten redraws a second
            return
        self.last = now
        text = printable(f"explain: item {done + 1} of {total} ({item_id}): {plural(runs, 're-run')}, {now - self.start:.1f} s", multiline=False)
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def cmd_diff(args) -> int:
    import tempfile

    from engine.decide.pipeline import Engine  # start-up cost
    from engine.load.paths import DEFAULT_CASES
    from engine.tools.diff import impact, render_json, render_text, repository, rules_folder
    from engine.tools.validate import folder_location

    repo = repository(args.repo)
    with tempfile.TemporaryDirectory(prefix="imr-diff-") as scratch:
        base_dir = rules_folder(args.base, repo, args.rules_path, Path(scratch))
        head_dir = rules_folder(args.head, repo, args.rules_path, Path(scratch))
        # a folder of packs only (licensed packs kept in a repository of their own) is compared as a layer over the shipped rules
        base_engine, head_engine = Engine(folder_location(base_dir, args.rules)), Engine(folder_location(head_dir, args.rules))
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


def cmd_vocabulary(args) -> int:
    """Counts of the treated ICD-10-CM codes (placed, deliberately ungrouped, not accounted for), or
    with --table the generated diagnosis-group table; --check fails on a code not accounted for or a
    committed table out of date."""
    from engine.checks.diagnoses import topic_groups  # start-up cost
    from engine.checks.rulebase import load_rule_base
    from engine.load.cases import shown
    from engine.tools import dxtable

    base = load_rule_base(args.rules)
    topics = topic_groups(base)
    if args.table:
        text = dxtable.render(base.vocabulary, topics)
        target = Path(args.output) if args.output else (dxtable.TABLE_PATH if args.write else None)
        if target is None:
            sys.stdout.write(text)
            return EXIT_OK
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {shown(target)}", file=sys.stderr)
        return EXIT_OK
    cov = dxtable.coverage(base.vocabulary, topics)
    for line in dxtable.summary(cov):
        print(line)
    if not args.check:
        return EXIT_OK
    failed = False
    where = shown(Path(base.files.root) / "vocabulary" / "diagnoses.yaml")
    for name, codes in cov.missing.items():
        if codes:
            failed = True
            print(Diagnostic(where, 1, 1, "V005", f"{len(codes)} codes in no group of topic '{name}' and not ungrouped "
                                                  f"(e.g. {', '.join(codes[:5])}): place them under `prefixes:` or list them under `ungrouped:` with a reason"))
    if dxtable.stale(base):
        failed = True
        print(Diagnostic(shown(dxtable.TABLE_PATH), 1, 1, "S003", "the diagnosis table is out of date with the vocabulary and the rules: run `imr vocabulary --table --write`"))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_batch(args) -> int:
    """The input and the output are checked before the engine is built (an output that is the
    input is refused: B001); the output file takes its place only when the batch completes. On
    Ctrl-C or SIGTERM: one line saying how many records were written, and where (OUTPUT.partial,
    which --resume continues), exit 128 + the signal's number."""
    from engine.ops.batch import Input, Interrupted, Output, run_batch  # start-up cost

    source = Input(args.input)
    try:
        output = Output(args.output, source, resume=args.resume, stdout=sys.stdout)
    except BaseException:
        source.close()
        raise
    try:
        engine = _engine(args.rules)
        engine.letter.rationale = not args.no_rationale  # before the workers fork: they inherit it
        counts = run_batch(engine, source, output, workers=args.workers, progress=False if args.no_progress else None)
        output.commit()
    except Interrupted as stop:
        try:
            where = output.interrupt()
            kept = output.records
            print(f"batch: interrupted: {plural(kept, 'case')} written to {where}"
                  + (f" ({plural(stop.counts['bad_lines'], 'bad line')}; run again with --resume to continue)" if where.endswith(".partial")
                     else " (nothing kept)" if not kept else ""), file=sys.stderr)
        finally:
            stop.restore()
        return 128 + stop.signum
    except KeyboardInterrupt as exc:  # before the first line (while the engine was built)
        import signal  # only on this path

        output.discard()
        print("batch: interrupted: 0 cases written", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    except BaseException:
        output.discard()
        raise
    finally:
        source.close()
    if counts["resumed"] or args.resume:
        print(f"batch: resumed after {plural(counts['resumed'], 'case')} already decided in {output.prefix.path if output.prefix else 'no earlier output'}",
              file=sys.stderr)
    print(f"batch: {plural(counts['cases'], 'case')} decided ({plural(counts['items'], 'item')}), {plural(counts['bad_lines'], 'bad line')}, "
          + (f"{plural(counts['warnings'], 'warning')}, " if counts["warnings"] else "")
          + f"{plural(counts['faults'], 'engine fault')}, {counts['seconds']} s, {counts['items_per_s']} items/s, workers {args.workers}", file=sys.stderr)
    if counts["faults"]:
        return EXIT_FAULT
    return EXIT_INPUT if counts["bad_lines"] else EXIT_OK


def cmd_bench(args) -> int:
    """Figures of a benchmark run (engine/ops/bench.py); `--peers` adds the side-by-side ones."""
    from engine.ops.bench import bench, peers, start_up  # start-up cost

    if getattr(args, "serve", False):  # the service, loaded from a second process (its own printout)
        from engine.service.bench import main as serve_bench  # start-up cost: only this benchmark

        return serve_bench(["--workers", str(args.workers if args.workers > 1 else 2), "--requests", str(min(args.count, 20_000))])
    if getattr(args, "start", False):  # fresh processes only, timed from outside
        figures = start_up(args.rules, out=sys.stderr if args.format == "text" else None)
    else:
        figures = bench(_engine(args.rules), args.count, args.seed, args.workers)
    if getattr(args, "peers", False):
        figures["peers"] = peers(min(args.count, 3000), args.seed, out=sys.stderr if args.format == "text" else None)
    if args.format == "json":
        print(json.dumps(figures))
        return EXIT_OK

    def show(mapping: dict, indent: int = 0) -> None:
        for key, value in mapping.items():
            if isinstance(value, dict):
                print(f"{' ' * indent}{key}:")
                show(value, indent + 2)
            else:
                print(f"{' ' * indent}{key:>{max(1, 28 - indent)}}  {value}")

    show(figures)
    return EXIT_OK


def cmd_soak(args) -> int:
    """Exit 1 when memory grew by more than 50 MB after warm-up (judged only past decision 1,000)."""
    from engine.load.cases import case_files, empty_folder, load_case  # start-up cost
    from engine.load.paths import DEFAULT_CASES
    from engine.ops.soak import soak

    engine = _engine(args.rules)
    folders = args.cases or [DEFAULT_CASES]
    paths = case_files(folders)
    if not paths:  # nothing to cycle through
        raise InputError([empty_folder(p, "run") for p in folders])
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


def _vocabulary(rules):
    """The vocabulary of the base rules folder (`--rules`; layers add none)."""
    from engine.load.paths import locate  # start-up cost
    from engine.load.vocabulary import load_vocabulary

    return load_vocabulary(locate(rules).base / "vocabulary")


def _json_text(data) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"


def cmd_ingest(args) -> int:
    """One letter: the draft case (printed, or written with -o) or its structured record (--format
    json); a letter that cannot be read whole is one positioned line and exit 2, nothing written."""
    import os  # only for the check below

    from engine.ingest.read import ingest_letter  # start-up cost
    from engine.load.paths import SCHEMA_DIR

    if args.output and os.path.exists(args.output) and os.path.exists(args.letter) and os.path.samefile(args.output, args.letter):
        raise InputError([Diagnostic(str(args.output), 1, 1, "I011", "the output is the letter itself: name another file for the draft case")])
    result = ingest_letter(args.letter, _vocabulary(args.rules), args.output, SCHEMA_DIR / "case.schema.json")
    if args.output:
        out = Path(args.output)
        scratch = out.with_name(out.name + ".part")
        scratch.write_text(result.text, encoding="utf-8")
        scratch.replace(out)
        record = result.record
        print(f"wrote {args.output}: {plural(len(record['items']), 'item')}, {plural(len(record['facts']), 'fact')} "
              f"from {plural(len(record['summary']), 'summary sentence')}", file=sys.stderr)
    if args.format == "json":
        sys.stdout.write(_json_text(result.record))
    elif not args.output:
        sys.stdout.write(result.text)
    return EXIT_OK


def cmd_agree(args) -> int:
    """Ingest each letter of a folder, decide its draft and tally the engine against the letter's
    decisions (engine/tools/agreement.py). A letter that cannot be read is named on stderr with its
    problem and the others are still tallied: exit 2 when any was unreadable, else 0."""
    from engine.ingest.read import ingest_letter, letter_files  # start-up cost
    from engine.tools.agreement import Agreement, rows_for

    folder = Path(args.folder)
    if not folder.is_dir():
        raise InputError([Diagnostic(str(folder), 1, 1, "E000", "not a folder: imr agree reads a folder of letters")])
    letters = letter_files(folder)
    if not letters:
        raise InputError([Diagnostic(str(folder), 1, 1, "I010", "no letters (*.txt, *.pdf) in this folder: nothing to agree with")])
    engine = _engine(args.rules)
    agreement, unreadable = Agreement(), []
    for path in letters:
        try:
            case = ingest_letter(path, engine.base.vocabulary).case
        except InputError as exc:
            unreadable.append((path, exc.diagnostics))
            continue
        agreement.rows.extend(rows_for(path, case, engine.decide(case)))
    for path, diagnostics in unreadable:
        for d in diagnostics:
            print(d, file=sys.stderr)
        print(f"agree: {path}: unreadable, not tallied", file=sys.stderr)
    if args.format == "json":
        doc = agreement.to_json()
        doc["letters"] = len(letters)
        doc["unreadable"] = [{"path": str(p), "problems": [str(d) for d in ds]} for p, ds in unreadable]
        sys.stdout.write(_json_text(doc))
    else:
        if agreement.rows:
            print(agreement.text())
        for r in agreement.rows:
            mark = "agrees" if r.agrees else "DIFFERS"
            print(f"  {mark}: {r.path} [{r.item_id}]: engine {r.engine} ({r.engine_guideline or 'no guideline'}), "
                  f"letter {r.real} ({r.cited_guideline or 'basis not stated'})")
    print(f"agree: {plural(len(letters), 'letter')}, {len(letters) - len(unreadable)} read, {len(unreadable)} unreadable", file=sys.stderr)
    return EXIT_INPUT if unreadable else EXIT_OK




def cmd_formulary_import(args) -> int:
    """Import a published MTUS Drug List version; every bad cell at its row and column, nothing written then."""
    from engine.load.paths import DEFAULT_RULES  # start-up cost
    from engine.load.vocabulary import load_vocabulary
    from engine.tools.drug_list_import import read_drug_list, version_file, write_version

    rules = Path(args.rules) if args.rules else DEFAULT_RULES
    folder = rules / "vocabulary"
    if not folder.is_dir():
        raise InputError([Diagnostic(str(rules), 1, 1, "L001", "not a rules folder: no vocabulary/ inside")])
    data = read_drug_list(args.file, args.version, args.effective_from, args.effective_to,
                          args.source or Path(args.file).name, complete=not args.partial)
    target = version_file(folder, data.version)
    previous = target.read_bytes() if target.exists() else None
    write_version(folder, data)
    try:
        load_vocabulary(folder)  # the folder still loads with the new version
    except InputError:
        if previous is None:  # imports nothing: the folder is left as it was
            target.unlink()
        else:
            target.write_bytes(previous)
        raise
    print(f"imported MTUS Drug List {data.version} ({data.effective_from}..{data.effective_to or ''}): "
          f"{plural(len(data.entries), 'ingredient')} into {target}")
    return EXIT_OK


def cmd_codes(args) -> int:
    for code, title in CODES.items():
        print(f"{code}  {title}")
    return EXIT_OK


def cmd_serve(args) -> int:
    """`imr serve`: the API on 127.0.0.1 by default; a first admin token is printed once."""
    from engine.service.app import Settings  # start-up cost: only for serve
    from engine.service.run import serve

    settings = Settings(db=args.db, credentials=args.credentials, store_cases=args.store_cases, rules=args.rules)
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_token(args) -> int:
    from engine.service.auth import Credentials  # start-up cost: only for token

    creds = Credentials.load(args.credentials)
    if args.password:
        password = sys.stdin.readline().rstrip("\n")
        try:
            creds.add_password(args.name, args.role, password)
        except ValueError as exc:
            raise InputError([Diagnostic("<stdin>", 1, 1, "E012", str(exc))]) from None
        creds.save()
        print(f"login for {args.name} ({args.role}) stored hashed in {args.credentials}")
        return EXIT_OK
    token = creds.add_token(args.name, args.role)
    creds.save()
    print(f"token for {args.name} ({args.role}; shown once, stored hashed in {args.credentials}): {token}")
    return EXIT_OK


def cmd_replay(args) -> int:
    """Exit 0 when no logged decision moves, 1 when some do (each printed)."""
    from engine.service.replay import replay  # start-up cost: only for replay

    try:
        result = replay(args.db, current=args.rules if args.current else None)
    except LookupError as exc:
        raise InputError([Diagnostic(args.db, 1, 1, "E013", str(exc))]) from None
    for m in result.moved:
        print(f"MOVED {m.decision_id} item {m.item_id}: logged {m.logged}, now {m.now}")
    print(f"replayed {plural(result.replayed, 'determination')} ({plural(result.items, 'item')}); "
          f"{plural(len(result.moved), 'decision')} differ"
          + (f"; {result.without_input} logged without their input (cases not stored) not replayed" if result.without_input else ""))
    return EXIT_FAILED if result.moved else EXIT_OK
