"""The smallest set of facts whose documentation would have changed an Upheld item.

Found by re-running the real engine (facts -> durable-rules -> aggregate) on modified copies of the
case, never by reasoning outside it: each field the record leaves "not documented" is documented
with plausible values (true/false, the listed choices, numbers and dates at the thresholds the
topic's conditions compare with), one at a time, then two (and three) at a time among the changes
that removed at least one unmet criterion on their own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import typing
from dataclasses import dataclass, field

from engine.model.case import MAX_DATE, MIN_DATE, NOT_DOCUMENTED, Case
from engine.language.conditions import Compare, refs
from engine.checks.rulebase import ParsedRule

MAX_REPORTED = 6
_WEEKS = ("weeks_since", "weeks_since_last_visit", "weeks_in_use", "course_weeks")
_MONTHS = ("months_since", "months_since_injury")


@dataclass(frozen=True)
class Change:
    path: tuple
    value: object

    @property
    def label(self) -> str:
        return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in self.path).replace(".[", "[")


@dataclass
class Counterfactual:
    changes: tuple[Change, ...]
    decision: str

    def as_dict(self) -> dict:
        return {"set": [{"path": c.label, "value": c.value} for c in self.changes], "decision": self.decision}


@dataclass
class Search:
    changes: list[Counterfactual] = field(default_factory=list)
    runs: int = 0


def _kinds(annotation) -> set:
    """What values a case field takes: bool, int, float, date, or the literal choices."""
    out: set = set()
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        out |= {("literal", v) for v in typing.get_args(annotation) if v != NOT_DOCUMENTED}
    elif origin is typing.Annotated:
        out |= _kinds(typing.get_args(annotation)[0])
    elif origin is typing.Union or str(origin) == "types.UnionType":
        for arg in typing.get_args(annotation):
            out |= _kinds(arg)
    elif annotation in (bool, int, float, dt.date):
        out.add(annotation)
    return out


def _undocumented(model, path=()) -> list[tuple[tuple, set]]:
    """Paths of the case that hold 'not documented', with the kinds of value each field takes."""
    from pydantic import BaseModel

    out = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if value == NOT_DOCUMENTED:
            out.append((path + (name,), _kinds(info.annotation)))
        elif isinstance(value, BaseModel):
            out.extend(_undocumented(value, path + (name,)))
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                if isinstance(entry, BaseModel):
                    out.extend(_undocumented(entry, path + (name, i)))
    return out


def _literals(rules: list[ParsedRule]) -> dict[str, set]:
    """Numbers the topic's conditions compare fields with, by field name."""
    out: dict[str, set] = {}

    def walk(node):
        if isinstance(node, Compare):
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                out.setdefault(node.ref.field, set()).add(node.value)
        elif hasattr(node, "items"):
            for item in node.items:
                walk(item)
        elif hasattr(node, "item"):
            walk(node.item)

    for r in rules:
        for expr in (r.when, r.require):
            if expr is not None:
                walk(expr)
    return out


