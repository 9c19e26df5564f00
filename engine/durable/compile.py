"""Compile step: a validated RuleBase becomes durable-rules ruleset definitions (plain JSON), cut
so that an item pays only for the rules that could address it and no ruleset nears the C engine's
limits, whatever the size of the rule base.

The cut, per topic (physical medicine, topical analgesics, ...; an unrouted item goes to a fallback
topic), every decision still made by rules fired in durable-rules, in this order:

  1. route ruleset `route:<topic>`: address rules (a pack in force on the request date, whose
     scope matches the item, under the case's jurisdiction profile: `addressed {item, pack, rank}`)
     and in-force rules (some ranked edition covers the request date: `in_force {item}`). If a
     topic has too many packs for one ruleset, its address rules are split into address-only
     rulesets (`address:<topic>:<n>`).
  2. criterion shards `criteria:<topic>:<pack>[...]`: each guideline rule, split by Kleene logic
     into met / not met / not documented alternatives: `finding {item, rule, status, rank,
     decides}`. What silence means is the rule's `silence:`: a requirement's every outcome decides;
     an exclusion's not documented, and a supporting rule's not met and not documented, are
     findings with `decides: false` (shown in the letter, never counted by a decision rule). A
     shard runs only for the items one of its packs addressed (step 1), so the rules of packs that
     cannot address an item cost that item nothing. A large pack is split at compile time; the
     producers and readers of a `finding.label` stay in one shard (`_label_groups`); the rules of
     a pack that join several facts (an ingredient, a finding) are a shard of their own
     (`...:joins`), since only rules matching one fact can share a long-lived session
     (durable/session.py). A pack of topic `any` (an edition's scope, the formulary's
     compounded-drug rule) has its address rules in every route ruleset and its criterion rules in
     shared shards (or, where they chain on labels with a topic's rules, in that topic's).
  3. decide ruleset (one, fixed): the items, their addressed / in-force facts and findings, then
     the `govern` phase fact: the addressed pack with the best rank, and no better one, `governs`
     the item (Medical Evidence Search Sequence); findings of packs that did not address the item
     are withdrawn; then the `decide` phase fact: the governing tier's findings are aggregated
     into Upheld / Overturned / No rule applies / Not covered.

Facts: each item's single-valued facts (the item, its history, diagnosis profile and surgery, and
the case's request, patient, clinical findings and medication summary) are one folded fact `item`
whose properties are named `entity.field` (durable.encode), so a criterion rule matches one fact
without joins; a comparison of two fields becomes a test within that fact (`$m`). Ingredients and
findings stay facts of their own, joined on `item_id`. Each ruleset is given only the properties
its rules read (`RulesetSpec.reads`). Each rule fires once per session with all its bindings
(`cap`), not once per binding.

Limits (measured on durable-rules 2.0.28, tests/test_sharding.py, and read in its C source:
`rete.h`, `rules.h`, `events.c`): see `ENGINE_LIMITS`. The compiler simulates how durable-rules
builds its alpha network (a node shared by equal tests in equal order from the root, `shape_of`)
to count, per ruleset, the tests under one node, the patterns ending at one node, the alpha stack
one fact can need, and keeps each ruleset within `KEEP` (about half of each limit) by splitting
it; what cannot be split (one rule, one label chain) and would pass a limit is refused with a K
diagnostic at its file and line, so `imr validate` refuses it before any decision.

Actions are described by ActionSpec records; durable/session.py turns them into the Python callbacks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from engine.checks.rulebase import RuleBase
from engine.durable.encode import FOLD_ENTITIES, date_number, prop
from engine.facts.schema import always_present
from engine.language.conditions import RefOperand
from engine.language.kleene import Test, _and, outcomes, possible
from engine.language.scope import edition_tests, scope_tests
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.rules import ANY_TOPIC, SILENT_STATUSES, Pack

FALLBACK_TOPIC = "unrouted"
MARKERS = ("in_force", "covered", "encoded")
"""Route actions that mark an item for the decide ruleset: an edition of its topic in force, the date
inside the jurisdiction's history, some pack of its topic for the jurisdiction."""
CAP = 1000
"""Each rule fires with up to this many bindings at once (durable's `cap`): one round trip per rule
and session, not one per binding."""


