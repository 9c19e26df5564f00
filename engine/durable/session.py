"""The one seam to durable-rules: register compiled rulesets, run a case session, collect the trace.

Everything that touches the engine lives here, so its measured quirks are handled in one place
(../shared/reference/durable-rules.md):
- rulesets are created in durable-rules' C Rete network (`durable_rules_engine`) and driven
  through its action protocol (start_action_for_state / complete_and_start_action) directly,
  without durable's Python Host: the Host adds per-action JSON round trips, a state write-back
  and timing bookkeeping that this engine never uses (measured: about half the time of a case);
- all of a session's facts go in with one `assert_facts` call; the `govern` and `decide` phase
  facts follow, each after the actions of the previous phase have run to a fixpoint;
- a fact no rule wants (result 1) or an identical fact (result 2) is normal here: every fact
  carries a unique id, and the session goes on;
- exceptions inside actions are caught and recorded, and a session with a recorded error raises
  EngineFault instead of returning a partial result;
- the engine cannot list which rules fired: each action appends its rule and bindings to the
  session log, which is the trace behind every determination;
- about 1,000 live sessions exhaust the state index: each case's session is deleted when read,
  and session ids cycle through a small pool;
- ruleset names are process-global: each registration gets a unique name.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import durable_rules_engine as dre
import orjson

from engine.durable.compile import FALLBACK_TOPIC, ActionSpec, CompiledRules
from engine.facts.build import mirror

SID_POOL = 256
_instances = itertools.count()
_HANDLED = (0, 1, 2)  # ok, no rule wants the fact, fact already observed
_loads = orjson.loads


def _dumps(value) -> str:
    """Compact JSON text for durable-rules' C parser (orjson: the JSON round trips per fact and
    per action were a fifth of a case's time with the standard library)."""
    return orjson.dumps(value).decode()


class EngineFault(RuntimeError):
    """An action failed inside the rules engine: the determination would be incomplete."""


@dataclass
class Fired:
    name: str
    spec: ActionSpec
    bindings: dict


@dataclass
class SessionLog:
    fired: list[Fired] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Rete:
    """Compiled rulesets registered in durable-rules' Rete network, one per topic."""

    def __init__(self, compiled: CompiledRules):
        self.compiled = compiled
        self._logs: dict[str, SessionLog] = {}
        self._sids = itertools.cycle(range(1, SID_POOL + 1))
        instance = next(_instances)
        self.names = {topic: f"imr_{compiled.digest}_{instance}_{topic}" for topic in compiled.rulesets}
        self._handles: dict[str, int] = {}
        self._specs: dict[str, dict[str, ActionSpec]] = {}
        for topic, spec in compiled.rulesets.items():
            name = self.names[topic]
            self._handles[name] = dre.create_ruleset(name, json.dumps(spec.definition, ensure_ascii=False))
            self._specs[name] = dict(spec.actions)

    def run(self, topic: str, facts: list[dict]) -> SessionLog:
        """Assert one case's facts into the topic's ruleset, step through the phases, return the trace."""
        name = self.names.get(topic) or self.names[FALLBACK_TOPIC]
        handle, specs = self._handles[name], self._specs[name]
        sid = str(next(self._sids))
        log = SessionLog()
        self._logs[sid] = log
        try:
            batch = [dict(fact, sid=sid) for fact in facts]
            self._drain(handle, specs, log, dre.assert_facts(handle, _dumps(batch)), sid)
            for phase in ("govern", "decide"):
                fact = {"t": "phase", "id": f"phase/{phase}", "name": phase, "sid": sid}
                self._drain(handle, specs, log, dre.assert_fact(handle, _dumps(fact)), sid)
        finally:
            try:
                dre.delete_state(handle, sid)
            finally:
                del self._logs[sid]
        if log.errors:
            raise EngineFault("; ".join(log.errors))
        return log

    def _drain(self, handle: int, specs: dict, log: SessionLog, result: tuple, sid: str) -> None:
        """Run every action the Rete network has queued for the session, until none is left."""
        code, state = result
        if code not in _HANDLED:
            raise EngineFault(f"durable-rules deferred a fact (code {code}): the session is locked")
        started = dre.start_action_for_state(handle, state)
        pending = _loads(started[1]) if started else None
        ranks = self.compiled.pack_ranks
        while pending:
            for rule_name, message in pending.items():
                break
            spec = specs[rule_name]
            try:
                bindings = message if isinstance(message, dict) else {}
                log.fired.append(Fired(rule_name, spec, bindings))
                if spec.kind == "withdraw":
                    code, _ = dre.retract_fact(handle, _dumps(bindings["finding"]))
                    if code not in _HANDLED:
                        raise EngineFault(f"durable-rules could not withdraw a finding (code {code})")
                elif (new := _derived_fact(spec, bindings, ranks)) is not None:
                    new["sid"] = sid
                    code, _ = dre.assert_fact(handle, _dumps(new))
                    if code not in _HANDLED:
                        raise EngineFault(f"durable-rules deferred a derived fact (code {code})")
            except Exception as exc:  # recorded, then raised by run(): never a silent partial result
                log.errors.append(f"{rule_name}: {type(exc).__name__}: {exc}")
            following = dre.complete_and_start_action(handle, state)
            pending = _loads(following) if following else None


def _derived_fact(spec: ActionSpec, bindings: dict, ranks: dict) -> dict | None:
    if spec.kind == "address":
        item = bindings["item"]["id"]
        return {"t": "addressed", "id": f"addressed/{item}/{spec.pack}", "item_id": item, "pack": spec.pack, "rank": spec.rank}
    if spec.kind == "in_force":
        return {"t": "in_force", "id": "in_force"}
    if spec.kind == "govern":
        a = bindings["addressed"]
        return {"t": "governs", "id": f"governs/{a['item_id']}/{a['pack']}", "item_id": a["item_id"], "pack": a["pack"], "rank": a["rank"]}
    if spec.kind == "criterion":
        item = bindings["item"]["id"]
        jurisdiction = bindings["item"][mirror("jurisdiction")]
        fact = {"t": "finding", "id": f"finding/{item}/{spec.rule_id}/{spec.status}/{finding_subject(bindings)}",
                "item_id": item, "rule": spec.rule_id, "status": spec.status, "pack": spec.pack,
                "subject": finding_subject(bindings), "rank": ranks.get(spec.pack, {}).get(jurisdiction, 0),
                "decides": spec.decides}
        if spec.label:
            fact["label"] = spec.label
        return fact
    return None


def addressed_packs(fired: list[Fired]) -> set[str]:
    """Packs that addressed the item: the `withdraw` rule retracts the other packs' findings, so
    the trace's record of their criterion rules firing is not part of the decision."""
    return {f.spec.pack for f in fired if f.spec.kind == "address"}


def finding_subject(bindings: dict) -> str:
    """What a finding is about within its item: an ingredient, or the subject of the finding it chains on."""
    if "ingredient" in bindings:
        return bindings["ingredient"].get("drug", "")
    if "finding" in bindings:
        return bindings["finding"].get("subject", "")
    return ""
