"""`imr explain CASE`: the trace behind a determination, for a policy analyst.

What decided is what durable-rules fired (the session log); nothing here decides. To show *why*
each rule ended as it did, every condition of every rule of the item's topic is evaluated again
over the asserted facts, in Python, with Kleene's three-valued logic (kleene.py), only for
display: tests/test_explain.py checks that this per-rule outcome agrees with what fired, for every
case of the corpus. The "what documentation would have changed it" answer comes from re-running
the real engine on modified cases (counterfactual.py), never from reasoning outside it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
from dataclasses import asdict, dataclass, field

from engine.decide.letter import NOT_COUNTED
from engine.facts.schema import MULTI_ENTITIES as MULTI
from engine.facts.schema import subject_of
from engine.language.evaluate import STATUS_OF, Leaf, evaluate, test_holds, value_text
from engine.language.scope import edition_tests, scope_tests
from engine.model.rules import SILENT_STATUSES, carried_over_on
from engine.tools.counterfactual import Budget, smallest_changes
from engine.words import plural

@dataclass
class Evaluation:
    condition: str
    result: bool | None
    leaves: list[Leaf]


@dataclass
class RuleTrace:
    rule: str
    title: str
    citation: str
    applies: str  # "yes", or why not (scope, edition, no fact, condition false)
    subject: str = ""
    when: Evaluation | None = None
    require: Evaluation | None = None
    status: str | None = None  # met | not_met | not_documented, when it applies
    fired: list[str] = field(default_factory=list)  # statuses durable-rules fired for this rule and subject
    silence: str = "requirement"  # the rule's `silence:`: whether a not documented (not met) outcome counts
    carried_over: str = ""  # "values of EDITION applied (carried over into EDITION)" on the request date, else ""


@dataclass
class ItemTrace:
    item_id: str
    description: str
    decision: str
    reason: str
    topic: str
    facts: dict
    sequence: list[dict]
    rules: list[RuleTrace]
    findings: list[dict]
    decision_rule: str
    counterfactuals: list[dict] = field(default_factory=list)
    counterfactual_runs: int = 0
    counterfactual_max: int = 0
    counterfactual_stopped: str | None = None  # why the search stopped early (a budget), else None


# ---------------------------------------------------------------- the trace

def facts_of(facts, item_id: str) -> tuple[dict, list[dict]]:
    """Single facts of an item by entity (case facts included) and its ingredient facts."""
    env = {f["t"]: f for f in facts.case_facts}
    ingredients = []
    for iid, _topic, item_facts in facts.items:
        if iid != item_id:
            continue
        for f in item_facts:
            if f["t"] == "ingredient":
                ingredients.append(f)
            else:
                env[f["t"]] = f
    return env, ingredients


def _findings(events) -> list[dict]:
    """The finding facts the item's criterion rules asserted (withdrawn ones left out)."""
    out, seen = [], set()
    for f in events.findings:
        fact = {"rule": f.rule, "status": f.status, "pack": f.pack, "subject": f.subject}
        if f.label:
            fact["label"] = f.label
        key = tuple(sorted(fact.items()))
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def trace_rule(parsed, env: dict, ingredients: list[dict], findings: list[dict], addressed: bool = True,
               day: dt.date | None = None) -> list[RuleTrace]:
    """The display evaluation of one rule for one item: one trace per binding of its multi-facts.
    On `day` (the request date), the editions whose values the rule's criteria carry over."""
    rule = parsed.rule
    citation = f"{parsed.pack.guideline} {parsed.pack.document} ({parsed.pack.edition}), {rule.section}" + ("" if rule.pages == "n/a" else f", pp. {rule.pages}")
    carried = "; ".join(c.text for c in carried_over_on(parsed.pack, rule, day)) if day is not None else ""

    def blank(why: str) -> RuleTrace:
        return RuleTrace(rule.id, rule.title, citation, why, silence=rule.silence or "requirement", carried_over=carried)

    failed_scope = [t for t in sorted(scope_tests(parsed.scope)) if not test_holds(t, env)]
    if failed_scope:
        return [blank("no: outside its scope (" + ", ".join(f"item.{t.field} {'in' if t.op == 'any_of' else t.op} {list(t.value) if t.op == 'any_of' else t.value}" for t in failed_scope) + ")")]
    if not all(test_holds(t, env) for t in edition_tests(parsed.pack)):
        return [blank(f"no: edition {parsed.pack.effective.from_}..{parsed.pack.effective.to or ''} not in force on the request date")]
    if not addressed:
        return [blank(f"no: its pack ({parsed.pack.pack}) does not address the item, so its findings are withdrawn")]
    entities = parsed.entities
    missing = sorted(e for e in entities if e not in MULTI and e not in env)
    if missing:
        return [blank(f"no: the item has no {', '.join(missing)} fact")]
    pools = {"ingredient": ingredients, "finding": findings}
    multi = [e for e in MULTI if e in entities]
    if any(not pools[e] for e in multi):
        return [blank(f"no: the item has no {', '.join(e for e in multi if not pools[e])} fact")]
    out = []
    for combo in itertools.product(*(pools[e] for e in multi)):
        binding = dict(env, **dict(zip(multi, combo)))
        trace = blank("yes")
        trace.subject = subject_of(dict(zip(multi, combo)))
        if parsed.when is not None:
            leaves: list[Leaf] = []
            result = evaluate(parsed.when, binding, leaves)
            trace.when = Evaluation(rule.when, result, leaves)
            if result is not True:
                trace.applies = "no: `when` is " + ("unknown" if result is None else "false")
                out.append(trace)
                continue
        if parsed.require is not None:
            leaves = []
            result = evaluate(parsed.require, binding, leaves)
            trace.require = Evaluation(rule.require, result, leaves)
            trace.status = STATUS_OF[result]
        else:
            trace.status = rule.outcome
        out.append(trace)
    if multi:  # one line per binding that applies; the others only when none does
        applied, seen = [], set()
        for t in out:
            if t.status and (t.subject, t.status) not in seen:
                seen.add((t.subject, t.status))
                applied.append(t)
        if applied:
            return applied
        first = out[0]
        first.subject = ""
        first.applies = f"no: `when` holds for none of the {plural(len(out), ' x '.join(multi) + ' binding')} (the first is shown)"
        return [first]
    return out


