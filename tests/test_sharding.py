"""The compiled rule base is cut into rulesets an item pays for only when they can address it, each
far inside durable-rules' limits, and those limits are the ones the C engine really has.

Limits are probed in child processes (a ruleset past some of them hangs or corrupts memory), each
at the limit (accepted) and one past it (refused, or worse): durable/compile.py's ENGINE_LIMITS.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from engine.decide.pipeline import Engine
from engine.durable import session as session_module
from engine.durable.compile import ENGINE_LIMITS, KEEP, shape_of
from engine.durable.session import IDS, EngineFault, _fnv1a
from engine.load.cases import load_case
from engine.model.case import Case
from engine.ops import synthetic

from .conftest import SEED, case_data

PROBE = textwrap.dedent('''
    import json, sys
    import durable_rules_engine as dre
    rules, facts = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    try:
        h = dre.create_ruleset("probe", json.dumps(rules))
    except Exception as exc:
        print("create", str(exc).rsplit(" ", 1)[-1]); sys.exit(0)
    try:
        code, state = dre.assert_facts(h, json.dumps(facts))
    except Exception as exc:
        print("assert", str(exc).rsplit(" ", 1)[-1]); sys.exit(0)
    r = dre.start_action_for_state(h, state)
    n = 0
    while r:
        n += 1
        r = dre.complete_and_start_action(h, state)
        r = (None, r) if r else None
    print("fired", n)
''')


def _probe(rules: dict, facts: list) -> str:
    """What durable-rules does with a ruleset: 'fired N', 'create CODE', 'assert CODE' or 'hang'."""
    try:
        out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(rules), json.dumps(facts)],
                             capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "hang"
    return out.stdout.strip() or f"died {out.returncode}"


def _fact(**kw) -> dict:
    return {"id": "f1", "sid": "1", "t": "a", **kw}


def _children(n):  # n rules testing one property under one alpha node
    return {f"r{i}": {"all": [{"a": {"$and": [{"t": "a"}, {"v": i}]}}]} for i in range(n)}, [_fact(v=0)]


def _stack(n):  # n range tests one fact meets: all pending on the alpha stack at once
    return {f"r{i}": {"all": [{"a": {"$and": [{"t": "a"}, {"$gt": {"v": i}}]}}]} for i in range(n)}, [_fact(v=10 ** 6)]


def _betas(n):  # n rules whose first pattern ends at one alpha node
    rules = {f"r{i}": {"all": [{"a": {"$and": [{"t": "a"}, {"k": 1}]}}, {"b": {"$and": [{"t": "b"}, {"v": i}, {"ref": {"a": "id"}}]}}]}
             for i in range(n)}
    return rules, [_fact(k=1)]


def _refs(n):  # one pattern with n comparisons with another fact
    rules = {"r": {"all": [{"a": {"$and": [{"t": "a"}]}}, {"b": {"$and": [{"t": "b"}] + [{f"p{i}": {"a": f"p{i}"}} for i in range(n)]}}]}}
    return rules, [_fact(p0=1)]


def _joins(n):  # one rule joining n facts
    patterns = [{"f0": {"$and": [{"t": "f"}, {"n": 0}]}}] + [{f"f{i}": {"$and": [{"t": "f"}, {"n": i}, {"k": {"f0": "k"}}]}} for i in range(1, n)]
    return {"r": {"all": patterns}}, [{"id": f"f{i}", "sid": "1", "t": "f", "n": i, "k": 1} for i in range(n)]


@pytest.mark.parametrize("shape,limit,past,figure", [
    (_children, ENGINE_LIMITS.node_children, "hang", "node_children"),
    (_stack, ENGINE_LIMITS.alpha_stack, "assert 303", "alpha_stack"),
    (_refs, ENGINE_LIMITS.pattern_refs, "create 113", "pattern_refs"),
    (_joins, ENGINE_LIMITS.rule_patterns, "assert 304", "rule_patterns"),
])
def test_limits_found_by_experiment(shape, limit, past, figure):
    at = shape(limit)
    assert _probe(*at).startswith("fired"), f"{figure}: {limit} should be accepted"
    assert _probe(*shape(limit + 1)) == past, f"{figure}: {limit + 1} should fail with {past}"
    assert getattr(shape_of(at[0]), figure) >= limit, "the compiler's simulation must see the figure"


def test_beta_list_limit_is_silent_before_the_error():
    """255 patterns ending at one alpha node fit; the 256th and 257th are written past its list
    without an error (memory another node owns); from the 258th, error 108."""
    assert _probe(*_betas(ENGINE_LIMITS.node_betas)).startswith("fired")
    assert _probe(*_betas(ENGINE_LIMITS.node_betas + 3)) == "create 108"
    assert shape_of(_betas(ENGINE_LIMITS.node_betas + 1)[0]).over(ENGINE_LIMITS), "the compiler must refuse 256"


def test_fact_ids_never_share_a_hash():
    """durable-rules tells facts apart by the FNV-1a hash of their id alone: two ids with one hash
    make the second 'already observed' and drop it (the spurious MessageObservedException of
    upstream #376). The ids the engine gives facts never share one."""
    probe = textwrap.dedent('''
        import json, durable_rules_engine as dre
        h = dre.create_ruleset("x", json.dumps({"r": {"all": [{"m": {"$and": [{"t": "x"}]}}]}}))
        print([dre.assert_fact(h, json.dumps({"t": "x", "id": i, "sid": "1"}))[0] for i in ("finding/pt-80548", "finding/pt-104086")])
    ''')
    assert _fnv1a("finding/pt-80548") == _fnv1a("finding/pt-104086")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=20).stdout.strip()
    assert out == "[0, 2]", "two ids sharing a hash: the second fact is dropped as observed"
    IDS.grow(20_000)
    hashes = {_fnv1a(i) for i in IDS[:20_000]} | {_fnv1a(f"sid-{session_module.SID}"), _fnv1a(session_module.PRIME_ID)}
    assert len(hashes) == 20_002