@dataclass(frozen=True)
class EngineLimits:
    """What durable-rules 2.0.28 accepts, found by experiment (tests/test_sharding.py keeps them)."""

    node_children: int = 511
    """Tests under one alpha node (its child hash set, NEXT_BUCKET_LENGTH 512): at 512 asserting a fact
    never returns, at 513 creating the ruleset never returns."""
    node_absences: int = 127
    """Absence tests (`$nex`) under one alpha node (NEXT_LIST_LENGTH 128): the 128th is written past
    the list, silently; error 107 after."""
    node_betas: int = 255
    """Rule patterns ending at one alpha node (BETA_LIST_LENGTH 256): the 256th and 257th are written
    past the list, silently corrupting another node's; error 108 after."""
    alpha_stack: int = 64
    """Alpha nodes pending while one fact is matched (MAX_STACK_SIZE): error 303 on assert. On a
    session that never ran an action, the delete_state that follows frees an uninitialised pointer
    and aborts the process (`free(): invalid size`, exit 134): the abort seen at 300-400 rules."""
    pattern_refs: int = 29
    """Tests comparing with another fact in one pattern (MAX_SEQUENCE_EXPRESSIONS 32, with the
    pattern's own AND and END): error 113 at 30."""
    rule_patterns: int = 16
    """Facts one rule joins (MAX_MESSAGE_FRAMES): error 304 on assert at 17."""
    ruleset_rules: int = 4095
    """Rules of one ruleset (MAX_ACTIONS 4096): error 106."""
    fact_properties: int = 255
    """Properties of one fact (MAX_OBJECT_PROPERTIES): error 302."""


ENGINE_LIMITS = EngineLimits()
KEEP = EngineLimits(node_children=128, node_absences=32, node_betas=64, alpha_stack=32, pattern_refs=29,
                    rule_patterns=16, ruleset_rules=256, fact_properties=200)
"""What the compiler keeps every ruleset within: about half of each node limit, well past what any
ruleset of the project's rule base needs (`imr bench` prints the largest figures)."""


@dataclass(frozen=True)
class ActionSpec:
    kind: str  # address | in_force | covered | encoded | criterion | govern | withdraw | decision | prime
    rule_id: str = ""
    status: str = ""
    pack: str = ""
    rank: int = 0
    decision: str = ""
    reason: str = ""
    decides: bool = True
    label: str = ""
    absent: tuple = ()  # for a not-documented alternative: the facts whose absence it matched
    report: str = ""
    """For a criterion of a `report` pack, and a report rule: the question it answers (prospective_review)."""


@dataclass
class Shape:
    """The figures of a ruleset's alpha network that durable-rules' limits bound."""

    rules: int = 0
    node_children: int = 0
    node_absences: int = 0
    node_betas: int = 0
    alpha_stack: int = 0
    pattern_refs: int = 0
    rule_patterns: int = 0
    fact_properties: int = 0

    def over(self, limits: EngineLimits) -> list[str]:
        """The figures past `limits`, in words."""
        words = {"rules": ("ruleset_rules", "rules"), "node_children": ("node_children", "tests under one alpha node"),
                 "node_absences": ("node_absences", "absence tests under one alpha node"),
                 "node_betas": ("node_betas", "patterns ending at one alpha node"),
                 "alpha_stack": ("alpha_stack", "alpha nodes pending for one fact"),
                 "pattern_refs": ("pattern_refs", "comparisons with another fact in one pattern"),
                 "rule_patterns": ("rule_patterns", "facts joined by one rule"),
                 "fact_properties": ("fact_properties", "properties of one fact")}
        return [f"{getattr(self, mine)} {what} (at most {getattr(limits, name)})"
                for mine, (name, what) in words.items() if getattr(self, mine) > getattr(limits, name)]


def _term_key(term: dict) -> tuple:
    (key, value), = term.items()
    if key.startswith("$"):
        (name, operand), = value.items()
        return name, key, json.dumps(operand, sort_keys=True)
    return key, "$eq", json.dumps(value, sort_keys=True)


def shape_of(definition: dict) -> Shape:
    """Simulate durable-rules' alpha network (rete.c: findAlpha shares a node between patterns whose
    tests are equal in the same order from the root) and measure it."""
    children: dict[tuple, dict] = {(): {}}
    ends: dict[tuple, int] = {}
    out = Shape(rules=len(definition))
    props = set()
    for rule in definition.values():
        patterns = rule["all"]
        out.rule_patterns = max(out.rule_patterns, len(patterns))
        for pattern in patterns:
            (alias, body), = pattern.items()
            node, refs = (), 0
            for term in body["$and"]:
                key = _term_key(term)
                if alias == "item":
                    props.add(key[0])
                if key[1] != "$nex" and key[2].startswith("{") and '"$m"' not in key[2]:
                    refs += 1
                child = node + (key,)
                children.setdefault(node, {})[key] = child
                children.setdefault(child, {})
                node = child
            ends[node] = ends.get(node, 0) + 1
            out.pattern_refs = max(out.pattern_refs, refs)
    out.node_betas = max(ends.values(), default=0)
    out.fact_properties = len(props | {"t", "id", "sid", "item_id"})

    def pushable(kids: dict) -> int:
        # equality tests of one property with literal values are exclusive: one of them can match
        literal_eq = {k[0] for k in kids if k[1] == "$eq" and not k[2].startswith("{")}
        return len(literal_eq) + sum(1 for k in kids if not (k[1] == "$eq" and not k[2].startswith("{")))

    for kids in children.values():
        out.node_children = max(out.node_children, sum(1 for k in kids if k[1] != "$nex"))
        out.node_absences = max(out.node_absences, sum(1 for k in kids if k[1] == "$nex"))
    # the alpha stack: at most the pushable children of every node on a path from the root
    best, todo = 0, [((), 0)]
    while todo:
        node, above = todo.pop()
        here = above + pushable(children[node])
        best = max(best, here)
        todo.extend((child, here) for child in children[node].values())
    out.alpha_stack = best
    return out


