"""The pipeline, wired once: load -> validate -> compile -> (per case) facts -> fire -> aggregate.

`Engine` is what the command line, the tools, the tests and the benchmark use. Loading and
compiling happen once, and a rules folder's checked and compiled rules are cached on disk for the
next process (durable/cache.py; a rule base handed in is compiled here, not cached); each decision
encodes the case's facts for durable-rules, runs the sessions of each topic its items need
(durable/session.py: route, criterion shards, search sequence and decision, all fired in
durable-rules), reads what fired into events per item, and aggregates them.
"""

from __future__ import annotations

from pathlib import Path

from engine.checks.rulebase import RuleBase
from engine.decide.aggregate import Aggregator
from engine.decide.letter import Letter
from engine.durable.cache import cached_rules
from engine.durable.compile import FALLBACK_TOPIC, CompiledRules, compile_rules
from engine.durable.encode import encode
from engine.durable.session import Rete
from engine.durable.trace import ItemEvents, read
from engine.facts.build import CaseFacts, build_facts
from engine.facts.crosswalk import resolved
from engine.model.case import Case
from engine.model.determination import Determination


class Engine:
    def __init__(self, rules_root: str | Path | None = None, base: RuleBase | None = None):
        self.compiled: CompiledRules
        if base is None:
            self.base, self.compiled = cached_rules(rules_root)
        else:
            self.base, self.compiled = base, compile_rules(base)
        self.rete = Rete(self.compiled)
        self.aggregator = Aggregator(self.base)
        self.letter = Letter(self.base)

    def facts(self, case: Case) -> CaseFacts:
        return build_facts(case, self.base.vocabulary)

    def sessions(self, facts: CaseFacts):
        """Run the case's sessions (per topic its items need, route and criterion shards; one decide
        session for them all): [(item ids, session log)]. (A Rete without `run_case`, such as
        tools/mutate.py's overlay, is run one topic at a time, each with its own decide session.)"""
        by_topic: dict[str, list] = {}
        names = self.rete.names
        for item in encode(facts, self.compiled.memberships):
            by_topic.setdefault(item.topic if item.topic in names else FALLBACK_TOPIC, []).append(item)
        run_case = getattr(self.rete, "run_case", None)
        if run_case is not None and by_topic:  # one decide session for the case's topics together
            return [([item.item_id for items in by_topic.values() for item in items], run_case(list(by_topic.items())))]
        return [([item.item_id for item in items], self.rete.run(topic, items)) for topic, items in by_topic.items()]

    def fire(self, facts: CaseFacts) -> dict[str, ItemEvents]:
        """What fired for each item, as events."""
        events: dict[str, ItemEvents] = {}
        ranks = self.compiled.pack_ranks
        for item_ids, log in self.sessions(facts):
            events.update(read(log, item_ids, ranks))
        return events

    def trace(self, case: Case) -> tuple[CaseFacts, dict[str, ItemEvents], Determination]:
        """The decision with what it was made from: the facts and the events of each item (explain, coverage)."""
        case = resolved(case, self.base.vocabulary)  # the letter reads the keys a request's codes stand for
        facts = self.facts(case)
        events = self.fire(facts)
        outcomes = [self.aggregator.outcome(events[item.id]) for item in case.requested_items]
        return facts, events, self.letter.determination(case, facts, outcomes)

    def decide(self, case: Case) -> Determination:
        return self.trace(case)[2]
