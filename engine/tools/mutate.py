"""`imr test --mutate`: mutation testing of the rule base against the case corpus.

Each rule in turn is deleted from the parsed rule base (checks.rulebase.RuleBase without that
ParsedRule; a pack left with no rules then behaves as a scope-only pack, which is what deleting
its last criterion means) and the cases its deletion could change are decided again by
durable-rules. A rule *survives* when no case notices its deletion: every expected decision and
every rule expectation (`governing`, `not_fired`) that passed with the full rule base still
passes. A surviving rule is one no case pins: a change to it would reach users unreviewed.

Which cases are decided for a deleted rule: its pack's folder (cases/<pack-id>/), the case files
whose expectations name it, and the cases with an item its pack governed or the rule fired for
(an item the rule did not fire for cannot change; a rule whose finding other rules chain on, by
`label`, also re-decides the items those rules fired for or its pack addressed).

What makes it fast: the rule base is loaded once; a mutant is an Engine of only the packs of the
deleted rule's topic (`mutant`), so only that topic is compiled and registered in durable-rules,
and only the items routed to it are judged (an item of another topic cannot change); the facts
of each case are built once; only the affected cases are decided, without writing letters;
`workers` forks processes that share the loaded state.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.checks.cases import load_checked_case
from engine.checks.rulebase import RuleBase
from engine.decide.pipeline import Engine
from engine.durable.compile import FALLBACK_TOPIC, compile_rules
from engine.durable.session import Rete
from engine.load.cases import case_files, missing_path
from engine.model.diagnostics import Diagnostic, InputError
from engine.tools.casetest import check_item
from engine.words import plural


@dataclass
class Survivor:
    rule: str
    pack: str
    cases: int
    """Cases decided without the rule (none of them noticed)."""


@dataclass
class MutationRun:
    rules: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    seconds: float = 0.0
    cases: int = 0
    decided: int = 0
    """Case decisions made over all the mutants."""
    baseline_failures: int = 0
    """Expectations that already fail with the full rule base (`imr test` reports them); they
    cannot tell a mutant apart."""
    invalid: list[Diagnostic] = field(default_factory=list)
    killed_by: dict[str, str] = field(default_factory=dict)
    """Rule id -> the first case file that noticed its deletion."""


@dataclass
class _Case:
    path: Path
    case: object
    facts: object
    expectations: dict
    folder: str
    named: set[str]
    governed: set[str]  # packs that governed an item
    addressed: set[str]  # packs that addressed an item
    fired: set[str]  # rules that fired for an item
    failing: frozenset  # (item, what) expectations that fail with the full rule base


def without(base: RuleBase, rule_id: str | None) -> RuleBase:
    """The rule base with one rule deleted (its pack keeps its scope, and any other rules)."""
    if rule_id is None:
        return base
    victim = base.rule(rule_id)
    pack = victim.pack
    smaller = pack.model_copy(update={"rules": [r for r in pack.rules if r.id != rule_id]})
    rules = [dataclasses.replace(r, pack=smaller) if r.pack.pack == pack.pack else r for r in base.rules if r is not victim]
    scopes = dict(base.scopes)
    scopes[pack.pack] = [dataclasses.replace(s, pack=smaller) for s in base.scopes[pack.pack]]
    return dataclasses.replace(base, rules=rules, scopes=scopes, expanded={**base.expanded, pack.pack: smaller})


def restricted(base: RuleBase, topics: set[str]) -> RuleBase:
    """Only the packs whose rules compile into one of `topics`: an item routed to one of them is
    decided by the same rules as with the whole rule base."""
    keep = {p.pack for p in base.packs if any(p.compiles_into(t) for t in topics)}
    files = dataclasses.replace(base.files, packs=[lp for lp in base.files.packs if lp.pack.pack in keep])
    return dataclasses.replace(base, files=files, rules=[r for r in base.rules if r.pack.pack in keep],
                               scopes={k: v for k, v in base.scopes.items() if k in keep},
                               expanded={k: v for k, v in base.expanded.items() if k in keep})


def topics_of(engine: Engine, rule_id: str) -> set[str]:
    """The topics whose items a rule can reach: its pack's, or every one for a pack of topic `any`."""
    pack = engine.base.rule(rule_id).pack
    return {t for t in engine.compiled.rulesets if pack.compiles_into(t)}


def mutant(engine: Engine, rule_id: str | None, topics: set[str]) -> Engine:
    """An Engine of the rule base without the rule, holding only the packs of `topics` (what
    compiles and registers in durable-rules is that topic's, not the whole rule base): it decides
    the items routed to those topics exactly as the whole rule base without the rule would."""
    base = restricted(without(engine.base, rule_id), topics)
    out = Engine.__new__(Engine)
    out.__dict__.update(engine.__dict__)  # the letter and the aggregator: nothing here writes letters
    out.base = base
    out.compiled = compile_rules(base)
    out.rete = Rete(out.compiled)
    return out


def _routed(engine: Engine, facts, topics: set[str]) -> set[str]:
    """The items of a case that the full engine routes to one of `topics` (as Engine.sessions does)."""
    names = engine.compiled.rulesets
    return {item_id for item_id, topic, _ in facts.items if (topic if topic in names else FALLBACK_TOPIC) in topics}