def explain_case(engine, case, counterfactuals: bool = True, max_size: int = 3, budget_seconds: float | None = None,
                 budget_runs: int | None = None, progress=None, only: list[str] | None = None) -> list[ItemTrace]:
    """The trace of every item; for an Upheld item, the search for what documentation would change
    it, within `budget_seconds` for the whole case and `budget_runs` re-runs per item (an item
    whose search stopped early says why in `counterfactual_stopped`). `progress(done, total,
    item_id, runs)` is called as the searches go (the command line draws it on a terminal). With
    `only`, only those items are traced (and searched)."""
    budget = Budget.of(budget_runs, budget_seconds)
    facts, events, determination = engine.trace(case)
    upheld = [i.item_id for i in determination.items if i.decision == "Upheld" and (only is None or i.item_id in only)]
    profile = engine.base.profiles.get(case.jurisdiction)
    topics = {iid: topic for iid, topic, _ in facts.items}
    items = []
    for item in determination.items:
        if only is not None and item.item_id not in only:
            continue
        mine = events[item.item_id]
        env, ingredients = facts_of(facts, item.item_id)
        findings = _findings(mine)
        addressed = {a.pack: a.rank for a in mine.addressed}
        fired_status: dict[tuple, list[str]] = {}
        for f in mine.findings:
            statuses = fired_status.setdefault((f.rule, f.subject), [])
            if f.status not in statuses:
                statuses.append(f.status)
        rules = []
        for parsed in engine.base.rules:
            if not parsed.pack.compiles_into(topics[item.item_id]):
                continue
            for trace in trace_rule(parsed, env, ingredients, findings, parsed.pack.pack in addressed, case.request_date):
                trace.fired = sorted(fired_status.get((parsed.rule.id, trace.subject), []))
                rules.append(trace)
        governing = {g.pack for g in mine.governs}
        sequence = []
        if profile:
            for rank, tier in enumerate(profile.tiers, start=1):
                packs = sorted(p for p, r in addressed.items() if r == rank)
                state = ("governs" if governing & set(packs) else "addressed; a better-ranked tier governs") if packs else "does not address the item"
                sequence.append({"rank": rank, "tier": f"{tier.guideline}" + (f" ({', '.join(tier.documents)})" if tier.documents else ""),
                                 "label": tier.label, "packs": packs, "state": state})
        decision_rule = mine.decision.rule if mine.decision else ""
        hidden = ("t", "id", "item_id")
        facts_shown = {e: {k: v for k, v in f.items() if k not in hidden} for e, f in env.items()}
        if ingredients:
            facts_shown["ingredient"] = [{k: v for k, v in f.items() if k not in hidden} for f in ingredients]
        trace = ItemTrace(item.item_id, item.item, item.decision, item.reason, topics[item.item_id], facts_shown,
                          sequence, rules, findings, decision_rule)
        if counterfactuals and item.decision == "Upheld":
            done = upheld.index(item.item_id)
            step = None if progress is None else (lambda runs, done=done, iid=item.item_id: progress(done, len(upheld), iid, runs))
            found = smallest_changes(engine, case, item.item_id, max_size=max_size, budget=budget, progress=step)
            trace.counterfactuals = [c.as_dict() for c in found.changes]
            trace.counterfactual_runs = found.runs
            trace.counterfactual_max = max_size
            trace.counterfactual_stopped = found.stopped
        items.append(trace)
    return items


