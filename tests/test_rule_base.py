"""The whole rule base loads, validates and compiles within durable-rules' limits."""

import pytest

from engine.durable.compile import ENGINE_LIMITS, KEEP, compile_rules
from engine.model.diagnostics import InputError
from engine.load.cases import load_case
from engine.checks.rulebase import load_rule_base

from .conftest import SEED


def test_whole_rule_base_compiles_under_the_ruleset_cap(engine):
    compiled = compile_rules(engine.base)
    assert compiled.rulesets, "no rulesets"
    for plan in compiled.rulesets.values():
        for spec in plan.specs():
            assert not spec.shape.over(KEEP), (spec.name, spec.shape)


def test_every_rule_cites_guideline_section_and_pages(engine):
    for parsed in engine.base.rules:
        assert parsed.pack.guideline and parsed.rule.section and parsed.rule.pages
        assert parsed.rule.pages != "n/a" or parsed.pack.guideline != "MTUS" or "CCR" in parsed.rule.section


def test_rules_built_on_unverified_numbers_say_so(engine):
    for parsed in engine.base.rules:
        if parsed.rule.allowance is not None:
            assert parsed.rule.metadata.unverified or parsed.rule.metadata.sources, parsed.rule.id


def test_a_rule_group_too_large_for_any_ruleset_is_refused_with_a_message(engine, monkeypatch):
    """A topic is split into as many rulesets as it needs; what cannot be split (here, with the
    engine's limit lowered: any rule) is refused, at the rule's file and line."""
    import dataclasses

    monkeypatch.setattr("engine.durable.compile.ENGINE_LIMITS", dataclasses.replace(ENGINE_LIMITS, node_children=1))
    monkeypatch.setattr("engine.durable.compile.KEEP", dataclasses.replace(KEEP, node_children=1))
    with pytest.raises(InputError) as info:
        compile_rules(engine.base)
    assert "K00" in str(info.value) and "beyond what durable-rules allows" in str(info.value)
    assert ".yaml:" in str(info.value)


def test_value_lists_compile_to_shared_indicators_not_engine_or(engine):
    """A scope's value list (`form: [oral, patch]`) must not reach durable-rules as `$or`: a
    ruleset with many of them aborted the C engine (`free(): invalid pointer`)."""
    import json

    compiled = compile_rules(engine.base)
    for plan in compiled.rulesets.values():
        assert "$or" not in json.dumps(plan.definition), plan.topic
    assert ("item", "form", frozenset({"oral", "patch"})) in compiled.memberships


def test_indicator_is_set_only_where_the_value_is_listed(engine):
    from engine.durable.encode import encode

    items = encode(engine.facts(load_case(SEED)), engine.compiled.memberships)
    name = engine.compiled.memberships[("item", "service", frozenset({"physical_therapy", "occupational_therapy"}))]
    by_type = {item.entities["item"]["type"]: item.entities["item"].get(name) for item in items}
    assert by_type == {"therapy": True, "medication": None}


def test_in_force_fires_once_per_item(engine):
    facts = engine.facts(load_case(SEED))
    for item_ids, log in engine.sessions(facts):
        assert sum(1 for f in log.fired if f.spec.kind == "in_force") == len(item_ids)
    assert all(e.in_force for e in engine.fire(facts).values())