def test_every_ruleset_is_within_the_margin_and_long_lived_ones_match_one_fact(engine):
    """Retracting the facts of a rule that joined several facts, once it has fired, corrupts
    durable-rules' memory (valgrind: deleteMessageFromFrame reads past a frame): only rulesets whose
    rules each match one fact keep a long-lived session."""
    plans = engine.compiled.rulesets
    seen = set()
    for plan in plans.values():
        for spec in plan.specs():
            if spec.name in seen:
                continue
            seen.add(spec.name)
            assert not spec.shape.over(KEEP), (spec.name, spec.shape)
            if not spec.per_case:
                assert all(len(rule["all"]) == 1 for rule in spec.definition.values()), spec.name
    assert plans["physical_medicine"].decide.per_case


def test_sessions_are_recycled_and_decide_the_same(engine, monkeypatch):
    case = load_case(SEED)
    first = engine.decide(case).model_dump_json()
    monkeypatch.setattr(session_module, "RECYCLE_FACTS", 10)
    for _ in range(30):
        assert engine.decide(case).model_dump_json() == first
    monkeypatch.setattr(session_module, "SESSION_BUDGET", 1)  # every other session evicted when one is primed
    for _ in range(5):
        assert engine.decide(case).model_dump_json() == first


def test_a_failing_action_is_an_engine_fault_and_the_next_case_is_clean(engine, monkeypatch):
    case = load_case(SEED)
    first = engine.decide(case).model_dump_json()

    def broken(binding):
        raise ValueError("boom")

    monkeypatch.setattr(session_module, "finding_subject", broken)
    with pytest.raises(EngineFault, match="boom"):
        engine.decide(case)
    monkeypatch.undo()
    assert engine.decide(case).model_dump_json() == first


# ------------------------------------------------------------------ rule bases of any size


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    root = synthetic.grow(tmp_path_factory.mktemp("grown") / "rules", 2000)
    return Engine(root)


