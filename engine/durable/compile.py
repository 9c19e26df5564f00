"""Compile step: a validated RuleBase becomes durable-rules ruleset definitions (plain JSON).

One ruleset per topic (physical medicine, topical analgesics, ...), so that no ruleset nears the
engine's size limits (error 303 at ~500 rules, a hang past 512) and chained findings stay inside
the ruleset that reads them. Each ruleset holds, in this order of firing:

  1. address rules  - a pack in force on the request date, whose scope matches the item, under the
                      case's jurisdiction profile: `addressed {item, pack, rank}`
  2. criterion rules - each guideline rule, split by Kleene logic into met / not met / not
                      documented alternatives: `finding {item, rule, status, rank}`
  3. govern rules   - gated by the `govern` phase fact: the addressed pack with the best rank,
                      and no better one, `governs` the item (Medical Evidence Search Sequence);
                      findings of packs that did not address the item are withdrawn
  4. decision rules - gated by the `decide` phase fact: aggregate the governing tier's findings
                      into Upheld / Overturned / No rule applies / Not covered

A pack of topic `any` (an edition's scope, the formulary's compounded-drug rule) compiles into
every ruleset, including the fallback one, so that it reaches an item whatever its route.

Actions are described by ActionSpec records; rete.py turns them into the Python callbacks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.language.conditions import RefOperand
from engine.model.diagnostics import Diagnostic, InputError
from engine.facts.build import ENTITY_ORDER, ITEM_ENTITIES, always_present, date_number, mirror
from engine.language.kleene import Test, _and, outcomes, possible
from engine.model.rules import ANY_TOPIC, AppliesTo, Pack
from engine.checks.rulebase import RuleBase

MAX_RULES_PER_RULESET = 400  # measured: error 303 at 483-512 rules, a hang at 513+
MAX_EXPRESSIONS_PER_RULE = 30  # engine error 113 at 32 expressions per join sequence
MAX_FACTS_PER_RULE = 15  # engine error 304 at 16 joined messages
FALLBACK_TOPIC = "unrouted"


@dataclass(frozen=True)
class ActionSpec:
    kind: str  # address | in_force | criterion | govern | withdraw | decision
    rule_id: str = ""
    status: str = ""
    pack: str = ""
    rank: int = 0
    decision: str = ""
    reason: str = ""
    decides: bool = True
    label: str = ""
    absent: tuple = ()  # for a not-documented alternative: the facts whose absence it matched


@dataclass
class RulesetSpec:
    topic: str
    definition: dict = field(default_factory=dict)  # durable-rules JSON, without `run`
    actions: dict[str, ActionSpec] = field(default_factory=dict)

    def add(self, name: str, patterns: list[dict], action: ActionSpec) -> None:
        self.definition[name] = {"all": patterns}
        self.actions[name] = action


@dataclass
class CompiledRules:
    digest: str
    rulesets: dict[str, RulesetSpec]
    pack_ranks: dict[str, dict[str, int]]  # pack -> jurisdiction -> rank
    memberships: Memberships


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def _value(v):
    if isinstance(v, dt.date):
        return date_number(v)
    return v


def _test_expression(test: Test) -> tuple[str, dict]:
    """(entity that carries the test, durable expression)."""
    entity, fld, op, value = test.entity, test.field, test.op, test.value
    if op == "present":
        return entity, {"$ex": {fld: 1}}
    if op == "absent":
        return entity, {"$nex": {fld: 1}}
    if isinstance(value, RefOperand):
        other = value.ref
        if ENTITY_ORDER.index(other.entity) > ENTITY_ORDER.index(entity):
            # durable-rules joins may only look back at earlier facts: move the test to the later one
            entity, fld, op, other_ref, add = other.entity, other.field, _FLIP[op], (test.entity, test.field), -value.add
        else:
            other_ref, add = (other.entity, other.field), value.add
        right = {other_ref[0]: other_ref[1]}
        if add:
            right = {"$add" if add > 0 else "$sub": {"$l": right, "$r": abs(add)}}
        return entity, ({fld: right} if op == "==" else {_OPS[op]: {fld: right}})
    value = _value(value)
    return entity, ({fld: value} if op == "==" else {_OPS[op]: {fld: value}})


def scope_tests(scope: AppliesTo) -> frozenset:
    tests = set()
    for name in ("type", "service", "region", "form"):
        values = getattr(scope, name)
        if values:
            tests.add(Test("item", name, "any_of", tuple(values)) if len(values) > 1 else Test("item", name, "==", values[0]))
    if scope.compounded is not None:
        tests.add(Test("item", "compounded", "==", scope.compounded))
    return frozenset(tests)


def edition_tests(pack: Pack) -> frozenset:
    tests = {Test("request", "date", ">=", pack.effective.from_)}
    if pack.effective.to is not None:
        tests.add(Test("request", "date", "<=", pack.effective.to))
    return frozenset(tests)


class Memberships(dict):
    """Value lists of scopes (`service: [physical_therapy, occupational_therapy]`) as indicator
    properties: (entity, field, values) -> property name, set to true on a fact when its field's
    value is in the list (`facts.add_memberships`), and tested with one shared equality.

    durable-rules has no `in` (#275); its `$or` gets an unshared branch per rule, and a ruleset
    with many of them corrupted the C engine's memory here (`free(): invalid pointer`, an abort).
    Expanding each list into one rule per value is safe but doubles a topic's rules, and a
    session's cost grows with them; one indicator per distinct list costs neither.
    """

    def plain(self, conj) -> frozenset:
        """The conjunction with every value-list test replaced by its indicator test."""
        out = set()
        for t in conj:
            if t.op == "any_of":
                key = (t.entity, t.field, frozenset(t.value))
                name = self.setdefault(key, f"in_{t.field}_{len(self) + 1}")
                t = Test(t.entity, name, "==", True)
            out.add(t)
        return frozenset(out)


def _onto_item(test: Test) -> Test:
    """A literal test of a request field, moved onto the item fact's copy of it (facts.mirror)."""
    if test.entity == "request" and not isinstance(test.value, RefOperand):
        return Test("item", mirror(test.field), test.op, test.value)
    return test


def patterns_for(conj, required=("item",)) -> list[dict]:
    """durable-rules patterns, one per fact, in ENTITY_ORDER, with the per-item joins."""
    by_entity: dict[str, list[dict]] = {e: [] for e in required}
    if "item" in required:
        conj = [_onto_item(t) for t in conj]
        # a comparison with another fact stays on the request (either side): keep its pattern
        if any(t.entity == "request" or (isinstance(t.value, RefOperand) and t.value.ref.entity == "request") for t in conj):
            by_entity.setdefault("request", [])
    for test in sorted(conj, key=lambda t: (t.entity, t.field, t.op, repr(t.value))):
        entity, expression = _test_expression(test)
        by_entity.setdefault(entity, []).append(expression)
    patterns = []
    for entity in ENTITY_ORDER:
        if entity not in by_entity:
            continue
        # literal tests first, the join to the item last: durable-rules shares alpha nodes of equal
        # literal tests, but pushes every join node it reaches onto a 64-deep stack (error 303)
        terms = [{"t": entity}] + by_entity[entity]
        if entity in ITEM_ENTITIES and entity != "item":
            terms.append({"item_id": {"item": "item_id"}})
        patterns.append({entity: {"$and": terms}})
    return patterns


def _count_expressions(patterns: list[dict]) -> int:
    return sum(len(next(iter(p.values()))["$and"]) for p in patterns)


def compile_rules(base: RuleBase) -> CompiledRules:
    problems: list[Diagnostic] = []
    memberships = Memberships()
    pack_ranks = {p.pack: {j: r for j, prof in base.profiles.items() if (r := prof.rank_of(p))} for p in base.packs}
    rulesets: dict[str, RulesetSpec] = {t: RulesetSpec(t) for t in sorted({p.topic for p in base.packs} - {ANY_TOPIC})}
    rulesets[FALLBACK_TOPIC] = RulesetSpec(FALLBACK_TOPIC)

    def targets(pack: Pack) -> list[RulesetSpec]:
        """The rulesets a pack compiles into: its topic's, or every one for topic `any`."""
        return [spec for topic, spec in rulesets.items() if pack.compiles_into(topic)]

    # 1. address and in-force rules
    for topic, spec in rulesets.items():
        # editions of the topic's own packs (the fallback ruleset: of every pack, so an unrouted item
        # can still tell "no edition" from "not addressed")
        _add_in_force(spec, [p for p in base.packs if topic == FALLBACK_TOPIC or p.compiles_into(topic)], pack_ranks)
    for pack in base.packs:
        for jurisdiction, rank in pack_ranks[pack.pack].items():
            for n, scope in enumerate(base.scopes[pack.pack]):
                base_conj = scope_tests(scope.applies_to) | edition_tests(pack) | {Test("request", "jurisdiction", "==", jurisdiction)}
                alternatives = [frozenset(base_conj)]
                if scope.when is not None:
                    alternatives = _and(alternatives, outcomes(scope.when)[0])
                for k, conj in enumerate(alternatives):
                    for spec in targets(pack):
                        spec.add(f"address:{pack.pack}:{jurisdiction}:{n}:{k}", patterns_for(memberships.plain(conj)), ActionSpec("address", pack=pack.pack, rank=rank))

    # 2. criterion rules
    for parsed in base.rules:
        specs = targets(parsed.pack)
        if parsed.require is not None:
            by_status = dict(zip(("met", "not_met", "not_documented"), outcomes(parsed.require)))
        else:
            by_status = {parsed.rule.outcome: [frozenset()]}
        applies = [frozenset(scope_tests(parsed.scope) | edition_tests(parsed.pack))]
        if parsed.when is not None:
            applies = _and(applies, outcomes(parsed.when)[0])
        for status, alternatives in by_status.items():
            for k, conj in enumerate(possible(_and(applies, alternatives), always_present)):
                patterns = patterns_for(memberships.plain(conj))
                if _count_expressions(patterns) > MAX_EXPRESSIONS_PER_RULE or len(patterns) > MAX_FACTS_PER_RULE:
                    problems.append(parsed.source.diagnostic(("rules", parsed.index), "K002",
                        f"rule '{parsed.rule.id}' needs {_count_expressions(patterns)} tests over {len(patterns)} facts; the engine allows {MAX_EXPRESSIONS_PER_RULE} over {MAX_FACTS_PER_RULE}: simplify it"))
                    break
                absent = tuple(sorted(f"{t.entity}.{t.field}" for t in conj if t.op == "absent")) if status == "not_documented" else ()
                for spec in specs:
                    spec.add(f"criterion:{parsed.rule.id}:{status}:{k}", patterns, ActionSpec(
                        "criterion", rule_id=parsed.rule.id, status=status, pack=parsed.pack.pack,
                        decides=parsed.rule.decides, label=parsed.rule.label or "", absent=absent))

    # 3 and 4. search sequence and decision aggregation, in every ruleset (and a fallback one)
    for spec in rulesets.values():
        _add_sequence_and_decisions(spec)
        if len(spec.definition) > MAX_RULES_PER_RULESET:
            problems.append(Diagnostic(str(base.files.root), 1, 1, "K001",
                f"topic '{spec.topic}' compiles to {len(spec.definition)} engine rules; the limit is {MAX_RULES_PER_RULESET}: split the topic"))
    if problems:
        raise InputError(problems)
    return CompiledRules(digest=base.digest, rulesets=rulesets, pack_ranks=pack_ranks, memberships=memberships)


def _add_in_force(spec: RulesetSpec, packs: list[Pack], pack_ranks: dict[str, dict[str, int]]) -> None:
    """`in_force` when the request date is in an edition of a pack that the case's jurisdiction
    ranks: a Texas request in a year only an MTUS edition covers is "Not covered", not "No rule
    applies". One rule per jurisdiction and merged period (not one per pack), so it fires once."""
    for jurisdiction in sorted({j for p in packs for j in pack_ranks[p.pack]}):
        periods = sorted((p.effective.from_, p.effective.to or dt.date.max) for p in packs if jurisdiction in pack_ranks[p.pack])
        merged: list[list] = []
        for start, end in periods:
            if merged and (merged[-1][1] == dt.date.max or start <= merged[-1][1] + dt.timedelta(days=1)):
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            conj = {Test("request", "date", ">=", start), Test("request", "jurisdiction", "==", jurisdiction)}
            if end != dt.date.max:
                conj.add(Test("request", "date", "<=", end))
            spec.add(f"in_force:{jurisdiction}:{start}", patterns_for(conj, required=("request",)), ActionSpec("in_force", pack=f"{jurisdiction}:{start}"))


def _phase(name: str) -> dict:
    return {"phase": {"$and": [{"t": "phase"}, {"name": name}]}}


def _finding(alias: str, status: str | None = None) -> dict:
    terms = [{"t": "finding"}, {"decides": True}] + ([{"status": status}] if status else [])
    terms += [{"item_id": {"governs": "item_id"}}, {"rank": {"governs": "rank"}}]
    return {alias: {"$and": terms}}


def _add_sequence_and_decisions(spec: RulesetSpec) -> None:
    governs = {"governs": {"$and": [{"t": "governs"}]}}
    spec.add("govern", [
        _phase("govern"),
        {"addressed": {"$and": [{"t": "addressed"}]}},
        {"better$not": {"$and": [{"t": "addressed"}, {"item_id": {"addressed": "item_id"}}, {"$lt": {"rank": {"addressed": "rank"}}}]}},
    ], ActionSpec("govern"))
    # a criterion rule's scope is its pack's, but not the `when` of the pack's `addresses` (a
    # postsurgical period, say): a finding of a pack that did not address the item is withdrawn
    # before decisions are taken, so it can neither decide nor block a decision of its tier
    spec.add("withdraw", [
        _phase("govern"),
        {"finding": {"$and": [{"t": "finding"}]}},
        {"addressed$not": {"$and": [{"t": "addressed"}, {"item_id": {"finding": "item_id"}}, {"pack": {"finding": "pack"}}]}},
    ], ActionSpec("withdraw"))
    spec.add("decide:not_met", [_phase("decide"), governs, _finding("finding", "not_met")],
             ActionSpec("decision", decision="Upheld", reason="not_met"))
    spec.add("decide:not_documented", [_phase("decide"), governs, _finding("finding", "not_documented"), _finding("unmet$not", "not_met")],
             ActionSpec("decision", decision="Upheld", reason="not_documented"))
    spec.add("decide:met", [_phase("decide"), governs, _finding("finding", "met"), _finding("unmet$not", "not_met"), _finding("undocumented$not", "not_documented")],
             ActionSpec("decision", decision="Overturned", reason="met"))
    spec.add("decide:no_finding", [_phase("decide"), governs, _finding("any$not")],
             ActionSpec("decision", decision="No rule applies", reason="no_finding"))
    item = {"item": {"$and": [{"t": "item"}]}}
    ungoverned = {"governs$not": {"$and": [{"t": "governs"}, {"item_id": {"item": "item_id"}}]}}
    spec.add("decide:no_edition", [_phase("decide"), item, ungoverned, {"edition$not": {"$and": [{"t": "in_force"}]}}],
             ActionSpec("decision", decision="Not covered", reason="no_edition"))
    spec.add("decide:not_addressed", [_phase("decide"), item, ungoverned, {"edition": {"$and": [{"t": "in_force"}]}}],
             ActionSpec("decision", decision="No rule applies", reason="not_addressed"))
