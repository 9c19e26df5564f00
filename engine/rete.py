"""The one seam to durable-rules: register compiled rulesets, run a case session, collect the trace.

Everything that touches the engine lives here, so its measured quirks are handled in one place
(../shared/reference/durable-rules.md):
- the Host's background dispatch threads are not started (all work is synchronous, in order);
- a fact no rule wants raises MessageNotHandledException: normal here, swallowed;
- identical facts raise MessageObservedException: every fact carries a unique id;
- exceptions inside actions are swallowed by the engine: our actions catch and record their own,
  and a session with a recorded error raises EngineFault instead of returning a partial result;
- the engine cannot list which rules fired: each action appends its rule and bindings to the
  session log, which is the trace behind every determination;
- about 1,000 live sessions exhaust the state index: each case's session is deleted when read,
  and session ids cycle through a small pool;
- ruleset names are process-global: each registration gets a unique name.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field

from durable import engine as durable_engine

from .compiler import FALLBACK_TOPIC, ActionSpec, CompiledRules

SID_POOL = 256
_instances = itertools.count()


class EngineFault(RuntimeError):
    """An action failed inside the rules engine: the determination would be incomplete."""


class _QuietHost(durable_engine.Host):
    """A Host without the periodic dispatch threads: we drive every session synchronously."""

    def _run(self):
        pass


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
    """Compiled rulesets registered in one durable-rules host."""

    def __init__(self, compiled: CompiledRules):
        self.compiled = compiled
        self.host = _QuietHost()
        self._logs: dict[str, SessionLog] = {}
        self._sids = itertools.cycle(range(1, SID_POOL + 1))
        instance = next(_instances)
        self.names = {topic: f"imr_{compiled.digest}_{instance}_{topic}" for topic in compiled.rulesets}
        definitions = {}
        for topic, spec in compiled.rulesets.items():
            definition = copy.deepcopy(spec.definition)
            for rule_name, rule in definition.items():
                rule["run"] = self._action(rule_name, spec.actions[rule_name])
            definitions[self.names[topic]] = definition
        self.host.register_rulesets(definitions)

    def _action(self, name: str, spec: ActionSpec):
        logs = self._logs
        ranks = self.compiled.pack_ranks

        def action(c):
            log = None
            try:
                log = logs[c.s.sid]
                bindings = {alias: dict(fact) for alias, fact in c._m.items()}
                log.fired.append(Fired(name, spec, bindings))
                new = _derived_fact(spec, bindings, ranks)
                if new is not None:
                    try:
                        c.assert_fact(new)
                    except (durable_engine.MessageNotHandledException, durable_engine.MessageObservedException):
                        pass
            except Exception as exc:  # recorded, then raised by run(): never a silent partial result
                if log is not None:
                    log.errors.append(f"{name}: {type(exc).__name__}: {exc}")

        return action

    def run(self, topic: str, facts: list[dict]) -> SessionLog:
        """Assert one case's facts into the topic's ruleset, step through the phases, return the trace."""
        name = self.names.get(topic) or self.names[FALLBACK_TOPIC]
        sid = str(next(self._sids))
        log = SessionLog()
        self._logs[sid] = log
        try:
            for fact in facts:
                self._assert(name, dict(fact, sid=sid))
            for phase in ("govern", "decide"):
                self._assert(name, {"t": "phase", "id": f"phase/{phase}", "name": phase, "sid": sid})
        finally:
            try:
                self.host.delete_state(name, sid)
            finally:
                del self._logs[sid]
        if log.errors:
            raise EngineFault("; ".join(log.errors))
        return log

    def _assert(self, name: str, fact: dict) -> None:
        try:
            self.host.assert_fact(name, fact)
        except (durable_engine.MessageNotHandledException, durable_engine.MessageObservedException):
            pass


def _derived_fact(spec: ActionSpec, bindings: dict, ranks: dict) -> dict | None:
    if spec.kind == "address":
        item = bindings["item"]["id"]
        return {"t": "addressed", "id": f"addressed/{item}/{spec.pack}", "item_id": item, "pack": spec.pack, "rank": spec.rank}
    if spec.kind == "in_force":
        return {"t": "in_force", "id": f"in_force/{spec.pack}", "pack": spec.pack}
    if spec.kind == "govern":
        a = bindings["addressed"]
        return {"t": "governs", "id": f"governs/{a['item_id']}/{a['pack']}", "item_id": a["item_id"], "pack": a["pack"], "rank": a["rank"]}
    if spec.kind == "criterion":
        item = bindings["item"]["id"]
        jurisdiction = bindings["request"]["jurisdiction"]
        fact = {"t": "finding", "id": f"finding/{item}/{spec.rule_id}/{spec.status}/{finding_subject(bindings)}",
                "item_id": item, "rule": spec.rule_id, "status": spec.status, "pack": spec.pack,
                "subject": finding_subject(bindings), "rank": ranks.get(spec.pack, {}).get(jurisdiction, 0),
                "decides": spec.decides}
        if spec.label:
            fact["label"] = spec.label
        return fact
    return None


def finding_subject(bindings: dict) -> str:
    """What a finding is about within its item: an ingredient, or the subject of the finding it chains on."""
    if "ingredient" in bindings:
        return bindings["ingredient"].get("drug", "")
    if "finding" in bindings:
        return bindings["finding"].get("subject", "")
    return ""