@dataclass
class RulesetSpec:
    name: str
    role: str  # route | address | criteria
    topic: str = ""
    packs: tuple = ()
    definition: dict = field(default_factory=dict)  # durable-rules JSON, without `run`
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    order: int = 0
    """Where the shard's first rule stands in the rule base (shards run in this order)."""
    reads: tuple = ()
    """Properties of the folded item fact its rules read (what is asserted into it)."""
    ingredient_reads: tuple = ()
    asserts_findings: object = None
    """For a shard whose rules read findings: the labels whose findings are asserted back into it,
    or "all"; None when no rule of it reads a finding."""
    shape: Shape | None = None
    per_case: bool = False
    """A session per case (created, then deleted) instead of one long-lived session whose facts are
    retracted: for a ruleset with a rule joining several facts (see durable/session.py: retracting
    the facts of such a rule once it has fired corrupts durable-rules' memory)."""

    def add(self, name: str, patterns: list[dict], action: ActionSpec) -> None:
        self.definition[name] = {"all": patterns, "cap": CAP}
        self.actions[name] = action


@dataclass
class TopicRules:
    """Everything an item of one topic is decided by: its route ruleset, any address-only ones,
    and the criterion shards of the packs that may address it (pack -> shard names, in order)."""

    topic: str
    route: RulesetSpec
    decide: RulesetSpec
    addressers: list[RulesetSpec] = field(default_factory=list)
    shards: dict[str, RulesetSpec] = field(default_factory=dict)
    shards_of: dict[str, list[str]] = field(default_factory=dict)

    def specs(self) -> list[RulesetSpec]:
        return [self.route, *self.addressers, *self.shards.values(), self.decide]

    @property
    def definition(self) -> dict:
        """Every engine rule the topic's items can meet, by name (a view over its rulesets)."""
        out = {}
        for spec in self.specs():
            out.update((k, v) for k, v in spec.definition.items() if k != PRIME)
        return out


@dataclass
class CompiledRules:
    digest: str
    rulesets: dict[str, TopicRules]
    """topic -> its rules (the fallback topic included)."""
    pack_ranks: dict[str, dict[str, int]]  # pack -> jurisdiction -> rank
    memberships: Memberships


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_SLOTS = ("item", "ingredient", "finding")
"""The facts a rule's patterns bind, in pattern order: the folded item fact, then the multi facts."""
SCOPE_FIELDS = ("type", "service", "region", "form", "compounded")
PRIME = "prime"


def _slot(entity: str) -> str:
    return "item" if entity in FOLD_ENTITIES else entity


def _name(entity: str, fld: str) -> str:
    """The property a test reads: `entity.field` on the folded item fact, the field itself on a multi fact."""
    return prop(entity, fld) if entity in FOLD_ENTITIES else fld


def _value(v):
    if isinstance(v, dt.date):
        return date_number(v)
    return v


def _test_expression(test: Test) -> tuple[str, dict]:
    """(slot whose pattern carries the test, durable expression)."""
    entity, fld, op, value = test.entity, test.field, test.op, test.value
    if op == "present":
        return _slot(entity), {"$ex": {_name(entity, fld): 1}}
    if op == "absent":
        return _slot(entity), {"$nex": {_name(entity, fld): 1}}
    if isinstance(value, RefOperand):
        other = value.ref
        here, there = _slot(entity), _slot(other.entity)
        add = value.add
        if _SLOTS.index(there) > _SLOTS.index(here):
            # durable-rules joins may only look back at earlier facts: move the test to the later one
            entity, fld, op, other, add = other.entity, other.field, _FLIP[op], test, -add
            here, there = there, here
            other_name = _name(test.entity, test.field)
        else:
            other_name = _name(other.entity, other.field)
        right = {"$m": other_name} if here == there else {there: other_name}
        if add:
            right = {"$add" if add > 0 else "$sub": {"$l": right, "$r": abs(add)}}
        name = _name(entity, fld)
        return here, ({name: right} if op == "==" else {_OPS[op]: {name: right}})
    value = _value(value)
    name = _name(entity, fld)
    return _slot(entity), ({name: value} if op == "==" else {_OPS[op]: {name: value}})