def _failures(engine: Engine, c: _Case, items: set[str] | None = None) -> frozenset:
    """The expectations of a case (of `items` only, when given) that fail under this engine:
    (item, 'decision' | rule id)."""
    events = engine.fire(c.facts)
    out = set()
    for item_id, want in c.expectations.items():
        if items is not None and item_id not in items:
            continue
        o = engine.aggregator.outcome(events[item_id])
        found = (o.reports or {}).get("prospective_review")
        check = check_item(want, o.decision, o.outcomes, o.rank, o.reason, (found[0], [x.rule for x in found[1]]) if found else None)
        if not check.decision_ok:
            out.add((item_id, "decision"))
        out.update((item_id, m.rule) for m in check.rule_mismatches)
    return frozenset(out)


def _baseline(engine: Engine, paths, run: MutationRun) -> list[_Case]:
    out = []
    known = {r.rule.id for r in engine.base.rules}
    for path in case_files([p for p in paths if Path(p).exists()]):
        try:
            case = load_checked_case(path, known)
        except InputError as exc:
            run.invalid.extend(exc.diagnostics)
            continue
        if not case.expected:
            continue
        facts, events, determination = engine.trace(case)
        expectations = case.expectations()
        c = _Case(path=Path(path), case=case, facts=facts, expectations=expectations, folder=Path(path).parent.name,
                  named={r for e in expectations.values() for r in e.governing + e.not_fired + e.review_rules},
                  governed={g.pack for e in events.values() for g in e.governs},
                  addressed={a.pack for e in events.values() for a in e.addressed},
                  fired={o.rule for i in determination.items for o in i.rules}, failing=frozenset())
        c.failing = _failures(engine, c)
        out.append(c)
    return out


def affected(engine: Engine, cases: list[_Case], rule_id: str) -> list[_Case]:
    """The cases a rule's deletion could change, with those of its pack's folder and those naming it."""
    victim = engine.base.rule(rule_id)
    pack = victim.pack.pack
    chained = set()
    if victim.rule.label:  # rules reading `finding.label` may fire on its finding
        chained = {r.rule.id for r in engine.base.rules if "finding" in r.entities}
    return [c for c in cases if c.folder == pack or rule_id in c.named or pack in c.governed or rule_id in c.fired
            or (chained and (c.fired & chained or pack in c.addressed))]


_STATE: dict = {}


def _one(rule_id: str) -> tuple[str, int, str | None]:
    """Delete one rule; (rule, cases decided, the first case file that noticed, if any)."""
    engine, cases = _STATE["engine"], _STATE["cases"]
    todo = affected(engine, cases, rule_id)
    # only the topics the affected cases' items are routed to: a rule of a pack of topic `any`
    # reaches every topic, but compiling those no affected item reaches changes no judgement
    names = engine.compiled.rulesets
    reached = {(topic if topic in names else FALLBACK_TOPIC) for c in todo for _, topic, _ in c.facts.items}
    topics = topics_of(engine, rule_id) & reached
    if not topics:
        return rule_id, len(todo), None
    m = mutant(engine, rule_id, topics)
    try:
        for n, c in enumerate(todo, start=1):
            items = _routed(engine, c.facts, topics)
            if _failures(m, c, items) - c.failing:
                return rule_id, n, str(c.path)
        return rule_id, len(todo), None
    finally:
        if hasattr(m.rete, "close"):
            m.rete.close()  # free its rulesets in durable-rules' C memory


def run_mutation(engine: Engine, paths: list[str | Path], workers: int = 1, rules: list[str] | None = None,
                 exercised_only: bool = False) -> MutationRun:
    """Delete each rule of the engine's rule base in turn (or only `rules`) and decide the affected
    cases. `exercised_only` (a few case files given): only the rules some of these cases could
    notice; else a rule no case exercises survives, as it should for the whole corpus."""
    started = time.perf_counter()
    run = MutationRun()
    for p in paths:
        if not Path(p).exists():
            run.invalid.append(missing_path(p))
    cases = _baseline(engine, paths, run)
    run.cases = len(cases)
    run.baseline_failures = sum(len(c.failing) for c in cases)
    ids = rules if rules is not None else [r.rule.id for r in engine.base.rules]
    if exercised_only:  # the rule's pack folder, a case naming it, or an item its pack governed
        pack = {rid: engine.base.rule(rid).pack.pack for rid in ids}
        ids = [rid for rid in ids if any(c.folder == pack[rid] or rid in c.named or pack[rid] in c.governed for c in cases)]
    run.rules = len(ids)
    _STATE.update(engine=engine, cases=cases)
    try:
        if workers > 1 and len(ids) > 1 and hasattr(os, "fork"):
            import multiprocessing  # only with --workers

            with multiprocessing.get_context("fork").Pool(workers) as pool:
                results = pool.map(_one, ids, chunksize=max(1, len(ids) // (workers * 8)))
        else:
            results = [_one(rid) for rid in ids]
    finally:
        _STATE.clear()
    for rule_id, decided, killer in results:
        run.decided += decided
        if killer is None:
            run.survivors.append(Survivor(rule_id, engine.base.rule(rule_id).pack.pack, decided))
        else:
            run.killed_by[rule_id] = killer
    run.seconds = round(time.perf_counter() - started, 1)
    return run


def summary(run: MutationRun) -> str:
    return f"mutation: {plural(run.rules, 'rule')} deleted one at a time, {len(run.survivors)} survived, {run.seconds} s"
