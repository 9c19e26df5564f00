"""Aggregate step: read what fired in a case's sessions into per-item determinations.

The decision itself is the decision rule that fired in durable-rules (compiler.py, step 4); this
module only collects it, with the findings of the governing tier, renders their rationale
templates and lists the documentation that would change the outcome. It never decides.
"""

from __future__ import annotations

from jinja2 import Environment, meta

from engine.model.case import Case
from engine.model.determination import Citation, Determination, ItemDetermination, RuleOutcome
from engine.facts.build import CaseFacts, mirror
from engine.durable.session import Fired, SessionLog, addressed_packs, finding_subject
from engine.language.templates import FactView, render
from engine.checks.rulebase import RuleBase

_STATUS_ORDER = {"not_met": 0, "not_documented": 1, "met": 2}

_REASONS = {
    "not_met": "a criterion of the governing guideline is not met",
    "not_documented": "the record does not document what the governing guideline requires",
    "met": "the governing guideline's criteria are met",
    "no_finding": "the governing guideline addresses the item but no encoded criterion reached a conclusion",
    "no_edition": "no encoded guideline edition is in force on the request date",
    "not_addressed": "no encoded guideline addresses this item",
}


class Aggregator:
    def __init__(self, base: RuleBase):
        self.base = base
        self.packs = {p.pack: p for p in base.packs}
        # computed once, not per case: rule order for sorting, each pack's rank per jurisdiction
        self._order = {r.rule.id: n for n, r in enumerate(base.rules)}
        self._ranks = {(p.pack, j): prof.rank_of(p) for p in base.packs for j, prof in base.profiles.items()}
        self._names = {(r.rule.id, status): _template_names(text) for r in base.rules
                       for status in ("met", "not_met", "not_documented") if (text := getattr(r.rule.rationale, status, None))}

    def determination(self, case: Case, facts: CaseFacts, logs: dict[str, SessionLog]) -> Determination:
        profile = self.base.profiles.get(case.jurisdiction)
        case_facts = {f["t"]: f for f in facts.case_facts}
        items = []
        by_log: dict[int, dict] = {}  # items sharing a topic share a session log: split it once
        for item_model, (item_id, _topic, item_facts) in zip(case.requested_items, facts.items):
            log = logs[item_id]
            if id(log) not in by_log:
                by_log[id(log)] = _by_item(log)
            context = {**case_facts, **{f["t"]: f for f in item_facts if f["t"] != "ingredient"}}
            mine = by_log[id(log)].get(item_id, [])
            items.append(self._item(item_model, item_id, mine, _LazyViews(context, self.base.fields), profile))
        return Determination(
            case_id=case.case_id, jurisdiction=case.jurisdiction, profile=profile.name if profile else None,
            request_date=case.request_date.isoformat(), rules_digest=self.base.digest, items=items,
        )

    def _item(self, item_model, item_id: str, mine: list[Fired], context: "_LazyViews", profile) -> ItemDetermination:
        decisions = [f for f in mine if f.spec.kind == "decision"]
        if len(decisions) == 0:
            raise RuntimeError(f"no decision rule fired for item {item_id}")  # would be an engine bug
        decision = decisions[0].spec
        governing = [f.bindings["addressed"] for f in mine if f.spec.kind == "govern"]
        rank = governing[0]["rank"] if governing else None
        outcomes = self._outcomes(mine)
        tier = [o for o in outcomes if o.rank == rank] if rank is not None else []
        shown = [o for o in tier if (o.status == "met") == (decision.decision == "Overturned")]
        rationale, citations, missing, supported = self._explain(shown, context, profile, rank)
        if decision.reason in ("no_finding", "no_edition", "not_addressed"):
            rationale = f"{_REASONS[decision.reason].capitalize()}; the pre-screen gives no guideline-based outcome for {item_model.description}."
        governed_by = None
        if governing:
            packs = sorted({g["pack"] for g in governing})
            label = profile.tiers[rank - 1].label if profile else ""
            text = "; ".join(f"{self.packs[p].guideline} {self.packs[p].document} ({self.packs[p].edition})" for p in packs)
            governed_by = text if text.startswith(label) else f"{label}: {text}"  # not "MTUS: MTUS ..."
        return ItemDetermination(
            item_id=item_id, item=item_model.description, decision=decision.decision, reason=_REASONS[decision.reason],
            governed_by=governed_by, governing_rank=rank, citations=citations, rationale=rationale, missing_documentation=missing,
            supported=supported, recommendation=_recommendation(decision.decision), rules=outcomes,
        )

    def _outcomes(self, fired: list[Fired]) -> list[RuleOutcome]:
        seen: dict[tuple, RuleOutcome] = {}
        addressed = addressed_packs(fired)
        for f in fired:
            if f.spec.kind != "criterion" or f.spec.pack not in addressed:
                continue
            subject = finding_subject(f.bindings)
            key = (f.spec.rule_id, f.spec.status, subject)
            rank = self._ranks.get((f.spec.pack, f.bindings["item"][mirror("jurisdiction")]))
            previous = seen.get(key)
            absent = sorted(set(f.spec.absent) | set(previous.not_documented if previous else ()))
            seen[key] = RuleOutcome(rule=f.spec.rule_id, status=f.spec.status, subject=subject, pack=f.spec.pack,
                                    rank=rank or 0, deciding=f.spec.decides, not_documented=absent)
        order = self._order
        return sorted(seen.values(), key=lambda o: (o.rank, _STATUS_ORDER[o.status], order[o.rule], o.subject))

    def _explain(self, shown: list[RuleOutcome], context: "_LazyViews", profile, rank):
        sentences, citations, missing, supported = [], [], [], None
        groups: dict[tuple, list[RuleOutcome]] = {}
        for o in shown:
            groups.setdefault((o.rule, o.status), []).append(o)
        for (rule_id, status), group in groups.items():
            parsed = self.base.rule(rule_id)
            rule, pack = parsed.rule, parsed.pack
            subjects = [o.subject.replace("_", " ") for o in group if o.subject]
            view = context.views(self._names.get((rule_id, status), ()))
            view.update(rule={"id": rule.id, "title": rule.title, "section": rule.section, "pages": rule.pages},
                        allowance=(rule.allowance.model_dump() if rule.allowance else {}),
                        subject=_spoken_list(subjects), subjects=subjects)
            text = render(parsed.templates[status], view)
            undocumented = sorted({a for o in group for a in o.not_documented})
            if status == "not_documented" and undocumented:
                text += f" (Not documented: {', '.join(undocumented)}.)"
            sentences.append(text)
            citation = Citation(basis=profile.tiers[rank - 1].label if profile and rank else pack.guideline,
                                guideline=pack.guideline, document=pack.document, edition=pack.edition,
                                section=rule.section, pages=rule.pages)
            if citation not in citations:
                citations.append(citation)
            if status != "met":
                for doc in rule.documentation:
                    if doc not in missing:
                        missing.append(doc)
            if supported is None and rule.allowance is not None:
                a = rule.allowance
                supported = a.text or " ".join(x for x in (f"{a.visits} visits" if a.visits is not None else "", f"over {a.weeks} weeks" if a.weeks else "") if x)
        return " ".join(sentences), citations, missing, supported