class Memberships(dict):
    """Value lists of scopes (`service: [physical_therapy, occupational_therapy]`) as indicator
    properties: (entity, field, values) -> property name, set to true on a fact when its field's
    value is in the list (`durable.encode`), and tested with one shared equality.

    durable-rules has no `in` (#275); its `$or` gets an unshared branch per rule, and a ruleset
    with many of them corrupted the C engine's memory here (`free(): invalid pointer`, an abort).
    Expanding each list into one rule per value is safe but doubles a topic's rules; one indicator
    per distinct list costs neither. Names come from the list's content, so two compilations of
    rule bases sharing a list name it alike.
    """

    def plain(self, conj) -> frozenset:
        """The conjunction with every value-list test replaced by its indicator test."""
        out = set()
        for t in conj:
            if t.op == "any_of":
                values = frozenset(t.value)
                key = (t.entity, t.field, values)
                digest = hashlib.sha1("\0".join(sorted(map(str, values))).encode()).hexdigest()[:8]
                name = self.setdefault(key, f"in_{t.field}_{digest}")
                t = Test(t.entity, name, "==", True)
            out.add(t)
        return frozenset(out)


def _order(test: Test) -> tuple:
    """Scope tests first, then the request's (edition, jurisdiction), then the rule's own: the rules
    of one pack then share one chain of alpha nodes up to where their own tests begin."""
    if test.entity == "item" and (test.field in SCOPE_FIELDS or test.field.startswith("in_")):
        group = 0
    elif test.entity == "request":
        group = 1
    else:
        group = 2
    return group, test.entity, test.field, test.op, repr(test.value)


def patterns_for(conj) -> list[dict]:
    """durable-rules patterns: the folded item fact, then each multi fact joined on item_id."""
    by_slot: dict[str, list[dict]] = {"item": []}
    for test in sorted(conj, key=_order):
        slot, expression = _test_expression(test)
        by_slot.setdefault(slot, []).append(expression)
    patterns = []
    for slot in _SLOTS:
        if slot not in by_slot:
            continue
        # literal tests first, the join to the item last: durable-rules shares alpha nodes of equal
        # literal tests, but pushes every join node it reaches onto a 64-deep stack (error 303)
        terms = [{"t": slot}] + by_slot[slot]
        if slot != "item":
            terms.append({"item_id": {"item": "item_id"}})
        patterns.append({slot: {"$and": terms}})
    return patterns


def _operand_refs(operand, own: str, out: list) -> None:
    """(alias, property) of every reference in a test's operand; `$m` is the pattern's own fact."""
    if isinstance(operand, dict):
        for k, v in operand.items():
            if k == "$m" and isinstance(v, str):
                out.append((own, v))
            elif k in ("$l", "$r", "$add", "$sub"):
                _operand_refs(v, own, out)
            elif not k.startswith("$") and isinstance(v, str):
                out.append((k, v))


def _reads(definition: dict) -> tuple[tuple, tuple]:
    """(folded-item properties, ingredient properties) a ruleset's rules read: all that is asserted
    into it. The others never match a test, so leaving them out changes nothing but the cost."""
    reads = {"item": {"t", "item_id"}, "ingredient": {"t", "item_id", "drug"}}
    for rule in definition.values():
        for pattern in rule["all"]:
            (alias, body), = pattern.items()
            alias = alias[:-4] if alias.endswith("$not") else alias
            for term in body["$and"]:
                (key, value), = term.items()
                name, operand = next(iter(value.items())) if key.startswith("$") else (key, value)
                if alias in reads:
                    reads[alias].add(name)
                refs: list = []
                _operand_refs(operand, alias, refs)
                for other, name in refs:
                    if other in reads:
                        reads[other].add(name)
    return tuple(sorted(reads["item"])), tuple(sorted(reads["ingredient"]))


# ------------------------------------------------------------------ the compiler


@dataclass
class _Rule:
    """One engine rule to place: its name, patterns, action, and where it comes from."""

    name: str
    patterns: list
    action: ActionSpec
    index: int  # position of its guideline rule in the rule base
    source: object = None  # the ParsedRule (criterion rules)


