"""`imr test`: decide every case file that carries an `expected:` block and compare.

Returns data (a CaseRun) for the command line to print: each mismatch with the item's
determination, golden-text differences, counts, and which rules fired in no case. An invalid case
file is recorded with its diagnostics and the others still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.load.cases import case_files, load_case, missing_path
from engine.model.diagnostics import Diagnostic, InputError
from engine.tools import golden


@dataclass
class Mismatch:
    path: Path
    case: object  # the Case
    item: object  # its ItemDetermination
    expected: str


@dataclass
class GoldenDiff:
    path: Path
    golden: Path
    lines: list[str]


@dataclass
class CaseRun:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: list[Diagnostic] = field(default_factory=list)
    invalid_files: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    golden_diffs: list[GoldenDiff] = field(default_factory=list)
    golden_changes: dict[str, int] = field(default_factory=lambda: {"rewritten": 0, "created": 0})
    fired_rules: set[str] = field(default_factory=set)
    rules: list[str] = field(default_factory=list)

    @property
    def never_fired(self) -> list[str]:
        return sorted(r for r in self.rules if r not in self.fired_rules)


def run_cases(engine, paths: list[Path], update_golden: bool = False) -> CaseRun:
    run = CaseRun(rules=[r.rule.id for r in engine.base.rules])
    for p in paths:
        if not p.exists():
            run.invalid.append(missing_path(p))
            run.invalid_files += 1
    named = {p for p in paths if p.is_file()}  # only these may get a new golden file
    for path in case_files([p for p in paths if p.exists()]):
        try:
            case = load_case(path)
        except InputError as exc:
            run.invalid_files += 1
            run.invalid.extend(exc.diagnostics)
            continue
        if not case.expected:
            run.skipped += 1
            continue
        determination = engine.decide(case)
        for item in determination.items:
            run.fired_rules.update(r.rule for r in item.rules)
            want = case.expected.get(item.item_id)
            if want is None:
                continue
            if want == item.decision:
                run.passed += 1
            else:
                run.failed += 1
                run.mismatches.append(Mismatch(path, case, item, want))
        if update_golden:
            if change := golden.update(path, determination, create=path in named):
                run.golden_changes[change] += 1
        elif (diff := golden.compare(path, determination)) is not None:
            run.golden_diffs.append(GoldenDiff(path, golden.golden_path(path), diff))
    return run
