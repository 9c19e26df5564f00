"""The whole rule base loads, validates and compiles within durable-rules' limits."""

import pytest

from engine.durable.compile import MAX_RULES_PER_RULESET, compile_rules
from engine.model.diagnostics import InputError
from engine.load.cases import load_case
from engine.checks.rulebase import load_rule_base

from .conftest import SEED


def test_whole_rule_base_compiles_under_the_ruleset_cap(engine):
    compiled = compile_rules(engine.base)
    assert compiled.rulesets, "no rulesets"
    for spec in compiled.rulesets.values():
        assert len(spec.definition) <= MAX_RULES_PER_RULESET


def test_every_rule_cites_guideline_section_and_pages(engine):
    for parsed in engine.base.rules:
        assert parsed.pack.guideline and parsed.rule.section and parsed.rule.pages
        assert parsed.rule.pages != "n/a" or parsed.pack.guideline != "MTUS" or "CCR" in parsed.rule.section


def test_rules_built_on_unverified_numbers_say_so(engine):
    for parsed in engine.base.rules:
        if parsed.rule.allowance is not None:
            assert parsed.rule.metadata.unverified or parsed.rule.metadata.sources, parsed.rule.id


def test_oversized_topic_is_refused_with_a_message(engine, monkeypatch):
    monkeypatch.setattr("engine.durable.compile.MAX_RULES_PER_RULESET", 5)
    with pytest.raises(InputError) as info:
        compile_rules(engine.base)
    assert "K001" in str(info.value) and "split the topic" in str(info.value)


def test_value_lists_compile_to_shared_indicators_not_engine_or(engine):
    """A scope's value list (`form: [oral, patch]`) must not reach durable-rules as `$or`: a
    ruleset with many of them aborted the C engine (`free(): invalid pointer`)."""
    import json

    compiled = compile_rules(engine.base)
    for spec in compiled.rulesets.values():
        assert "$or" not in json.dumps(spec.definition), spec.topic
    assert ("item", "form", frozenset({"oral", "patch"})) in compiled.memberships


def test_indicator_is_set_only_where_the_value_is_listed(engine):
    facts = engine.facts(load_case(SEED))
    name = engine.compiled.memberships[("item", "service", frozenset({"physical_therapy", "occupational_therapy"}))]
    by_type = {f["type"]: f.get(name) for _, _, item_facts in facts.items for f in item_facts if f["t"] == "item"}
    assert by_type == {"therapy": True, "medication": None}


def test_in_force_fires_once_per_session(engine):
    facts = engine.facts(load_case(SEED))
    for log in engine.fire(facts).values():
        assert sum(1 for f in log.fired if f.spec.kind == "in_force") == 1
