"""The smallest set of facts whose documentation would have changed an Upheld item.

Found by re-running the real engine (facts -> durable-rules -> aggregate) on modified copies of the
case, never by reasoning outside it: each field the record leaves "not documented" is documented
with plausible values (true/false, the listed choices, numbers and dates at the thresholds the
topic's conditions compare with), one at a time, then two (and three) at a time among the changes
that removed at least one unmet criterion on their own.

Each re-run decides the item alone (the case with only that requested item) when that gives the
item exactly the determination it has in the whole case (items are decided independently; checked
for every search), so a re-run costs one item, not the whole case. The search has a budget: engine
re-runs per item and a deadline for the whole case; a search that reaches either stops with what it
found so far, and says so (`Search.stopped`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import time
import typing
from dataclasses import dataclass, field

from engine.model.case import MAX_DATE, MIN_DATE, NOT_DOCUMENTED, Case
from engine.language.conditions import Compare, leaves, refs
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
    stopped: str | None = None
    """Why the search ended before trying every set it would have tried (a budget), else None."""


@dataclass
class Budget:
    """Limits of a search: engine re-runs per item, and a deadline (time.monotonic()) for the case."""

    runs: int | None = None
    seconds: float | None = None
    deadline: float | None = None

    @classmethod
    def of(cls, runs: int | None = None, seconds: float | None = None) -> "Budget":
        return cls(runs, seconds, time.monotonic() + seconds if seconds is not None else None)

    def spent(self, runs_done: int) -> str | None:
        """Why no further re-run may start, or None."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return f"the time budget of {self.seconds:g} s for the case ran out"
        if self.runs is not None and runs_done >= self.runs:
            return f"the budget of {self.runs} re-runs for the item was reached"
        return None


class _Spent(Exception):
    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


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

    for r in rules:
        for expr in (r.when, r.require):
            for node in leaves(expr) if expr is not None else ():
                if isinstance(node, Compare) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                    out.setdefault(node.ref.field, set()).add(node.value)
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
        least = _least(path)
        values += sorted({int(v) if int in kinds and float not in kinds else v for v in pool if v >= least})
    if dt.date in kinds:
        offsets = set()
        for f in _WEEKS:
            offsets |= {7 * n for n in literals.get(f, ())} | {7 * n + 7 for n in literals.get(f, ())}
        for f in _MONTHS:
            offsets |= {math.ceil(30.4375 * n) for n in literals.get(f, ())} | {math.ceil(30.4375 * (n + 1)) for n in literals.get(f, ())}
        span = (day - MIN_DATE).days  # an offset past it (a rule's literal of millions of weeks) names no date
        values += [day - dt.timedelta(days=int(d)) for d in sorted(offsets) if 0 <= d <= span and day - dt.timedelta(days=int(d)) <= MAX_DATE]
    seen, out = set(), []
    for v in values:
        key = (type(v), v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _least(path: tuple) -> int:
    """The smallest count a change may document at `path` without contradicting the record. A
    treatment history line is how a case says a treatment happened (the facts read a line whose
    count is not documented as a prior course, `history.prior`): its `visits_completed` is at least
    1, never 0 ("no therapy"), which would undo what the record documents."""
    return 1 if path[0] == "treatment_history" and path[-1] == "visits_completed" else 0


def _apply(data: dict, changes) -> dict:
    import copy

    data = copy.deepcopy(data)
    for change in changes:
        target = data
        for part in change.path[:-1]:
            target = target[part]
        target[change.path[-1]] = change.value
    return data


def _alone(engine, case: Case, data: dict, index: int, before) -> tuple[Case, dict] | None:
    """The case with only the item at `index`, if the engine decides that item alone exactly as in
    the whole case (then a re-run decides one item instead of all of them); else None."""
    alone_data = {**data, "requested_items": [data["requested_items"][index]]}
    try:
        alone = Case.model_validate(alone_data)
    except Exception:  # a case the model accepts only whole
        return None
    return (alone, alone_data) if engine.decide(alone).items[0] == before else None


def smallest_changes(engine, case: Case, item_id: str, max_size: int = 3, budget: Budget | None = None, progress=None) -> Search:
    """Minimal sets of documented facts under which the real engine no longer upholds the item.
    `budget` bounds the search (it stops, with `stopped` saying why); `progress(runs)` is called
    after each engine re-run."""
    search = Search()
    budget = budget or Budget()
    if (why := budget.spent(0)) is not None:
        search.stopped = why
        return search
    index = next(k for k, i in enumerate(case.requested_items) if i.id == item_id)
    data = case.model_dump(mode="python", by_alias=True, exclude={"expected"})
    original = engine.decide(case)
    search.runs += 1
    before = next(i for i in original.items if i.item_id == item_id)
    whole_index = index
    if len(case.requested_items) > 1:
        search.runs += 1
        if (alone := _alone(engine, case, data, index, before)) is not None:
            case, data = alone
            index = 0
    try:
        _search(engine, case, data, item_id, before, max_size, budget, progress, search)
    except _Spent as spent:
        search.stopped = spent.why
    found = search.changes
    if index != whole_index:  # the item's own fields, named at its place in the whole case
        found = [Counterfactual(tuple(Change(("requested_items", whole_index, *c.path[2:]) if c.path[:2] == ("requested_items", 0) else c.path, c.value)
                                      for c in cf.changes), cf.decision) for cf in found]
    found.sort(key=lambda c: (len(c.changes), [ch.label for ch in c.changes], [str(ch.value) for ch in c.changes]))
    search.changes = found[:MAX_REPORTED]
    return search


def _search(engine, case: Case, data: dict, item_id: str, before, max_size: int, budget: Budget, progress, search: Search) -> None:
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
    blockers = _blockers(before)
    base_facts = _signature(facts, item_id, read)
    found = search.changes

    def run(changes) -> tuple[str, frozenset] | None:
        if (why := budget.spent(search.runs)) is not None:
            raise _Spent(why)
        try:
            modified = Case.model_validate(_apply(data, changes))
        except Exception:  # a combination the case model rejects (e.g. a date after the request)
            return None
        search.runs += 1
        outcome = next(i for i in engine.decide(modified).items if i.item_id == item_id)
        if progress is not None:
            progress(search.runs)
        return outcome.decision, _blockers(outcome)

    singles: list[Change] = []
    seen_signatures = set()
    for path, kinds in _undocumented(case):
        if budget.deadline is not None and time.monotonic() >= budget.deadline:
            raise _Spent(budget.spent(0) or "the time budget ran out")
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
