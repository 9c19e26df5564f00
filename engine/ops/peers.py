"""`imr bench --peers`: the same decisions timed side by side in one run, by this engine (every
decision fired in durable-rules), by GoRules zen-engine (a JDM decision graph: a decision table and
an expression node; the optional `bench` extra, `pip install -e '.[bench]'`) and by plain Python.

The decisions (the seed's logic, MTUS CPMTG 2009): physical therapy, a visit allowance by
diagnosis group (myalgia and myositis 10 visits, neuralgia, neuritis and radiculitis 10, CRPS 24;
a therapy without a diagnosis in a group is not documented) and functional improvement for
continued therapy; and a topical compound, not recommended when any agent is (each agent a rule;
the compound rule chains on their labelled findings). Any criterion not met upholds, then any not
documented, all met overturns, no finding: no rule applies.

Each system gets what it needs: the engine a case as a JSON line (validated, facts built, rules
fired, findings aggregated, letter written, JSON out: end to end), the peers the item's
prepared inputs (group, visits, prior therapy, improvement, agents). Every item's decision must
agree across the three, or the benchmark says so. CPU time per item (process time), in rounds
that interleave the systems so machine noise hits all alike.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from pathlib import Path

import yaml

from engine.load.paths import DEFAULT_RULES
from engine.ops import synthetic

ALLOWANCE = {"myalgia_myositis": 10, "neuritis_radiculitis": 10, "crps": 24}
NOT_RECOMMENDED = ("ketoprofen", "gabapentin", "baclofen", "cyclobenzaprine", "clonidine")
RECOMMENDED = ("diclofenac", "lidocaine", "capsaicin")
CODES = {"myalgia_myositis": "M62.830", "neuritis_radiculitis": "M51.16", "crps": "G90.521", None: "F32.9"}
"""An ICD-10-CM code per diagnosis group for a lumbar item (None: a diagnosis in no visit group)."""
PEER_TOPIC_PACKS = ("peer-physical-medicine", "peer-topical")
ND = "not documented"


# ------------------------------------------------------------------ the engine's rules


def _rationale(text: str, statuses=("met", "not_met", "not_documented")) -> dict:
    return {s: f"{text} ({s.replace('_', ' ')})." for s in statuses}


def peer_packs() -> dict[str, dict]:
    pm_rules = [{"id": f"peer.pt.allowance-{g.replace('_', '-')}", "title": f"Visit allowance for {g.replace('_', ' ')}",
                 "section": "Physical Medicine", "pages": "98-99", "when": f'dx.pm_group == "{g}"',
                 "require": f"history.visits_total <= {n}", "rationale": _rationale(f"Allowance of {n} visits"),
                 "documentation": ["Number of therapy visits already completed"]} for g, n in ALLOWANCE.items()]
    pm_rules.append({"id": "peer.pt.group-not-documented", "title": "A diagnosis in a visit group", "section": "Physical Medicine",
                     "pages": "98-99", "when": "dx.pm_group is not documented", "outcome": "not_documented",
                     "rationale": {"not_documented": "No diagnosis in a visit group."}})
    pm_rules.append({"id": "peer.pt.functional-improvement", "title": "Functional improvement for continued therapy",
                     "section": "Physical Medicine", "pages": "98-99", "when": "history.prior == true",
                     "require": "history.functional_improvement == true", "rationale": _rationale("Functional improvement"),
                     "documentation": ["Functional improvement from prior therapy"]})
    pm = {"pack": "peer-physical-medicine", "title": "Peer benchmark: physical medicine", "guideline": "MTUS",
          "document": "Peer benchmark, physical medicine", "edition": "2009",
          "effective": {"from": dt.date(2009, 7, 18), "to": dt.date(2016, 7, 28)}, "topic": "physical_medicine",
          "addresses": [{"applies_to": {"type": ["therapy"], "service": ["physical_therapy", "occupational_therapy"]}}],
          "rules": pm_rules}
    topical_rules = [{"id": "peer.topical.compound", "title": "A compound with an agent not recommended", "section": "Topical Analgesics",
                      "pages": "111-113", "when": 'finding.label == "not_recommended"', "outcome": "not_met",
                      "rationale": {"not_met": "The compound contains an agent that is not recommended."}}]
    for drug in NOT_RECOMMENDED:
        topical_rules.append({"id": f"peer.topical.{drug}", "title": f"Topical {drug} is not recommended", "section": "Topical Analgesics",
                              "pages": "111-113", "when": f'ingredient.drug == "{drug}"', "outcome": "not_met", "decides": False,
                              "label": "not_recommended", "rationale": {"not_met": f"Topical {drug} is not recommended."}})
    for drug in RECOMMENDED:
        topical_rules.append({"id": f"peer.topical.{drug}", "title": f"Topical {drug} is recommended", "section": "Topical Analgesics",
                              "pages": "111-113", "when": f'ingredient.drug == "{drug}"', "outcome": "met",
                              "rationale": {"met": f"Topical {drug} is recommended."}})
    topical = {"pack": "peer-topical", "title": "Peer benchmark: topical analgesics", "guideline": "MTUS",
               "document": "Peer benchmark, topical analgesics", "edition": "2009",
               "effective": {"from": dt.date(2009, 7, 18), "to": dt.date(2016, 7, 28)}, "topic": "topical_analgesics",
               "addresses": [{"applies_to": {"type": ["medication"], "form": ["topical"]}}], "rules": topical_rules}
    for pack in (pm, topical):
        pack["rules"] = [{"silence": "requirement", **r} for r in pack["rules"]]
    return {"peer-physical-medicine": pm, "peer-topical": topical}


def peer_rules(out: Path, rules_in_topic: int | None = None) -> Path:
    """A rules folder with the project's vocabulary and profiles and only the peer packs, grown with
    filler packs (engine.ops.synthetic) to `rules_in_topic` rules in physical medicine."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copytree(DEFAULT_RULES / "vocabulary", out / "vocabulary")
    shutil.copytree(DEFAULT_RULES / "profiles", out / "profiles")
    (out / "packs").mkdir()
    for name, pack in peer_packs().items():
        (out / "packs" / f"{name}.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    if rules_in_topic:
        grown = synthetic.grow(out.parent / (out.name + ".grown"), rules_in_topic, source=out)
        shutil.rmtree(out)
        grown.rename(out)
    return out


# ------------------------------------------------------------------ the workload


def peer_cases(count: int, seed: int = 0, items: int = 1, topical: float = 0.3) -> list[tuple[str, list[dict]]]:
    """(case JSON line, [peer inputs per item]) for `count` cases of `items` items each."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        group = rng.choice(list(CODES))
        completed = rng.choice([ND, 0, 2, 4, 6, 8, 12, 16, 20])
        fi = rng.choice([True, False, ND])
        history = [] if completed == 0 and rng.random() < 0.5 else [
            {"service": "physical_therapy", "region": "lumbar", "visits_completed": completed, "functional_improvement": fi}]
        case = {"case_id": f"peer-{seed}-{n}", "jurisdiction": "CA", "request_date": "2014-06-10",
                "injured_worker": {"age": 40, "sex": "female", "date_of_injury": "2013-01-15"},
                "diagnoses": [{"code": CODES[group], "text": "diagnosis"}], "treatment_history": history,
                "requested_items": []}
        inputs = []
        for k in range(items):
            if rng.random() < topical:
                agents = rng.sample(NOT_RECOMMENDED + RECOMMENDED, k=rng.choice([1, 2, 3]))
                case["requested_items"].append({"type": "medication", "id": f"item-{k}", "description": "Topical compound " + ", ".join(agents),
                                                "form": "topical", "compounded": len(agents) > 1,
                                                "ingredients": [{"drug": a} for a in agents]})
                inputs.append({"kind": "topical", "ingredients": agents})
                continue
            freq, weeks = rng.choice([(2, 4), (3, 4), (2, 6), (1, 4), (2, 2)])
            case["requested_items"].append({"type": "therapy", "id": f"item-{k}", "description": f"Physical therapy {freq}x{weeks}",
                                            "service": "physical_therapy", "region": "lumbar", "frequency_per_week": freq,
                                            "duration_weeks": weeks})
            entry = {"kind": "pt"}
            if group:
                entry["pm_group"] = group
            if history:
                entry["prior"] = True if completed == ND else completed > 0
                if completed != ND:
                    entry["visits_total"] = completed + freq * weeks
                if fi != ND:
                    entry["functional_improvement"] = fi
            elif not history:
                pass  # no history line: prior therapy and visits not documented
            inputs.append(entry)
        out.append((json.dumps(case), inputs))
    return out


# ------------------------------------------------------------------ the peers


def python_decide(entry: dict) -> str:
    """The same logic in plain Python (three-valued: a missing input is not documented)."""
    statuses = []
    if entry["kind"] == "topical":
        agents = entry["ingredients"]
        if any(a in NOT_RECOMMENDED for a in agents):
            return "Upheld"
        statuses = ["met" for a in agents if a in RECOMMENDED]
    else:
        group = entry.get("pm_group")
        if group is None:
            statuses.append("not_documented")
        else:
            visits = entry.get("visits_total")
            statuses.append("not_documented" if visits is None else "met" if visits <= ALLOWANCE[group] else "not_met")
        if entry.get("prior") is True:
            fi = entry.get("functional_improvement")
            statuses.append("not_documented" if fi is None else "met" if fi else "not_met")
    if "not_met" in statuses or "not_documented" in statuses:
        return "Upheld"
    return "Overturned" if statuses else "No rule applies"


def zen_graph() -> dict:
    """The same logic as a zen-engine JDM graph: an expression node, then a first-hit decision table."""
    def rule(n, **cells):
        base = {"_id": str(n), "k": "", "g": "", "v": "", "p": "", "f": "", "bad": "", "good": ""}
        base.update(cells)
        return base
    rows = [rule(1, k='"topical"', bad="true", d='"Upheld"'), rule(2, k='"topical"', good="true", d='"Overturned"'),
            rule(3, k='"topical"', d='"No rule applies"')]
    n = 4
    for group, visits in ALLOWANCE.items():
        rows.append(rule(n, k='"pt"', g=f'"{group}"', v=f"> {visits}", d='"Upheld"'))
        n += 1
    rows += [rule(n, k='"pt"', p="true", f="false", d='"Upheld"'), rule(n + 1, k='"pt"', g="null", d='"Upheld"'),
             rule(n + 2, k='"pt"', v="null", d='"Upheld"'), rule(n + 3, k='"pt"', p="true", f="null", d='"Upheld"'),
             rule(n + 4, k='"pt"', d='"Overturned"')]
    bad = "some(ingredients ?? [], # in [" + ", ".join(f"'{a}'" for a in NOT_RECOMMENDED) + "])"
    good = "some(ingredients ?? [], # in [" + ", ".join(f"'{a}'" for a in RECOMMENDED) + "])"
    return {"nodes": [
        {"id": "in", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
        {"id": "ex", "type": "expressionNode", "name": "agents", "position": {"x": 1, "y": 0}, "content": {"expressions": [
            {"id": "x1", "key": "bad", "value": bad}, {"id": "x2", "key": "good", "value": good},
            {"id": "x3", "key": "kind", "value": "kind"}, {"id": "x4", "key": "pm_group", "value": "pm_group"},
            {"id": "x5", "key": "visits_total", "value": "visits_total"}, {"id": "x6", "key": "prior", "value": "prior"},
            {"id": "x7", "key": "functional_improvement", "value": "functional_improvement"}]}},
        {"id": "dt", "type": "decisionTableNode", "name": "decision", "position": {"x": 2, "y": 0}, "content": {
            "hitPolicy": "first",
            "inputs": [{"id": "k", "name": "kind", "field": "kind"}, {"id": "g", "name": "group", "field": "pm_group"},
                       {"id": "v", "name": "visits", "field": "visits_total"}, {"id": "p", "name": "prior", "field": "prior"},
                       {"id": "f", "name": "improvement", "field": "functional_improvement"},
                       {"id": "bad", "name": "bad", "field": "bad"}, {"id": "good", "name": "good", "field": "good"}],
            "outputs": [{"id": "d", "name": "decision", "field": "decision"}], "rules": rows}},
        {"id": "out", "type": "outputNode", "name": "response", "position": {"x": 3, "y": 0}}],
        "edges": [{"id": "e1", "sourceId": "in", "targetId": "ex", "type": "edge"},
                  {"id": "e2", "sourceId": "ex", "targetId": "dt", "type": "edge"},
                  {"id": "e3", "sourceId": "dt", "targetId": "out", "type": "edge"}]}


def zen_decider():
    """A callable entry -> decision backed by zen-engine, or None when it is not installed."""
    try:
        import zen  # the optional `bench` extra: not a runtime dependency
    except ImportError:
        return None
    decision = zen.ZenEngine().create_decision(json.dumps(zen_graph()))
    return lambda entry: decision.evaluate(entry)["result"]["decision"]


# ------------------------------------------------------------------ timing


def _cpu_per_item(fn, batches: list, items: int) -> float:
    start = time.process_time()
    for batch in batches:
        fn(batch)
    return (time.process_time() - start) / items * 1e6


def compare(engine, cases: list[tuple[str, list[dict]]], rounds: int = 3) -> dict:
    """µs of CPU per item for each system on the same items, and whether their decisions agree."""
    from engine.load.cases import case_from_json_line  # start-up cost

    zen_decide = zen_decider()
    entries = [e for _, inputs in cases for e in inputs]
    items = len(entries)
    facts = [engine.facts(case_from_json_line(line, "peers")) for line, _ in cases]

    def engine_e2e(batch):
        for line in batch:
            engine.decide(case_from_json_line(line, "peers")).model_dump_json()

    def engine_fire(batch):
        for f in batch:
            engine.fire(f)

    def peer(fn):
        def run(batch):
            for entry in batch:
                fn(entry)
        return run

    lines = [line for line, _ in cases]
    # agreement first (and warm-up)
    decided = [i.decision for line in lines for i in engine.decide(case_from_json_line(line, "peers")).items]
    disagree = {"python": sum(1 for d, e in zip(decided, entries) if python_decide(e) != d)}
    if zen_decide:
        disagree["zen_engine"] = sum(1 for d, e in zip(decided, entries) if zen_decide(e) != d)
    times: dict[str, list[float]] = {"engine": [], "engine_firing": [], "python": []}
    if zen_decide:
        times["zen_engine"] = []
    for _ in range(rounds):
        times["engine"].append(_cpu_per_item(engine_e2e, [lines], items))
        times["engine_firing"].append(_cpu_per_item(engine_fire, [facts], items))
        times["python"].append(_cpu_per_item(peer(python_decide), [entries], items))
        if zen_decide:
            times["zen_engine"].append(_cpu_per_item(peer(zen_decide), [entries], items))
    best = {k: round(min(v), 1) for k, v in times.items()}
    out = {"items": items, "us_per_item": best, "disagreements": disagree,
           "decisions": {d: decided.count(d) for d in sorted(set(decided))}}
    if zen_decide is None:
        out["zen_engine"] = "not installed: pip install -e '.[bench]' (zen-engine is a benchmark-only extra)"
    return out