def _candidates(path: tuple, kinds: set, literals: dict[str, set], requested: int, day: dt.date) -> list:
    name = path[-1]
    values: list = []
    if bool in kinds:
        values += [True, False]
    values += sorted(k[1] for k in kinds if isinstance(k, tuple))
    numbers = literals.get(name, set()) | literals.get("visits_total", set()) if name == "visits_completed" else literals.get(name, set())
    if int in kinds or float in kinds:
        pool = {0}
        for n in numbers:
            pool |= {n, n + 1, n - 1}
        if name == "visits_completed":
            pool |= {n - requested for n in literals.get("visits_total", ())} | {n - requested + 1 for n in literals.get("visits_total", ())}
        values += sorted({int(v) if int in kinds and float not in kinds else v for v in pool if v >= 0})
    if dt.date in kinds:
        offsets = set()
        for f in _WEEKS:
            offsets |= {7 * n for n in literals.get(f, ())} | {7 * n + 7 for n in literals.get(f, ())}
        for f in _MONTHS:
            offsets |= {math.ceil(30.4375 * n) for n in literals.get(f, ())} | {math.ceil(30.4375 * (n + 1)) for n in literals.get(f, ())}
        values += [day - dt.timedelta(days=int(d)) for d in sorted(offsets) if MIN_DATE <= day - dt.timedelta(days=int(d)) <= MAX_DATE]
    seen, out = set(), []
    for v in values:
        key = (type(v), v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _apply(data: dict, changes) -> dict:
    import copy

    data = copy.deepcopy(data)
    for change in changes:
        target = data
        for part in change.path[:-1]:
            target = target[part]
        target[change.path[-1]] = change.value
    return data


def smallest_changes(engine, case: Case, item_id: str, max_size: int = 3) -> Search:
    """Minimal sets of documented facts under which the real engine no longer upholds the item."""
    search = Search()
    facts = engine.facts(case)
    topic = next(t for iid, t, _ in facts.items if iid == item_id)
    rules = [r for r in engine.base.rules if r.pack.compiles_into(topic)]
    read = {(ref.entity, ref.field) for r in rules for ref in _refs(r)}
    for pack in {r.pack.pack for r in rules}:
        for scope in engine.base.scopes.get(pack, []):
            if scope.when is not None:
                read |= {(ref.entity, ref.field) for ref in refs(scope.when)}
    literals = _literals(rules)
    item = next(i for i in case.requested_items if i.id == item_id)
    requested = getattr(item, "visits_requested", 0)
    data = case.model_dump(mode="python", by_alias=True, exclude={"expected"})
    original = engine.decide(case)
    search.runs += 1
    before = next(i for i in original.items if i.item_id == item_id)
    blockers = _blockers(before)
    base_facts = _signature(facts, item_id, read)

    def run(changes) -> tuple[str, frozenset] | None:
        try:
            modified = Case.model_validate(_apply(data, changes))
        except Exception:  # a combination the case model rejects (e.g. a date after the request)
            return None
        search.runs += 1
        outcome = next(i for i in engine.decide(modified).items if i.item_id == item_id)
        return outcome.decision, _blockers(outcome)

    singles: list[Change] = []
    seen_signatures = set()
    for path, kinds in _undocumented(case):
        for value in _candidates(path, kinds, literals, requested, case.request_date):
            change = Change(path, value)
            try:
                modified = Case.model_validate(_apply(data, [change]))
            except Exception:
                continue
            signature = _signature(engine.facts(modified), item_id, read)
            if signature == base_facts or signature in seen_signatures:
                continue  # changes no fact any rule of the topic reads, or the same facts as a change already tried
            seen_signatures.add(signature)
            singles.append(change)

    helpful: list[Change] = []
    found: list[Counterfactual] = []
    for change in singles:
        result = run([change])
        if result is None:
            continue
        decision, left = result
        if decision != before.decision:
            found.append(Counterfactual((change,), decision))
        elif left < blockers:
            helpful.append(change)
    size = 2
    while not found and size <= max_size:
        for combo in itertools.combinations(helpful, size):
            if len({c.path for c in combo}) < size:
                continue
            result = run(list(combo))
            if result and result[0] != before.decision:
                found.append(Counterfactual(tuple(combo), result[0]))
        size += 1
    found.sort(key=lambda c: (len(c.changes), [ch.label for ch in c.changes], [str(ch.value) for ch in c.changes]))
    search.changes = found[:MAX_REPORTED]
    return search


def _refs(parsed: ParsedRule):
    for expr in (parsed.when, parsed.require):
        if expr is not None:
            yield from refs(expr)


def _blockers(item) -> frozenset:
    """The governing tier's criteria that kept the item from being overturned."""
    return frozenset((o.rule, o.subject, o.status) for o in item.rules if o.rank == item.governing_rank and o.status != "met" and o.deciding) | (
        frozenset() if item.governing_rank is not None else frozenset({("(no governing guideline)", "", "")}))


def _signature(facts, item_id: str, read: set) -> tuple:
    """The facts of the item (and of the case) that a rule of its topic reads."""
    out = []
    for f in facts.case_facts:
        out.extend((f["t"], k, repr(v)) for k, v in sorted(f.items()) if (f["t"], k) in read)
    for iid, _t, item_facts in facts.items:
        if iid == item_id:
            for f in item_facts:
                out.extend((f["t"], k, repr(v)) for k, v in sorted(f.items()) if (f["t"], k) in read or k == "procedure")
    return tuple(sorted(out))
