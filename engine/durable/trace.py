"""What fired in a session, read into typed events per item: the only view of durable-rules'
bindings that the rest of the engine gets.

durable-rules cannot list what fired (upstream #276): each generated action appends its rule and
bindings to the session log (session.py; one log for a topic's route session and criterion
shards, in firing order). This module turns those raw records, whose shape is durable's (binding
aliases, the folded item fact's `entity.field` properties), into engine-neutral events:

    Addressed  a pack in force whose scope matches the item, with its rank in the search sequence
    Finding    a criterion's outcome for the item (met, not met, not documented), with what was absent
    Governs    the addressed pack with the best rank (Medical Evidence Search Sequence)
    Decision   the decision rule that fired, with its reason
    in_force   whether any edition of the jurisdiction's guidelines covers the request date

Findings of packs that did not address the item are withdrawn in the session before the decision
(the `withdraw` rule); they are left out here the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from engine.facts.schema import subject_of as finding_subject


class Addressed(NamedTuple):
    pack: str
    rank: int


class Finding(NamedTuple):
    rule: str
    status: str
    pack: str
    subject: str
    rank: int
    decides: bool
    label: str = ""
    absent: tuple[str, ...] = ()
    """For a not-documented outcome: the facts (entity.field) whose absence it matched."""


class Governs(NamedTuple):
    pack: str
    rank: int


class Decision(NamedTuple):
    decision: str
    reason: str
    rule: str
    """The engine rule that took the decision (decide:not_met, ...)."""


@dataclass
class ItemEvents:
    """Everything that fired for one requested item, in firing order within each kind."""

    item_id: str
    addressed: list[Addressed] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    governs: list[Governs] = field(default_factory=list)
    decision: Decision | None = None
    in_force: bool = False
    reports: dict[str, str] = field(default_factory=dict)
    """What each report pack's findings answered (kind -> needed | not_needed | not_documented), as the
    decide ruleset's report rules said."""

    def addressed_packs(self) -> set[str]:
        return {a.pack for a in self.addressed}


def _item_of(bindings: dict) -> str | None:
    for alias in ("item", "governs", "addressed", "finding"):
        if alias in bindings:
            return bindings[alias].get("item_id")
    return None


def read(log, item_ids, ranks: dict[str, dict[str, int]]) -> dict[str, ItemEvents]:
    """Events per item of one session log (several items may share a session)."""
    events = {item_id: ItemEvents(item_id) for item_id in item_ids}
    in_force = set()
    criteria = []
    adopted = []  # (events, spec, finding): a statute's finding joined the governing tier
    for fired in log.fired:
        spec, b = fired.spec, fired.bindings
        if spec.kind == "in_force":
            in_force.add(_item_of(b))
            continue
        if spec.kind in ("covered", "encoded"):
            continue  # read by the decide ruleset; the decision's reason says what they meant
        mine = events.get(_item_of(b))
        if mine is None:
            continue
        if spec.kind == "address":
            mine.addressed.append(Addressed(spec.pack, spec.rank))
        elif spec.kind == "criterion":
            criteria.append((mine, fired))
        elif spec.kind == "govern":
            a = b["addressed"]
            mine.governs.append(Governs(a["pack"], a["rank"]))
        elif spec.kind == "decision" and mine.decision is None:
            mine.decision = Decision(spec.decision, spec.reason, fired.name)
        elif spec.kind == "adopt":
            adopted.append((mine, spec, b["finding"]))
        elif spec.kind == "report":
            mine.reports.setdefault(spec.report, spec.status)
    addressed = {item_id: e.addressed_packs() for item_id, e in events.items()}
    jurisdiction = log.jurisdiction
    for mine, fired in criteria:  # after every address event is known
        spec, b = fired.spec, fired.bindings
        if spec.pack not in addressed[mine.item_id]:
            continue  # withdrawn in the session before the decision
        rank = ranks.get(spec.pack, {}).get(jurisdiction, 0)
        mine.findings.append(Finding(spec.rule_id, spec.status, spec.pack, finding_subject(b), rank, spec.decides,
                                     spec.label, tuple(spec.absent)))
    for mine, spec, f in adopted:
        subject = f.get("subject", "")
        absent = next((o.absent for o in mine.findings if (o.rule, o.status, o.subject) == (f["rule"], f["status"], subject)), ())
        mine.findings.append(Finding(f["rule"], f["status"], f["pack"], subject, spec.rank, f["decides"], f.get("label", ""), absent))
    for item_id in in_force:
        if item_id in events:
            events[item_id].in_force = True
    return events
