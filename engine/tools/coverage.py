"""Rule coverage over the case corpus: for each rule, the cases where it was met and where not.

A criterion (`require`) is *met* in a case when it ended met, and *not met* when it ended not met
or not documented. A fixed-outcome rule is met where it fired, and not met where its pack addressed
an item that was decided without it firing (its condition was false). Every rule needs both, so that a
change to it shows up in some case's decision.

Beside that, the case files whose expectations name each rule (read from the files, not decided):
in `governing` (the decision must rest on it) or in `not_fired` (it must stay silent). A rule no
case names can change without any case noticing (`imr test --mutate` checks that they do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.decide.pipeline import Engine
from engine.language.evaluate import test_holds
from engine.language.scope import scope_tests
from engine.load.cases import case_files, load_case
from engine.tools.explain import facts_of


@dataclass
class RuleCoverage:
    rule: str
    pack: str
    met: set[str] = field(default_factory=set)
    not_met: set[str] = field(default_factory=set)
    governing_in: list[Path] = field(default_factory=list)
    """Case files whose expectations name the rule in `governing`."""
    silent_in: list[Path] = field(default_factory=list)
    """Case files whose expectations name the rule in `not_fired`."""

    @property
    def named(self) -> bool:
        return bool(self.governing_in or self.silent_in)

    @property
    def complete(self) -> bool:
        return bool(self.met) and bool(self.not_met)


@dataclass
class CorpusCoverage:
    rules: dict[str, RuleCoverage]
    cases: int
    items: int
    decisions: dict[str, int]
    addressed: dict[str, set[str]] = field(default_factory=dict)  # pack -> cases with an item it addressed

    def cases_of(self, pack: str) -> set[str]:
        """Cases that exercise a pack: an item it addressed (a scope-only pack has no rule to count)."""
        rules = [c.met | c.not_met for c in self.rules.values() if c.pack == pack]
        return set(self.addressed.get(pack, set())).union(*rules)

    @property
    def unnamed(self) -> list[str]:
        """Rules no case file's expectation names."""
        return [r for r, c in self.rules.items() if not c.named]

    def packs(self) -> dict[str, list[RuleCoverage]]:
        out: dict[str, list[RuleCoverage]] = {}
        for cov in self.rules.values():
            out.setdefault(cov.pack, []).append(cov)
        return out


def corpus_coverage(engine: Engine, paths: list[str | Path]) -> CorpusCoverage:
    rules = {r.rule.id: RuleCoverage(r.rule.id, r.pack.pack) for r in engine.base.rules}
    fixed = {r.rule.id: r for r in engine.base.rules if r.require is None}
    decisions: dict[str, int] = {}
    packs_addressed: dict[str, set[str]] = {}
    n_cases = n_items = 0
    for path in case_files(paths):
        case = load_case(path)
        n_cases += 1
        facts, events, determination = engine.trace(case)
        addressed = {(item_id, a.pack) for item_id, e in events.items() for a in e.addressed}
        label = f"{path.name}:{case.case_id}"
        for expectation in case.expectations().values():
            for rule_id, where in ([(r, "governing_in") for r in expectation.governing + expectation.review_rules]
                                   + [(r, "silent_in") for r in expectation.not_fired]):
                if rule_id in rules and path not in (files := getattr(rules[rule_id], where)):
                    files.append(path)

        def in_scope(parsed, item_id, facts=facts) -> bool:
            env, _ = facts_of(facts, item_id)
            return all(test_holds(t, env) for t in scope_tests(parsed.scope))

        for _, pack in addressed:
            packs_addressed.setdefault(pack, set()).add(label)
        for item in determination.items:
            n_items += 1
            decisions[item.decision] = decisions.get(item.decision, 0) + 1
            fired = set()
            for outcome in item.rules:
                fired.add(outcome.rule)
                (rules[outcome.rule].met if outcome.status == "met" else rules[outcome.rule].not_met).add(label)
            for rule_id, parsed in fixed.items():
                if rule_id not in fired and (item.item_id, parsed.pack.pack) in addressed and in_scope(parsed, item.item_id):
                    # a fixed-outcome rule that did not fire for an item of its scope that its pack
                    # addressed: its condition was false
                    target = rules[rule_id].not_met if parsed.rule.outcome == "met" else rules[rule_id].met
                    target.add(label)
    return CorpusCoverage(rules=rules, cases=n_cases, items=n_items, decisions=decisions, addressed=packs_addressed)