# ---------------------------------------------------------------- rendering

def _tri(value: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[value]


def render_text(case, items: list[ItemTrace], verbose: bool = False) -> str:

    lines = [f"Case {case.case_id} ({case.jurisdiction}, request date {case.request_date})", ""]
    for it in items:
        lines.append(f"== {it.item_id}: {it.description}")
        lines.append(f"   decision: {it.decision} ({it.reason}); decision rule fired: {it.decision_rule}")
        lines.append("   facts asserted (absent = not documented):")
        for entity, fact in it.facts.items():
            shown = fact if isinstance(fact, list) else [fact]
            for f in shown:
                lines.append(f"     {entity}: " + (", ".join(f"{k}={value_text(v)}" for k, v in sorted(f.items())) or "(nothing documented)"))
        lines.append("   search sequence:")
        for s in it.sequence:
            lines.append(f"     {s['rank']}. {s['tier']} [{s['label']}]: {s['state']}" + (f" ({', '.join(s['packs'])})" if s["packs"] else ""))
        lines.append(f"   rules of topic '{it.topic}':")
        skipped = 0
        for r in it.rules:
            if r.status is None and not verbose and r.applies.startswith("no: outside its scope"):
                skipped += 1
                continue
            subject = f" [{r.subject}]" if r.subject else ""
            head = r.status.replace("_", " ").upper() if r.status else "does not apply"
            lines.append(f"     {head}: {r.rule}{subject} - {r.title}")
            lines.append(f"       {r.citation}")
            if r.carried_over and r.status:
                lines.append(f"       {r.carried_over}")
            if r.status is None:
                lines.append(f"       applies: {r.applies}")
            elif r.status in SILENT_STATUSES[r.silence]:
                lines.append(f"       {NOT_COUNTED[r.silence, r.status]}")
            for label, ev in (("when", r.when), ("require", r.require)):
                if ev is None:
                    continue
                lines.append(f"       {label} {ev.condition.strip()} -> {_tri(ev.result)}")
                for leaf in ev.leaves:
                    lines.append(f"         {_tri(leaf.result):7} {leaf.text}   ({leaf.values})")
        if skipped:
            lines.append(f"     ({plural(skipped, 'rule')} of the topic {'is' if skipped == 1 else 'are'} outside the item's scope; --verbose lists them)")
        lines.append("   findings derived: " + ("; ".join(f"{f['rule']}{'[' + f['subject'] + ']' if f['subject'] else ''}={f['status']}" for f in it.findings) or "none"))
        if it.decision == "Upheld" and not it.counterfactual_max:
            lines.append("   documentation that would have changed it: not searched (--no-counterfactuals)")
        elif it.decision == "Upheld":
            lines.append(f"   documentation that would have changed it (engine re-run on {plural(it.counterfactual_runs, 'modified case')}):")
            if it.counterfactual_stopped:
                lines.append(f"     search stopped early: {it.counterfactual_stopped} (--budget-seconds, --budget-runs);"
                             " smaller or other sets may exist")
            if not it.counterfactuals and it.counterfactual_stopped:
                lines.append("     none found before the search stopped")
            elif not it.counterfactuals:
                lines.append(f"     none found: documenting up to {it.counterfactual_max} of the facts the record leaves out does not change the decision")
            for c in it.counterfactuals:
                lines.append("     - " + " and ".join(f"{ch['path']}: {value_text(ch['value'])}" for ch in c["set"]) + f" -> {c['decision']}")
        lines.append("")
    return "\n".join(lines)