def compile_rules(base: RuleBase) -> CompiledRules:
    problems: list[Diagnostic] = []
    memberships = Memberships()
    pack_ranks = {p.pack: {j: r for j, prof in base.profiles.items() if (r := prof.rank_of(p)) is not None} for p in base.packs}
    """pack -> jurisdiction -> rank; 0 for a statute or report pack, which never governs."""
    topics = sorted({p.topic for p in base.packs} - {ANY_TOPIC}) + [FALLBACK_TOPIC]

    # criterion engine rules of each guideline rule, in rule-base order
    criteria: dict[str, list[_Rule]] = {}
    for index, parsed in enumerate(base.rules):
        out = criteria[parsed.rule.id] = []
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
                single = shape_of({"r": {"all": patterns}})
                if single.over(ENGINE_LIMITS):
                    problems.append(parsed.source.diagnostic(("rules", parsed.index), "K002",
                        f"rule '{parsed.rule.id}' needs {', '.join(single.over(ENGINE_LIMITS))}, beyond what durable-rules allows: simplify it"))
                    break
                absent = tuple(sorted(f"{t.entity}.{t.field}" for t in conj if t.op == "absent")) if status == "not_documented" else ()
                out.append(_Rule(f"criterion:{parsed.rule.id}:{status}:{k}", patterns, ActionSpec(
                    "criterion", rule_id=parsed.rule.id, status=status, pack=parsed.pack.pack,
                    decides=parsed.rule.decides and parsed.pack.role != "report" and status not in SILENT_STATUSES[parsed.rule.silence or "requirement"],
                    label=parsed.rule.label or "", absent=absent, report=parsed.pack.reports or ""), index, parsed))

    connected = _label_connected(base, criteria)
    shared: dict[str, list[RulesetSpec]] = {}  # any-pack -> its shards outside label chains, compiled once
    for pack in base.packs:
        if pack.topic == ANY_TOPIC:
            atoms = [criteria[p.rule.id] for p in base.rules if p.pack.pack == pack.pack and p.rule.id not in connected and criteria[p.rule.id]]
            if atoms:
                shared[pack.pack] = _split_by_joins(f"criteria:{pack.pack}", atoms, "", problems)

    decide = RulesetSpec("decide", "decide", per_case=True)
    _add_sequence_and_decisions(decide)
    _add_adoptions(decide, base, pack_ranks)
    _add_reports(decide, base)
    decide.shape = shape_of(decide.definition)
    _finish(decide)
    rulesets: dict[str, TopicRules] = {}
    for topic in topics:
        reach = [p for p in base.packs if (p.compiles_into(topic) if topic != FALLBACK_TOPIC else p.topic == ANY_TOPIC)]
        route = RulesetSpec(f"route:{topic}", "route", topic)
        # in force: editions of the topic's packs (the fallback: of every pack, so an unrouted item
        # can still tell "no edition" from "not addressed")
        editions = [p for p in (base.packs if topic == FALLBACK_TOPIC else reach) if p.role == "guideline"]  # a statute is no edition
        _add_in_force(route, editions, pack_ranks)
        _add_history(route, base.profiles)
        _add_encoded(route, [] if topic == FALLBACK_TOPIC else [p for p in editions if p.topic == topic], pack_ranks)
        address = []
        for pack in reach:
            for jurisdiction, rank in pack_ranks[pack.pack].items():
                for n, scope in enumerate(base.scopes[pack.pack]):
                    base_conj = scope_tests(scope.applies_to) | edition_tests(pack) | {Test("request", "jurisdiction", "==", jurisdiction)}
                    alternatives = [frozenset(base_conj)]
                    if scope.when is not None:
                        alternatives = _and(alternatives, outcomes(scope.when)[0])
                    for k, conj in enumerate(alternatives):
                        address.append(_Rule(f"address:{pack.pack}:{jurisdiction}:{n}:{k}", patterns_for(memberships.plain(conj)),
                                             ActionSpec("address", pack=pack.pack, rank=rank), 0))
        plan = TopicRules(topic, route, decide)
        trial = {**route.definition, **{r.name: {"all": r.patterns} for r in address}}
        if shape_of(trial).over(KEEP):
            # too many packs for one ruleset: address-only rulesets beside the route one
            plan.addressers = _shards(f"address:{topic}", [[r] for r in address], topic, problems, role="address")
        else:
            for r in address:
                route.add(r.name, r.patterns, r.action)
        route.shape = shape_of(route.definition)
        for problem in route.shape.over(ENGINE_LIMITS):  # in-force rules alone: never seen
            problems.append(Diagnostic(str(base.files.root), 1, 1, "K001", f"topic '{topic}': its route ruleset has {problem}"))
        _finish(route)
        # criterion shards: the topic's own packs (with the any-pack rules chained to them by
        # labels), then the shared shards of the any-packs
        local = [criteria[p.rule.id] for p in base.rules if criteria[p.rule.id] and p.pack.compiles_into(topic)
                 and (p.pack.topic == topic or (p.pack.topic == ANY_TOPIC and p.rule.id in connected))]
        specs: list[RulesetSpec] = []
        for key, units in _label_groups(local).items():
            specs.extend(_split_by_joins(f"criteria:{topic}:{key}", units, topic, problems))
        for pack in reach:
            specs.extend(shared.get(pack.pack, []))
        specs.sort(key=lambda s: s.order)
        for spec in specs:
            plan.shards[spec.name] = spec
            for pack in spec.packs:
                plan.shards_of.setdefault(pack, []).append(spec.name)
        rulesets[topic] = plan
    if problems:
        raise InputError(problems)
    return CompiledRules(digest=base.digest, rulesets=rulesets, pack_ranks=pack_ranks, memberships=memberships)


