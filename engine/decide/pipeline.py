"""The pipeline, wired once: load -> validate -> compile -> (per case) facts -> fire -> aggregate.

`Engine` is what the command line, the tests and the benchmark use. Loading and compiling happen
once; each decision opens one short durable-rules session per topic and deletes it when read.
"""

from __future__ import annotations

from pathlib import Path

from engine.decide.aggregate import Aggregator
from engine.model.case import Case
from engine.durable.compile import CompiledRules, compile_rules
from engine.model.determination import Determination
from engine.facts.build import CaseFacts, add_memberships, build_facts
from engine.durable.session import Rete, SessionLog
from engine.checks.rulebase import RuleBase, load_rule_base


class Engine:
    def __init__(self, rules_root: str | Path | None = None, base: RuleBase | None = None):
        self.base = base or load_rule_base(rules_root)
        self.compiled: CompiledRules = compile_rules(self.base)
        self.rete = Rete(self.compiled)
        self.aggregator = Aggregator(self.base)

    def facts(self, case: Case) -> CaseFacts:
        return add_memberships(build_facts(case, self.base.vocabulary), self.compiled.memberships)

    def fire(self, facts: CaseFacts) -> dict[str, SessionLog]:
        """One session per topic the case's items need; returns each item's session log."""
        by_topic: dict[str, list] = {}
        for item_id, topic, item_facts in facts.items:
            if topic not in self.rete.names:
                topic = "unrouted"
            by_topic.setdefault(topic, []).append((item_id, item_facts))
        logs: dict[str, SessionLog] = {}
        for topic, entries in by_topic.items():
            session_facts = list(facts.case_facts)
            for _, item_facts in entries:
                session_facts.extend(item_facts)
            log = self.rete.run(topic, session_facts)
            for item_id, _ in entries:
                logs[item_id] = log
        return logs

    def decide(self, case: Case) -> Determination:
        facts = self.facts(case)
        return self.aggregator.determination(case, facts, self.fire(facts))
