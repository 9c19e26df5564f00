"""Which diagnosis groups each topic's rules read, and where an ICD-10-CM code stands for a topic.

A topic *uses groups* when one of its rules reads `dx.<group>` or `dx.pm_group` (found in the rule
base, never listed by hand). Its *selecting* groups are those the rows of a table rule test
differently: the diagnosis picks the row of a visit table (CPMTG physical medicine by
`dx.pm_group`, the ODG therapy tables by `dx.sprain_strain`, `dx.radiculopathy`, ...), so a code in
none of them leaves no row to fire and must be in one. A topic whose rules read groups only outside tables uses them as indications or
exclusions (`require: dx.neuropathic == true`): a code the vocabulary places outside them is a
considered answer (not neuropathic), so being placed is enough; a code the vocabulary does not know
reads as false all the same, which is what `imr validate` warns about (W005, checks/cases.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.language.conditions import Compare, leaves
from engine.model.rules import ANY_TOPIC
from engine.model.vocabulary import DxPrefix, Vocabulary

PM_GROUP = "pm_group"
"""The name under which a topic reading `dx.pm_group` lists it among its groups."""


@dataclass(frozen=True)
class TopicGroups:
    topic: str
    groups: frozenset[str]
    """Every diagnosis group its rules read (`pm_group` for the CPMTG physical-medicine group)."""
    selecting: frozenset[str]
    """The groups whose test differs between the rows of a table rule: the diagnosis selects the
    row (empty: the topic reads its groups only as indications or exclusions)."""
    rules: tuple[str, ...]
    """The rules that read them, in rule-base order."""

    @property
    def selects(self) -> bool:
        return bool(self.selecting)

    def of(self, entry: DxPrefix) -> tuple[str, ...]:
        """The groups of this topic a vocabulary entry falls in (`pm_group` as its value)."""
        out = [g for g in entry.groups if g in self.groups]
        if PM_GROUP in self.groups and entry.pm_group:
            out.append(entry.pm_group)
        return tuple(out)

    def selected(self, entry: DxPrefix) -> bool:
        """Whether the entry falls in a group that selects a table row of this topic."""
        return any(g in self.selecting for g in entry.groups) or (PM_GROUP in self.selecting and entry.pm_group is not None)


def topic_groups(base) -> dict[str, TopicGroups]:
    """Per topic whose rules read diagnosis groups: which, and which of them select table rows.
    A group selects when the rows of one table rule differ in what they test of it (the row's own
    diagnosis: `dx.pm_group == allowance.group`, `when: allowance.diagnosis`), not when every row
    tests it alike. A pack of topic `any` compiles into every topic, so its reads count for each."""
    vocab: Vocabulary = base.vocabulary
    known = set(vocab.diagnoses.groups) | {PM_GROUP}
    reads: dict[str, set] = {}
    selecting: dict[str, set] = {}
    order: dict[str, list[str]] = {}
    rows: dict[tuple, set] = {}  # (topic, pack, rule, table) -> the dx tests of each row
    for parsed in base.rules:
        tests = _dx_tests(parsed.when, known) | _dx_tests(parsed.require, known)
        if not tests:
            continue
        topic = parsed.pack.topic
        reads.setdefault(topic, set()).update(field for field, _, _ in tests)
        rules = order.setdefault(topic, [])
        rule_id = parsed.rule.id.split("[", 1)[0]  # a table's rule once, not once per row
        if rule_id not in rules:
            rules.append(rule_id)
        if parsed.row is not None:
            rows.setdefault((topic, parsed.pack.pack, rule_id, parsed.row[0]), set()).add(frozenset(tests))
    for (topic, *_), variants in rows.items():
        if len(variants) > 1:  # the rows test the diagnosis differently: it selects the row
            common = frozenset.intersection(*variants)
            selecting.setdefault(topic, set()).update(field for v in variants for field, _, _ in v - common)
    if ANY_TOPIC in reads:
        spread, spread_selecting, spread_rules = reads.pop(ANY_TOPIC), selecting.pop(ANY_TOPIC, set()), order.pop(ANY_TOPIC)
        for topic in _topics(vocab) | set(reads):
            reads.setdefault(topic, set()).update(spread)
            selecting.setdefault(topic, set()).update(spread_selecting)
            order.setdefault(topic, []).extend(r for r in spread_rules if r not in order[topic])
    return {topic: TopicGroups(topic, frozenset(groups), frozenset(selecting.get(topic, ())), tuple(order[topic]))
            for topic, groups in sorted(reads.items())}


def _dx_tests(expr, known: set[str]) -> set[tuple]:
    """The tests of diagnosis groups in a condition: (field, operator, value), positions left out."""
    out: set[tuple] = set()

    for node in leaves(expr) if expr is not None else ():
        if node.ref.entity != "dx" or node.ref.field not in known:
            continue
        if isinstance(node, Compare):
            out.add((node.ref.field, node.op, repr(node.value)))
        else:
            out.add((node.ref.field, "documented", node.present))
    return out


def _topics(vocab: Vocabulary) -> set[str]:
    services = vocab.services
    return {s.topic for s in services.services.values()} | set(services.medication_topics.forms.values()) | set(services.medication_topics.classes.values())


@dataclass(frozen=True)
class Placement:
    """Where one code stands for one topic."""

    status: str
    """`grouped` (in a group of the topic; for a topic with tables, in a group that selects a row),
    `outside` (placed by the vocabulary, in none of those groups), `ungrouped` (deliberately, with a
    reason) or `unknown` (the vocabulary does not know it)."""
    selects: bool
    """Whether the topic's tables select by diagnosis (then `outside` leaves no row to fire)."""
    prefix: str | None = None
    region: str | None = None
    groups: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def accounted(self) -> bool:
        """In a group, deliberately ungrouped, or placed outside the groups of a topic that reads
        them only as indications (a considered `false`)."""
        return self.status in ("grouped", "ungrouped") or (self.status == "outside" and not self.selects)


def place(vocab: Vocabulary, code: str, topic: TopicGroups, found=False) -> Placement:
    """Where a code (dotted form) stands for a topic, by the longest prefix that knows it
    (`found`: the code's `vocab.dx_lookup`, when the caller has it already)."""
    if found is False:
        found = vocab.dx_lookup(code)
    if found is None:
        return Placement("unknown", topic.selects)
    prefix, entry = found
    if not isinstance(entry, DxPrefix):
        return Placement("ungrouped", topic.selects, prefix, reason=entry)
    groups = topic.of(entry)
    inside = topic.selected(entry) if topic.selects else bool(groups)
    return Placement("grouped" if inside else "outside", topic.selects, prefix, entry.region, groups)