def _synthetic_case(service: str, visits_completed, improvement) -> Case:
    data = case_data(SEED)
    data.pop("expected", None)
    data["treatment_history"] = [{"service": service, "region": "lumbar", "visits_completed": visits_completed,
                                  "functional_improvement": improvement}]
    data["requested_items"] = [{"type": "therapy", "id": "syn", "description": "Synthetic therapy 2x4", "service": service,
                                "region": "lumbar", "frequency_per_week": 2, "duration_weeks": 4}]
    return Case.model_validate(data)


def test_a_topic_of_2000_rules_loads_and_decides_as_before(grown, engine):
    plan = grown.compiled.rulesets["physical_medicine"]
    assert synthetic.topic_rules(grown.base.files.root) >= 2000
    assert len(plan.definition) > 5000, "the topic compiles to thousands of engine rules"
    for spec in plan.specs():
        assert not spec.shape.over(KEEP), spec.name
    before = engine.decide(load_case(SEED)).model_dump(exclude={"rules_digest"})
    assert grown.decide(load_case(SEED)).model_dump(exclude={"rules_digest"}) == before


@pytest.mark.parametrize("completed,improvement,decision", [(0, "not documented", "Upheld"), (30, True, "Upheld")])
def test_a_synthetic_pack_of_the_grown_topic_decides_its_items(grown, completed, improvement, decision):
    item = grown.decide(_synthetic_case("synthetic_therapy_3", completed, improvement)).items[0]
    assert item.decision == decision
    assert item.governed_by and "Synthetic guideline 3" in item.governed_by
    assert {r.pack for r in item.rules} == {"synthetic-3"}, "only the addressing pack's rules reach the item"


def test_a_large_pack_is_split_with_its_label_chain_whole(tmp_path):
    root = synthetic.big_pack(tmp_path / "rules", 370, chained=40)  # a pack holds at most 380 rules
    engine = Engine(root)
    plan = engine.compiled.rulesets["physical_medicine"]
    shards = [name for name in plan.shards_of["synthetic-big"]]
    assert len(shards) > 2, "a 370-rule pack is split"
    holding = [n for n in shards if any(k.startswith("criterion:big.flagged:") for k in plan.shards[n].definition)]
    assert len(holding) == 1
    chain = plan.shards[holding[0]].definition
    assert all(any(k.startswith(f"criterion:big.label{n}:") for k in chain) for n in range(40)), "producers beside their reader"
    item = engine.decide(_synthetic_case("synthetic_therapy_big", 2, True)).items[0]
    assert any(r.rule == "big.flagged" and r.status == "not_met" for r in item.rules), "the chained rule fired"
    assert item.decision == "Upheld"


def test_validate_refuses_a_label_chain_no_ruleset_can_hold(tmp_path, capsys):
    """300 rules producing one label, all with the same test, and the rule reading it: one unit
    that cannot be split, and past the beta-list limit of one alpha node (it would corrupt memory)."""
    from engine.cli.main import main

    root = synthetic.big_pack(tmp_path / "rules", 10, chained=0)
    path = root / "packs" / "synthetic-big.yaml"
    pack = yaml.safe_load(path.read_text())
    pack["rules"] = [{"id": f"big.same{n}", "title": "t", "silence": "requirement", "section": "s", "pages": "1", "when": "item.frequency_per_week >= 1",
                      "outcome": "not_met", "decides": False, "label": "same", "rationale": {"not_met": "x"}} for n in range(300)]
    pack["rules"].append({"id": "big.reader", "title": "t", "silence": "requirement", "section": "s", "pages": "1", "when": 'finding.label == "same"',
                          "outcome": "not_met", "rationale": {"not_met": "x"}})
    path.write_text(yaml.safe_dump(pack, sort_keys=False))
    assert main(["validate", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:" in out and "K001" in out and "patterns ending at one alpha node" in out


def test_the_margin_is_inside_the_limits():
    for f in dataclasses.fields(ENGINE_LIMITS):
        assert getattr(KEEP, f.name) <= getattr(ENGINE_LIMITS, f.name)
