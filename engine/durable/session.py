"""The one seam to durable-rules: register compiled rulesets, run a case's sessions, collect what fired.

Everything that touches the engine lives here, so its measured quirks are handled in one place
(../shared/reference/durable-rules.md, and the limits in durable/compile.py):
- rulesets are created in durable-rules' C Rete network (`durable_rules_engine`) and driven
  through its action protocol (start_action_for_state / complete_and_start_action) directly,
  without durable's Python Host (per-action JSON round trips, a state write-back and timing
  bookkeeping that this engine never uses);
- one long-lived session (sid) per ruleset: a case's facts are asserted, its actions run, and
  its facts retracted afterwards, instead of creating and deleting the session's state per case
  (creating it costs a 8 KB table per pattern of the ruleset: 150 us for a 230-rule ruleset, every
  case). After RECYCLE_FACTS facts a session is deleted and made afresh (upstream #376, below);
  at most SESSION_BUDGET patterns' worth of sessions are kept, the least recently used deleted;
- a new session is *primed* before its first case: a priming fact fires a priming rule once.
  durable-rules never initialises a new state's action context, and `delete_state` on a state
  that never ran an action frees that garbage pointer (`free(): invalid size`, an abort, exit 134:
  what happened after error 303 on the first assert of a large topic);
- facts carry ids from IDS, short strings whose FNV-1a hashes are pairwise distinct: durable-rules
  tells facts apart by that 32-bit hash of the id alone, so two distinct ids with equal hashes
  made the second fact "already observed" and silently dropped it (the spurious
  MessageObservedException of upstream #376, after ~11,900 facts; measured here with two
  colliding ids). Ids restart with each case, since its facts are retracted;
- each rule fires with all its bindings at once (`cap`): one round trip per rule and session;
- a fact no rule wants (result 1) is normal here; an identical fact (result 2) cannot happen with
  these ids and raises EngineFault, as does an exception inside an action (recorded, then raised:
  never a silent partial result); a session left mid-case by an error is deleted and primed again;
- the engine cannot list which rules fired: each action appends its rule and bindings to the
  session log, which the trace is read from (durable/trace.py);
- ruleset names are process-global: each registration gets a unique name.

Per topic of a case (Rete.run), the route session gets the items (address, in force), the
criterion shards of the packs that addressed them get the items and their ingredients (findings),
and the route session then gets the findings and the `govern` and `decide` phase facts.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import durable_rules_engine as dre
import orjson

from engine.durable.compile import FALLBACK_TOPIC, MARKERS, ActionSpec, CompiledRules, RulesetSpec
from engine.durable.encode import fold_reads
from engine.facts.schema import subject_of as finding_subject

RECYCLE_FACTS = 5_000
"""Facts a session takes before it is deleted and made afresh (far below the ~11,900 of #376)."""
SESSION_BUDGET = 6_000
"""Patterns of the rulesets whose sessions are kept alive (about 10 KB of C state each)."""
SID = "1"
PRIME_ID = "p"
_instances = itertools.count()
_OBSERVED = 2
_loads = orjson.loads
_dumps = orjson.dumps


def _fnv1a(text: str) -> int:
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


class _Ids(list):
    """Fact ids whose FNV-1a hashes differ from each other and from the session's own messages."""

    def __init__(self):
        super().__init__()
        self._hashes = {_fnv1a(f"sid-{SID}"), _fnv1a(PRIME_ID)}
        self._next = 0
        self.grow(1024)

    def grow(self, count: int) -> None:
        while len(self) < count:
            text = str(self._next)
            self._next += 1
            h = _fnv1a(text)
            if h not in self._hashes:
                self._hashes.add(h)
                self.append(text)


IDS = _Ids()


class EngineFault(RuntimeError):
    """An action failed inside the rules engine: the determination would be incomplete."""


@dataclass(slots=True)
class Fired:
    name: str
    spec: ActionSpec
    bindings: dict


@dataclass
class SessionLog:
    fired: list[Fired] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    jurisdiction: str = ""


class Session:
    """A ruleset's durable-rules session. Long-lived (the ruleset's rules each match one fact): a
    case's facts are asserted, then retracted after it. Per case (`spec.per_case`: a rule joins
    several facts): the case's first facts create the state, the case's end deletes it."""

    __slots__ = ("handle", "spec", "specs", "state", "primed", "count", "asserted", "live", "first", "per_case", "open", "started")

    def __init__(self, handle: int, spec: RulesetSpec):
        self.handle, self.spec, self.specs = handle, spec, spec.actions
        self.per_case = spec.per_case
        self.state, self.primed, self.open, self.started = 0, False, False, False
        self.count = 0  # ids used in this case
        self.asserted = 0  # facts since priming
        self.live: list[str] = []  # ids asserted in this case, in order
        self.first: list[str] = []  # ids to retract first (phase facts)

    def prime(self) -> None:
        """Make a long-lived session: its priming rule fires once, so that its state's action
        context is set (deleting a state that never ran an action aborts the process)."""
        code, self.state = dre.assert_fact(self.handle, f'{{"t":"$prime","id":"{PRIME_ID}","sid":"{SID}"}}')
        started = dre.start_action_for_state(self.handle, self.state)
        if not started or PRIME_ID not in started[1] or dre.complete_and_start_action(self.handle, self.state):
            raise EngineFault(f"durable-rules did not prime a session of {self.spec.name}")
        dre.retract_fact(self.handle, f'{{"id":"{PRIME_ID}","sid":"{SID}"}}')
        self.primed, self.asserted = True, 0

    def put(self, facts: list[dict], first: bool = False) -> None:
        """Assert facts (each gets its id here); `first`: retract them before the others."""
        if not facts:
            return
        n = self.count
        if n + len(facts) > len(IDS):
            IDS.grow(n + len(facts) + 1024)
        for fact in facts:
            fact["id"] = ident = IDS[n]
            fact["sid"] = SID
            n += 1
            (self.first if first else self.live).append(ident)
        self.count = n
        self.asserted += len(facts)
        text = _dumps(facts).decode()
        if self.per_case and not self.open:
            # the priming fact first: its rule, the ruleset's first, is the first action to run
            text = f'[{{"t":"$prime","id":"{PRIME_ID}","sid":"{SID}"}},{text[1:]}'
            self.open = True
        code, self.state = dre.assert_facts(self.handle, text)
        if code == _OBSERVED:
            raise EngineFault(f"durable-rules dropped a fact of {self.spec.name} as already observed")

    def retract(self, ids: list[str]) -> None:
        dre.retract_facts(self.handle, _dumps([{"id": i, "sid": SID} for i in ids]).decode())

    def clear(self) -> None:
        """End the case: retract its facts (phase facts first: nothing can then activate), or
        delete a per-case state."""
        if self.per_case:
            self._close()
        else:
            ids = self.first + self.live
            if ids:
                self.retract(ids)
            if self.asserted > RECYCLE_FACTS:
                self.reset()
        self.first, self.live, self.count = [], [], 0

    def _close(self) -> None:
        if self.open:
            if not self.started:  # an error before its first action: run the priming one first
                if dre.start_action_for_state(self.handle, self.state):
                    dre.abandon_action(self.handle, self.state)
            dre.delete_state(self.handle, SID)
        self.open = self.started = False

    def reset(self) -> None:
        """Delete the session (safe: it has run an action); a long-lived one is primed again
        before its next case."""
        if self.per_case:
            self._close()
        elif self.primed:
            dre.delete_state(self.handle, SID)
        self.primed = False
        self.first, self.live, self.count, self.asserted = [], [], 0, 0

    def drain(self, log: SessionLog, on_action) -> None:
        """Run every action the Rete network has queued for the session, until none is left."""
        handle, state, specs = self.handle, self.state, self.specs
        started = dre.start_action_for_state(handle, state)
        text = started[1] if started else None
        self.started = True
        while text:
            actions = _loads(text)
            for rule_name, frames in actions.items():
                break
            spec = specs[rule_name]
            if spec.kind != "prime":
                try:
                    on_action(self, rule_name, spec, frames if isinstance(frames, list) else [frames])
                except Exception as exc:  # recorded, then raised by run(): never a silent partial result
                    log.errors.append(f"{rule_name}: {type(exc).__name__}: {exc}")
            text = dre.complete_and_start_action(handle, state)


def _ruleset_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


class Rete:
    """Compiled rulesets registered in durable-rules' Rete network: per topic a route ruleset and
    the criterion shards of its packs (durable/compile.py)."""

    def __init__(self, compiled: CompiledRules):
        self.compiled = compiled
        self._plans = dict(compiled.rulesets)
        instance = next(_instances)
        self.names = {topic: f"imr_{compiled.digest}_{instance}_{_ruleset_name(plan.route.name)}" for topic, plan in self._plans.items()}
        self._specs: dict[str, RulesetSpec] = {}
        for plan in self._plans.values():
            for spec in plan.specs():
                self._specs.setdefault(spec.name, spec)
        self._handles: dict[str, int] = {}
        for name, spec in self._specs.items():
            self._handles[name] = dre.create_ruleset(f"imr_{compiled.digest}_{instance}_{_ruleset_name(name)}",
                                                     json.dumps(spec.definition, ensure_ascii=False))
        self._patterns = {name: sum(len(r["all"]) for r in spec.definition.values()) for name, spec in self._specs.items()}
        self._reads = {name: fold_reads(spec.reads) for name, spec in self._specs.items()}
        self._positions = {plan.topic: {name: n for n, name in enumerate(plan.shards)} for plan in self._plans.values()}
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def session(self, name: str) -> Session:
        """The ruleset's session, primed, most recently used last. Priming one past the budget
        deletes the least recently used idle sessions (they are primed again when next needed)."""
        s = self._sessions.get(name)
        if s is None:
            s = self._sessions[name] = Session(self._handles[name], self._specs[name])
        else:
            self._sessions.move_to_end(name)
        if not s.primed and not s.per_case:
            live = sum(self._patterns[n] for n, x in self._sessions.items() if x.primed) + self._patterns[name]
            for other_name, other in list(self._sessions.items()):
                if live <= SESSION_BUDGET:
                    break
                if other is not s and other.primed and not other.live and not other.first:
                    other.reset()
                    live -= self._patterns[other_name]
            s.prime()
        return s

    def live_sessions(self) -> int:
        return sum(1 for s in self._sessions.values() if s.primed)

    def close(self) -> None:
        """Delete every session and ruleset (the engine cannot decide afterwards)."""
        for s in self._sessions.values():
            s.reset()
        self._sessions.clear()
        for handle in self._handles.values():
            dre.delete_ruleset(handle)
        self._handles.clear()

    def run(self, topic: str, items: list) -> SessionLog:
        """Decide the case's items of one topic (durable.encode.EncodedItem): the route session
        (address, in force), the criterion shards of the packs that addressed them (findings),
        then a decide session (search sequence, decision); returns what fired, in order."""
        return self.run_case([(topic, items)])

    def run_case(self, groups: list[tuple[str, list]]) -> SessionLog:
        """Decide a case's items, grouped by topic: each topic's route session and shards, then one
        decide session for them all (its rules join on the item, so topics cannot mix)."""
        first = next((items for _, items in groups if items), [])
        run = _Run(self, first[0].entities["request"]["jurisdiction"] if first else "")
        try:
            for topic, items in groups:
                run.route_and_shards(self._plans.get(topic) or self._plans[FALLBACK_TOPIC], items)
            run.decide(self._plans[groups[0][0]] if groups[0][0] in self._plans else self._plans[FALLBACK_TOPIC],
                       [item for _, items in groups for item in items])
        except BaseException:
            for s in run.used:  # a session left mid-case: deleted (primed again before its next case)
                s.reset()
            raise
        for s in run.used:
            s.clear()
        if run.log.errors:
            raise EngineFault("; ".join(run.log.errors))
        return run.log


class _Run:
    """One case's way through the sessions, and what it has gathered on the way."""

    def __init__(self, rete: Rete, jurisdiction: str):
        self.rete, self.ranks = rete, rete.compiled.pack_ranks
        self.log = SessionLog(jurisdiction=jurisdiction)
        self.fired = self.log.fired
        self.used: list[Session] = []
        self.addressed: dict[str, dict] = {}  # item -> pack -> rank
        self.routed: list[dict] = []  # addressed and in-force facts, for the decide session
        self.marked: set = set()  # (marker kind, item): in force, covered by the history, topic encoded
        self.findings: dict[tuple, dict] = {}  # (item, rule, status, subject) -> the finding fact
        self.governs: set = set()
        self.adopted: set = set()

    def on_route(self, session: Session, name: str, spec: ActionSpec, frames: list) -> None:
        fired, address = self.fired, spec.kind == "address"
        for frame in frames:
            fired.append(Fired(name, spec, frame))
            item = frame["item"]["item_id"]
            if address:
                packs = self.addressed.setdefault(item, {})
                if spec.pack not in packs:
                    self.routed.append({"t": "addressed", "item_id": item, "pack": spec.pack, "rank": spec.rank})
                packs[spec.pack] = spec.rank
            elif spec.kind in MARKERS and (spec.kind, item) not in self.marked:
                self.marked.add((spec.kind, item))
                self.routed.append({"t": spec.kind, "item_id": item})

    def on_shard(self, session: Session, name: str, spec: ActionSpec, frames: list) -> None:
        back, fired, findings = [], self.fired, self.findings
        wanted = session.spec.asserts_findings
        rank = self.ranks.get(spec.pack, {}).get(self.log.jurisdiction, 0)
        for frame in frames:
            fired.append(Fired(name, spec, frame))
            item = frame["item"]["item_id"]
            subject = finding_subject(frame)
            key = (item, spec.rule_id, spec.status, subject)
            if key in findings:
                continue  # another alternative of the same outcome: one finding
            fact = {"t": "finding", "item_id": item, "rule": spec.rule_id, "status": spec.status, "pack": spec.pack,
                    "subject": subject, "rank": rank, "decides": spec.decides, "jurisdiction": self.log.jurisdiction}
            if spec.label:
                fact["label"] = spec.label
            if spec.report:
                fact["report"] = spec.report
            findings[key] = fact
            if wanted is not None and (wanted == "all" or spec.label in wanted):
                back.append(dict(fact))
        if back:
            session.put(back)

    def on_decide(self, session: Session, name: str, spec: ActionSpec, frames: list) -> None:
        new, gone = [], []
        for frame in frames:
            self.fired.append(Fired(name, spec, frame))
            if spec.kind == "govern":
                a = frame["addressed"]
                if (a["item_id"], a["pack"]) not in self.governs:
                    self.governs.add((a["item_id"], a["pack"]))
                    new.append({"t": "governs", "item_id": a["item_id"], "pack": a["pack"], "rank": a["rank"]})
            elif spec.kind == "withdraw":
                gone.append(frame["finding"]["id"])
            elif spec.kind == "adopt":  # a statute's finding, counted as the governing tier's
                f = frame["finding"]
                key = (f["item_id"], f["rule"], f["status"], f["subject"], spec.rank)
                if key not in self.adopted:
                    self.adopted.add(key)
                    new.append({k: v for k, v in f.items() if k not in ("id", "sid")} | {"rank": spec.rank})
        if gone:
            session.retract(gone)
        if new:
            session.put(new)

    def route_and_shards(self, plan, items: list) -> None:
        rete, log, used = self.rete, self.log, self.used
        route = rete.session(plan.route.name)
        used.append(route)
        reads = rete._reads[plan.route.name]
        route.put([it.fold(reads) for it in items])
        route.drain(log, self.on_route)
        for spec in plan.addressers:
            s = rete.session(spec.name)
            used.append(s)
            reads = rete._reads[spec.name]
            s.put([it.fold(reads) for it in items])
            s.drain(log, self.on_route)
        addressed, shards_of = self.addressed, plan.shards_of
        needed: dict[str, list] = {}  # shard -> the items one of its packs addressed
        for it in items:
            for pack in addressed.get(it.item_id, ()):
                for name in shards_of.get(pack, ()):
                    mine = needed.setdefault(name, [])
                    if not mine or mine[-1] is not it:
                        mine.append(it)
        position = rete._positions[plan.topic]
        for name in sorted(needed, key=position.__getitem__):  # in rule-base order, as one ruleset fired them
            spec, wanted = plan.shards[name], needed[name]
            s = rete.session(name)
            used.append(s)
            reads = rete._reads[name]
            facts = [it.fold(reads) for it in wanted]
            if spec.per_case:
                ingredient_reads = spec.ingredient_reads
                for it in wanted:
                    facts.extend({k: f[k] for k in ingredient_reads if k in f} for f in it.ingredients)
            s.put(facts)
            s.drain(log, self.on_shard)
            s.clear()
            used.pop()

    def decide(self, plan, items: list) -> None:
        decide = self.rete.session(plan.decide.name)
        self.used.append(decide)
        # the facts, then the `govern` phase fact last: its rules see them all
        decide.put([{"t": "item", "item_id": it.item_id} for it in items] + self.routed + list(self.findings.values())
                   + [{"t": "phase", "name": "govern"}])
        decide.drain(self.log, self.on_decide)
        decide.put([{"t": "phase", "name": "decide"}])
        decide.drain(self.log, self.on_decide)