def _labels_read(rules: list[_Rule]) -> set | None:
    """The finding labels a guideline rule's engine rules read (None: some read findings whatever
    their label; empty: none reads a finding)."""
    labels: set = set()
    for r in rules:
        for pattern in r.patterns:
            if "finding" not in pattern:
                continue
            found = [t["label"] for t in pattern["finding"]["$and"] if "label" in t and isinstance(t["label"], str)]
            if not found:
                return None
            labels.update(found)
    return labels


def _label_connected(base: RuleBase, criteria: dict[str, list[_Rule]]) -> set[str]:
    """Rules of packs of topic `any` that chain on labels with a rule of another pack: they are
    compiled into each topic's shards (as the other pack's rules are), not into shared ones."""
    producers: dict[str, set[str]] = {}  # label -> packs producing it
    readers: list[tuple] = []
    for parsed in base.rules:
        if parsed.rule.label:
            producers.setdefault(parsed.rule.label, set()).add(parsed.pack.pack)
        read = _labels_read(criteria[parsed.rule.id])
        if read != set():
            readers.append((parsed, read))
    every = set().union(*producers.values()) if producers else set()
    out = set()
    for parsed, read in readers:  # a reader, and the producers it reads
        packs = every if read is None else set().union(*(producers.get(label, set()) for label in read))
        for other in base.rules:
            if other.rule.label and other.pack.pack in packs and (read is None or other.rule.label in read) \
                    and other.pack.pack != parsed.pack.pack:
                if parsed.pack.topic == ANY_TOPIC:
                    out.add(parsed.rule.id)
                if other.pack.topic == ANY_TOPIC:
                    out.add(other.rule.id)
    return out


