"""Aggregate step: an item's events (what fired in durable-rules) into its outcome, as data.

The decision itself is the decision rule that fired (durable/compile.py, step 4); this module
only collects it, with the findings of the governing tier merged per rule, status and subject,
and picks the findings the letter must explain (the unmet ones of an Upheld item, the met ones
of an Overturned one). It writes no prose: decide/letter.py does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from engine.checks.rulebase import RuleBase
from engine.durable.trace import ItemEvents
from engine.model.determination import RuleOutcome
from engine.model.enums import Reason
from engine.model.rules import SILENT_STATUSES

STATUS_ORDER = {"not_met": 0, "not_documented": 1, "met": 2}
NO_OUTCOME = tuple(r for r in get_args(Reason) if r not in ("met", "not_met", "not_documented"))
"""The reasons of "No rule applies" and "Not covered" (model/enums.py Reason: the one list)."""
"""Reason codes of a decision that gives no guideline-based outcome."""


@dataclass
class Shown:
    """One rule's outcome that the rationale states, with its subjects and what was not documented."""

    rule: str
    status: str
    subjects: list[str]
    undocumented: list[str]


@dataclass
class ItemOutcome:
    item_id: str
    decision: str
    reason: str
    """A reason code: not_met, not_documented, met, no_finding, no_edition, edition_not_encoded, topic_not_encoded, not_addressed."""
    rank: int | None
    governing_packs: list[str]
    outcomes: list[RuleOutcome]
    shown: list[Shown]
    neutral: list[Shown] = None
    """Outcomes of the governing tier that the rule's `silence:` keeps from counting against the
    item (an exclusion not documented; a supporting criterion not met or not documented): the
    letter names them and says they did not count."""
    reports: dict[str, tuple[str, list[Shown]]] = None
    """Per report kind (prospective_review): the answer the decide ruleset's report rules gave, and
    the findings of the report packs behind it (not met for needed, not documented, or met)."""


class Aggregator:
    def __init__(self, base: RuleBase):
        self._order = {r.rule.id: n for n, r in enumerate(base.rules)}  # once, not per case
        self._silent = {r.rule.id: SILENT_STATUSES[r.rule.silence or "requirement"] for r in base.rules}
        self._reports = {r.rule.id: r.pack.reports for r in base.rules if r.pack.reports}

    def outcome(self, events: ItemEvents) -> ItemOutcome:
        if events.decision is None:
            raise RuntimeError(f"no decision rule fired for item {events.item_id}")  # would be an engine bug
        rank = events.governs[0].rank if events.governs else None
        outcomes = self._outcomes(events)
        decision = events.decision.decision
        shown: dict[tuple, Shown] = {}
        neutral: dict[tuple, Shown] = {}
        if rank is not None:
            for o in outcomes:
                if o.rank != rank:
                    continue
                if o.status in self._silent[o.rule]:
                    into = neutral  # shown, never counted: what silence means for this rule
                elif (o.status == "met") == (decision == "Overturned"):
                    into = shown
                else:
                    continue
                s = into.setdefault((o.rule, o.status), Shown(o.rule, o.status, [], []))
                if o.subject:
                    s.subjects.append(o.subject)
                s.undocumented = sorted(set(s.undocumented) | set(o.not_documented))
        return ItemOutcome(events.item_id, decision, events.decision.reason, rank,
                           sorted({g.pack for g in events.governs}), outcomes, list(shown.values()), list(neutral.values()),
                           self._reported(events, outcomes))

    def _reported(self, events: ItemEvents, outcomes: list[RuleOutcome]) -> dict:
        """Each report's answer with the findings behind it (the answer is the report rule that fired)."""
        wanted = {"needed": "not_met", "not_documented": "not_documented", "not_needed": "met"}
        out = {}
        for kind, answer in events.reports.items():
            behind: dict[tuple, Shown] = {}
            for o in outcomes:
                if self._reports.get(o.rule) == kind and o.status == wanted[answer]:
                    s = behind.setdefault((o.rule, o.status), Shown(o.rule, o.status, [], []))
                    if o.subject:
                        s.subjects.append(o.subject)
                    s.undocumented = sorted(set(s.undocumented) | set(o.not_documented))
            out[kind] = (answer, list(behind.values()))
        return out

    def _outcomes(self, events: ItemEvents) -> list[RuleOutcome]:
        """One outcome per rule, status and subject (a rule's alternatives may each fire)."""
        seen: dict[tuple, RuleOutcome] = {}
        for f in events.findings:
            key = (f.rule, f.status, f.subject)
            previous = seen.get(key)
            absent = sorted(set(f.absent) | set(previous.not_documented if previous else ()))
            seen[key] = RuleOutcome(rule=f.rule, status=f.status, subject=f.subject, pack=f.pack,
                                    rank=f.rank, deciding=f.decides, not_documented=absent)
        order = self._order
        return sorted(seen.values(), key=lambda o: (o.rank, STATUS_ORDER[o.status], order[o.rule], o.subject))