class _LazyViews:
    """An item's facts as templates see them (FactView per entity), built once per item and only
    when a rationale is rendered: most of the per-item cost of the aggregate step otherwise."""

    def __init__(self, context: dict, fields: dict):
        self.context, self.fields, self._views = context, fields, {}

    def views(self, names) -> dict:
        """Views of the entities a template names (the others it cannot read)."""
        for entity in names:
            if entity not in self._views and entity in self.fields:
                self._views[entity] = FactView.of(self.context.get(entity), self.fields[entity])
        return {entity: self._views[entity] for entity in names if entity in self._views}


_PARSER = Environment()


def _template_names(text: str) -> frozenset:
    """Top-level names a rationale template reads, found once from its syntax tree."""
    return frozenset(meta.find_undeclared_variables(_PARSER.parse(text)))


def _by_item(log: SessionLog) -> dict[str, list[Fired]]:
    out: dict[str, list[Fired]] = {}
    for f in log.fired:
        if f.spec.kind != "in_force":  # about the session, not an item
            out.setdefault(_item_of(f), []).append(f)
    return out


def _item_of(fired: Fired) -> str | None:
    b = fired.bindings
    for alias in ("item", "governs", "addressed"):
        if alias in b:
            return b[alias].get("id") if alias == "item" else b[alias].get("item_id")
    return None


def _recommendation(decision: str) -> str:
    if decision == "Upheld":
        return ("Criteria not met: refer to a physician reviewer; the likely IMR outcome is that a denial "
                "would be upheld. This pre-screen does not deny or modify the request.")
    if decision == "Overturned":
        return "Criteria met: the request appears medically necessary; the likely IMR outcome is overturned."
    return "No guideline-based pre-screen outcome: refer to a physician reviewer."


def _spoken_list(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
