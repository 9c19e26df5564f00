"""`imr test`: decide every case file that carries an `expected:` block and compare.

An item's expectation is its decision (`pt-lumbar: Upheld`) or the long form, which also names
rules: `governing` (each must be among the rules the decision rests on, diff.governing_rules) and
`not_fired` (each must have no outcome at all for the item). An item passes when its decision and
every rule it names are as expected.

Returns data (a CaseRun) for the command line to print: each mismatch with the item's
determination and the rule it names, golden-text differences, counts, and which rules fired in
no case. An invalid case file (including an expectation naming a rule the rule base does not
have) is recorded with its diagnostics and the others still run. A case written from a real
decision (`source:`) is decided even without `expected:`; its items go to the agreement table
(engine.tools.agreement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from engine.checks.cases import load_checked_case
from engine.load.cases import case_files, empty_folder, missing_path
from engine.model.diagnostics import Diagnostic, InputError
from engine.tools import golden
from engine.tools.agreement import Agreement, rows_for
from engine.tools.diff import governing_rules


@dataclass
class RuleMismatch:
    """A rule expectation that failed: `rule` did not govern, or fired when it must not."""

    rule: str
    kind: str  # governing | not_fired
    governing: list[str]
    """The rules the decision rested on."""
    fired: list[str]
    """For not_fired: the statuses the rule fired with."""

    def text(self) -> str:
        if self.kind == "governing":
            return f"expected {self.rule} to govern; governing: {', '.join(self.governing) or 'none'}"
        if self.kind == "review":
            return f"expected {self.rule} behind the prospective-review answer; behind it: {', '.join(self.governing) or 'none'}"
        if self.kind == "review_answer":
            return f"expected prospective review {self.rule}; answered {', '.join(self.fired) or 'nothing'}"
        return f"expected {self.rule} not to fire; it fired ({', '.join(self.fired)})"


@dataclass
class ItemCheck:
    decision_ok: bool
    rule_mismatches: list[RuleMismatch]
    rule_checks: int

    @property
    def ok(self) -> bool:
        return self.decision_ok and not self.rule_mismatches


def check_item(expectation, decision: str, rules, governing_rank, reason: str | None = None,
               review: tuple[str, list[str]] | None = None) -> ItemCheck:
    """One item's outcome (its decision, RuleOutcomes, governing tier and reason code) against its
    ItemExpectation; a `reason` the expectation pins must match too, and so must the prospective-review
    answer and the rules behind it (`review`: (status, rules), from the report pack's rules)."""
    governing = governing_rules(SimpleNamespace(decision=decision, rules=rules, governing_rank=governing_rank))
    mismatches = [RuleMismatch(r, "governing", governing, []) for r in expectation.governing if r not in governing]
    for rule in expectation.not_fired:
        statuses = sorted({o.status for o in rules if o.rule == rule})
        if statuses:
            mismatches.append(RuleMismatch(rule, "not_fired", governing, statuses))
    status, behind = review or (None, [])
    if expectation.prospective_review is not None and expectation.prospective_review != status:
        mismatches.append(RuleMismatch(expectation.prospective_review, "review_answer", behind, [status] if status else []))
    mismatches.extend(RuleMismatch(r, "review", behind, []) for r in expectation.review_rules if r not in behind)
    decision_ok = decision == expectation.decision and (expectation.reason is None or reason == expectation.reason)
    return ItemCheck(decision_ok, mismatches, len(expectation.governing) + len(expectation.not_fired) + len(expectation.review_rules)
                     + (expectation.prospective_review is not None))


@dataclass
class Mismatch:
    path: Path
    case: object  # the Case
    item: object  # its ItemDetermination
    expected: str
    rules: list[RuleMismatch] = field(default_factory=list)

    @property
    def decision_differs(self) -> bool:
        return self.expected != self.item.decision


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
    rule_checks: int = 0
    """Rule expectations (governing and not_fired entries) checked."""
    rule_failed: int = 0
    invalid: list[Diagnostic] = field(default_factory=list)
    invalid_files: int = 0
    files: int = 0
    """Case files found (valid or not): none at all is bad input, never "0 passed, 0 failed"."""
    empty_folders: int = 0
    """Folders given that hold no case file (E008)."""
    mismatches: list[Mismatch] = field(default_factory=list)
    golden_diffs: list[GoldenDiff] = field(default_factory=list)
    golden_changes: dict[str, int] = field(default_factory=lambda: {"rewritten": 0, "created": 0})
    fired_rules: set[str] = field(default_factory=set)
    rules: list[str] = field(default_factory=list)
    agreement: Agreement = field(default_factory=Agreement)
    """The items of cases written from real decisions (`source:`), the engine beside the reviewer."""

    @property
    def never_fired(self) -> list[str]:
        return sorted(r for r in self.rules if r not in self.fired_rules)


def run_cases(engine, paths: list[Path], update_golden: bool = False) -> CaseRun:
    run = CaseRun(rules=[r.rule.id for r in engine.base.rules])
    known = set(run.rules)
    found: list[Path] = []
    for p in paths:
        if not p.exists():
            run.invalid.append(missing_path(p))
            run.invalid_files += 1
            continue
        files = case_files([p])
        if not files:  # a folder without a case file tests nothing: that is not a pass
            run.invalid.append(empty_folder(p, "test"))
            run.empty_folders += 1
        found.extend(files)
    run.files = len(found)
    named = {p for p in paths if p.is_file()}  # only these may get a new golden file
    for path in found:
        try:
            case = load_checked_case(path, known)
        except InputError as exc:
            run.invalid_files += 1
            run.invalid.extend(exc.diagnostics)
            continue
        if not case.expected and not case.source:
            run.skipped += 1
            continue
        expectations = case.expectations()
        determination = engine.decide(case)
        run.agreement.rows.extend(rows_for(path, case, determination))
        for item in determination.items:
            run.fired_rules.update(r.rule for r in item.rules)
            want = expectations.get(item.item_id)
            if want is None:
                continue
            review = item.prospective_review
            check = check_item(want, item.decision, item.rules, item.governing_rank, item.reason_code,
                               (review.status, review.rules) if review else None)
            run.rule_checks += check.rule_checks
            run.rule_failed += len(check.rule_mismatches)
            if check.ok:
                run.passed += 1
            else:
                run.failed += 1
                expected = want.decision if want.reason is None or want.reason == item.reason_code else f"{want.decision} ({want.reason})"
                run.mismatches.append(Mismatch(path, case, item, expected, check.rule_mismatches))
        if update_golden:
            if change := golden.update(path, determination, create=path in named):
                run.golden_changes[change] += 1
        elif (diff := golden.compare(path, determination)) is not None:
            run.golden_diffs.append(GoldenDiff(path, golden.golden_path(path), diff))
    return run