def _label_groups(atoms: list[list[_Rule]]) -> dict[str, list[list[_Rule]]]:
    """Units that must share a ruleset, grouped by pack: each guideline rule (its alternatives)
    alone, except that the rules producing a label and those reading it are one unit (a chain);
    a chain across packs forms a group of its own (`pack+pack`). In rule-base order."""
    parent = list(range(len(atoms)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    producers: dict[str, list[int]] = {}
    for i, atom in enumerate(atoms):
        if atom[0].source.rule.label:
            producers.setdefault(atom[0].source.rule.label, []).append(i)
    for i, atom in enumerate(atoms):
        read = _labels_read(atom)
        linked = [j for js in producers.values() for j in js] if read is None else [j for label in read for j in producers.get(label, [])]
        for j in linked:
            parent[find(j)] = find(i)
    members: dict[int, list[int]] = {}
    for i in range(len(atoms)):
        members.setdefault(find(i), []).append(i)
    groups: dict[str, list[list[_Rule]]] = {}
    for indices in sorted(members.values()):
        unit = [r for i in indices for r in atoms[i]]
        key = "+".join(sorted({r.action.pack for r in unit}, key=lambda p: min(r.index for r in unit if r.action.pack == p)))
        groups.setdefault(key, []).append(unit)
    return groups


def _split_by_joins(prefix: str, units: list[list[_Rule]], topic: str, problems: list) -> list[RulesetSpec]:
    """Shards of a group: the units whose rules each match one fact (retracted after each case from
    a long-lived session), and apart from them those joining facts (ingredients, findings: a
    session per case). A label chain stays whole."""
    single = [u for u in units if all(len(r.patterns) == 1 for r in u)]
    joined = [u for u in units if not all(len(r.patterns) == 1 for r in u)]
    out = _shards(prefix, single, topic, problems) if single else []
    if joined:
        out += _shards(f"{prefix}:joins", joined, topic, problems, per_case=True)
    return out


def _shards(prefix: str, atoms: list[list[_Rule]], topic: str, problems: list, role: str = "criteria",
            per_case: bool = False) -> list[RulesetSpec]:
    """Rulesets holding `atoms` (each a list of engine rules that must share a ruleset), in order,
    each within KEEP: chunks by rule count, halved until each one fits."""
    chunks, current, count = [], [], 0
    for atom in atoms:
        if current and count + len(atom) > KEEP.ruleset_rules - 1:
            chunks.append(current)
            current, count = [], 0
        current.append(atom)
        count += len(atom)
    if current:
        chunks.append(current)
    fitted: list[list[list[_Rule]]] = []
    todo = list(reversed(chunks))
    while todo:
        chunk = todo.pop()
        definition = {r.name: {"all": r.patterns} for atom in chunk for r in atom}
        over = shape_of(definition).over(KEEP)
        if over and len(chunk) > 1:
            half = len(chunk) // 2
            todo.extend([chunk[half:], chunk[:half]])
            continue
        if over and shape_of(definition).over(ENGINE_LIMITS):
            first = chunk[0][0]
            where = first.source
            message = f"{'label chain from ' if len(chunk[0]) > 1 and len({r.action.rule_id for r in chunk[0]}) > 1 else ''}rule '{first.action.rule_id or first.name}' compiles to a ruleset with {', '.join(shape_of(definition).over(ENGINE_LIMITS))}, beyond what durable-rules allows: split it"
            if where is not None:
                problems.append(where.source.diagnostic(("rules", where.index), "K001", message))
            else:
                problems.append(Diagnostic(topic or "rules", 1, 1, "K001", message))
            continue
        fitted.append(chunk)
    out = []
    for n, chunk in enumerate(fitted):
        spec = RulesetSpec(f"{prefix}:{n}" if len(fitted) > 1 else prefix, role, topic, per_case=per_case)
        for atom in chunk:
            for r in atom:
                spec.add(r.name, r.patterns, r.action)
        spec.packs = tuple(dict.fromkeys(r.action.pack for atom in chunk for r in atom))
        spec.order = min(r.index for atom in chunk for r in atom)
        if role == "criteria":
            read = [_labels_read(atom) for atom in chunk]
            if any(x is None for x in read):
                spec.asserts_findings = "all"
            elif any(read):
                spec.asserts_findings = frozenset().union(*read)
        spec.shape = shape_of(spec.definition)
        _finish(spec)
        out.append(spec)
    return out


def _finish(spec: RulesetSpec) -> None:
    """What the ruleset reads, and the priming rule first (durable/session.py)."""
    spec.reads, spec.ingredient_reads = _reads(spec.definition)
    spec.definition = {PRIME: {"all": [{"prime": {"$and": [{"t": "$prime"}]}}]}, **spec.definition}
    spec.actions[PRIME] = ActionSpec("prime")


def _add_in_force(spec: RulesetSpec, packs: list[Pack], pack_ranks: dict[str, dict[str, int]]) -> None:
    """`in_force` when the request date is in an edition of a pack that the case's jurisdiction
    ranks (a Texas request in a year only an MTUS edition covers is not in force for Texas)."""
    for jurisdiction in sorted({j for p in packs for j in pack_ranks[p.pack]}):
        _add_periods(spec, "in_force", jurisdiction, [p.effective for p in packs if jurisdiction in pack_ranks[p.pack]])


def _add_history(spec: RulesetSpec, profiles: dict) -> None:
    """`covered` when the request date is inside the jurisdiction's guideline history (its
    profile's `history`, encoded or not): such an item is never "Not covered"."""
    for jurisdiction, profile in sorted(profiles.items()):
        _add_periods(spec, "covered", jurisdiction, [e.effective for e in profile.history])


def _add_periods(spec: RulesetSpec, kind: str, jurisdiction: str, spans: list) -> None:
    """One rule per merged period of `spans` (Effective), not one per span, so that the mark `kind`
    fires once an item whose request in `jurisdiction` is dated inside."""
    periods: list[list] = []
    for start, end in sorted((e.from_, e.to or dt.date.max) for e in spans):
        if periods and (periods[-1][1] == dt.date.max or start <= periods[-1][1] + dt.timedelta(days=1)):
            periods[-1][1] = max(periods[-1][1], end)
        else:
            periods.append([start, end])
    for start, end in periods:
        conj = {Test("request", "date", ">=", start), Test("request", "jurisdiction", "==", jurisdiction)}
        if end != dt.date.max:
            conj.add(Test("request", "date", "<=", end))
        spec.add(f"{kind}:{jurisdiction}:{start}", patterns_for(conj), ActionSpec(kind, pack=f"{jurisdiction}:{start}"))


def _add_encoded(spec: RulesetSpec, packs: list[Pack], pack_ranks: dict[str, dict[str, int]]) -> None:
    """`encoded` when some pack of this very topic (not a pack for any topic) is ranked by the
    case's jurisdiction, at any date: it tells "this edition is not encoded" from "this topic is not"."""
    for jurisdiction in sorted({j for p in packs for j in pack_ranks[p.pack]}):
        spec.add(f"encoded:{jurisdiction}", patterns_for({Test("request", "jurisdiction", "==", jurisdiction)}),
                 ActionSpec("encoded", pack=jurisdiction))


def _phase(name: str) -> dict:
    return {"phase": {"$and": [{"t": "phase"}, {"name": name}]}}


def _finding(alias: str, status: str | None = None) -> dict:
    terms = [{"t": "finding"}, {"decides": True}] + ([{"status": status}] if status else [])
    terms += [{"item_id": {"governs": "item_id"}}, {"rank": {"governs": "rank"}}]
    return {alias: {"$and": terms}}


def _add_sequence_and_decisions(spec: RulesetSpec) -> None:
    governs = {"governs": {"$and": [{"t": "governs"}]}}
    # rank 0 is a statute or report pack: it is applied beside the search sequence and never governs
    spec.add("govern", [
        _phase("govern"),
        {"addressed": {"$and": [{"t": "addressed"}, {"$gt": {"rank": 0}}]}},
        {"better$not": {"$and": [{"t": "addressed"}, {"$gt": {"rank": 0}}, {"item_id": {"addressed": "item_id"}}, {"$lt": {"rank": {"addressed": "rank"}}}]}},
    ], ActionSpec("govern"))
    # a criterion rule's scope is its pack's, but not the `when` of the pack's `addresses` (a
    # postsurgical period, say), and a shard may hold the packs a label chain joins: a finding of a
    # pack that did not address the item is withdrawn before decisions are taken, so it can neither
    # decide nor block a decision of its tier
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
    def marker(kind: str) -> dict:
        return {"$and": [{"t": kind}, {"item_id": {"item": "item_id"}}]}

    # an item no pack governs: outside the jurisdiction's history (and every encoded edition) it is
    # "Not covered"; inside, "No rule applies", saying whether the topic, the edition in force or
    # this item is what no pack reaches (an edition in force covers the date too)
    spec.add("decide:no_edition", [_phase("decide"), item, ungoverned, {"edition$not": marker("in_force")}, {"history$not": marker("covered")}],
             ActionSpec("decision", decision="Not covered", reason="no_edition"))
    spec.add("decide:topic_not_encoded", [_phase("decide"), item, ungoverned, {"covered": marker("covered")}, {"encoded$not": marker("encoded")}],
             ActionSpec("decision", decision="No rule applies", reason="topic_not_encoded"))
    spec.add("decide:topic_not_encoded_in_force", [_phase("decide"), item, ungoverned, {"edition": marker("in_force")},
                                                   {"history$not": marker("covered")}, {"encoded$not": marker("encoded")}],
             ActionSpec("decision", decision="No rule applies", reason="topic_not_encoded"))
    spec.add("decide:edition_not_encoded", [_phase("decide"), item, ungoverned, {"covered": marker("covered")}, {"encoded": marker("encoded")},
                                            {"edition$not": marker("in_force")}],
             ActionSpec("decision", decision="No rule applies", reason="edition_not_encoded"))
    spec.add("decide:not_addressed", [_phase("decide"), item, ungoverned, {"edition": marker("in_force")}, {"encoded": marker("encoded")}],
             ActionSpec("decision", decision="No rule applies", reason="not_addressed"))


def _add_adoptions(spec: RulesetSpec, base: RuleBase, pack_ranks: dict[str, dict[str, int]]) -> None:
    """A statute binds whichever tier governs: once an item's tier is known (the `govern` phase),
    each deciding finding of a `role: statute` pack is adopted into it (asserted again with the
    governing rank), so the decision rules count it as that tier's. Only into the tiers the
    jurisdiction's binding does not lift (Labor Code 4604.5(c)(1): not where the Postsurgical
    Treatment Guidelines govern)."""
    for pack in base.packs:
        if pack.role != "statute":
            continue
        for jurisdiction in sorted(pack_ranks[pack.pack]):
            for rank in base.profiles[jurisdiction].bound_ranks(pack):
                spec.add(f"adopt:{pack.pack}:{jurisdiction}:{rank}", [
                    _phase("govern"),
                    {"governs": {"$and": [{"t": "governs"}, {"rank": rank}]}},
                    {"finding": {"$and": [{"t": "finding"}, {"pack": pack.pack}, {"rank": 0}, {"decides": True},
                                          {"jurisdiction": jurisdiction}, {"item_id": {"governs": "item_id"}}]}},
                ], ActionSpec("adopt", pack=pack.pack, rank=rank))


def _add_reports(spec: RulesetSpec, base: RuleBase) -> None:
    """What a `report` pack answers for an item, from its findings (which decide nothing): needed
    where one is not met; not documented where none is unmet and one is not documented; not needed
    where all that fired are met."""
    for kind in sorted({p.reports for p in base.packs if p.reports}):
        def of(alias: str, status: str, join: bool = True) -> dict:
            terms = [{"t": "finding"}, {"report": kind}, {"status": status}]
            return {alias: {"$and": terms + ([{"item_id": {"finding": "item_id"}}] if join else [])}}
        spec.add(f"report:{kind}:needed", [_phase("decide"), of("finding", "not_met", join=False)],
                 ActionSpec("report", status="needed", report=kind))
        spec.add(f"report:{kind}:not_documented", [_phase("decide"), of("finding", "not_documented", join=False), of("unmet$not", "not_met")],
                 ActionSpec("report", status="not_documented", report=kind))
        spec.add(f"report:{kind}:not_needed", [_phase("decide"), of("finding", "met", join=False), of("unmet$not", "not_met"),
                                                of("undocumented$not", "not_documented")],
                 ActionSpec("report", status="not_needed", report=kind))
