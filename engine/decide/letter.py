"""All letter prose: the reasons, the rationale (the rules' templates rendered over the item's
facts), the citations, the recommendation, and the letter-shaped text of a Determination.

An undocumented fact is named by its label (facts/schema.py), never by its internal path; JSON
output keeps the paths (`rules[].not_documented`).
"""

from __future__ import annotations

import json
import textwrap

from jinja2 import Environment, meta

from engine.checks.rulebase import RuleBase
from engine.decide.aggregate import NO_OUTCOME, ItemOutcome
from engine.facts.build import CaseFacts
from engine.facts.schema import label
from engine.language.templates import FactView, render
from engine.model.case import Case
from engine.model.determination import Citation, Determination, ItemDetermination
from engine.words import spoken_list

REASONS = {
    "not_met": "a criterion of the governing guideline is not met",
    "not_documented": "the record does not document what the governing guideline requires",
    "met": "the governing guideline's criteria are met",
    "no_finding": "the governing guideline addresses the item but no encoded criterion reached a conclusion",
    "no_edition": "no encoded guideline edition is in force on the request date",
    "not_addressed": "no encoded guideline addresses this item",
}


def recommendation(decision: str) -> str:
    if decision == "Upheld":
        return ("Criteria not met: refer to a physician reviewer; the likely IMR outcome is that a denial "
                "would be upheld. This pre-screen does not deny or modify the request.")
    if decision == "Overturned":
        return "Criteria met: the request appears medically necessary; the likely IMR outcome is overturned."
    return "No guideline-based pre-screen outcome: refer to a physician reviewer."


class Letter:
    """Writes each item's determination from its outcome; built once per rule base."""

    def __init__(self, base: RuleBase):
        self.base = base
        self.packs = {p.pack: p for p in base.packs}
        self._names = {(r.rule.id, status): _template_names(text) for r in base.rules
                       for status in ("met", "not_met", "not_documented") if (text := getattr(r.rule.rationale, status, None))}

    def determination(self, case: Case, facts: CaseFacts, outcomes: list[ItemOutcome]) -> Determination:
        profile = self.base.profiles.get(case.jurisdiction)
        case_facts = {f["t"]: f for f in facts.case_facts}
        items = []
        for item_model, (item_id, _topic, item_facts), outcome in zip(case.requested_items, facts.items, outcomes):
            context = {**case_facts, **{f["t"]: f for f in item_facts if f["t"] != "ingredient"}}
            items.append(self.item(item_model, outcome, _LazyViews(context, self.base.fields), profile))
        return Determination(
            case_id=case.case_id, jurisdiction=case.jurisdiction, profile=profile.name if profile else None,
            request_date=case.request_date.isoformat(), rules_digest=self.base.digest, items=items,
        )

    def item(self, item_model, outcome: ItemOutcome, context: "_LazyViews", profile) -> ItemDetermination:
        rank = outcome.rank
        rationale, citations, missing, supported = self._explain(outcome, context, profile)
        if outcome.reason in NO_OUTCOME:
            rationale = f"{REASONS[outcome.reason].capitalize()}; the pre-screen gives no guideline-based outcome for {item_model.description}."
        governed_by = None
        if outcome.governing_packs:
            label_ = profile.tiers[rank - 1].label if profile else ""
            text = "; ".join(f"{self.packs[p].guideline} {self.packs[p].document} ({self.packs[p].edition})" for p in outcome.governing_packs)
            governed_by = text if text.startswith(label_) else f"{label_}: {text}"  # not "MTUS: MTUS ..."
        return ItemDetermination(
            item_id=outcome.item_id, item=item_model.description, decision=outcome.decision, reason=REASONS[outcome.reason],
            reason_code=outcome.reason, governed_by=governed_by, governing_rank=rank, citations=citations, rationale=rationale,
            missing_documentation=missing, supported=supported, recommendation=recommendation(outcome.decision), rules=outcome.outcomes,
        )

    def _explain(self, outcome: ItemOutcome, context: "_LazyViews", profile):
        sentences, citations, missing, supported = [], [], [], None
        rank = outcome.rank
        for shown in outcome.shown:
            parsed = self.base.rule(shown.rule)
            rule, pack = parsed.rule, parsed.pack
            subjects = [s.replace("_", " ") for s in shown.subjects]
            view = context.views(self._names.get((shown.rule, shown.status), ()))
            view.update(rule={"id": rule.id, "title": rule.title, "section": rule.section, "pages": rule.pages},
                        allowance=(rule.allowance.model_dump() if rule.allowance else {}),
                        subject=spoken_list(subjects), subjects=subjects)
            text = render(parsed.templates[shown.status], view)
            if shown.status == "not_documented" and shown.undocumented:
                labels = list(dict.fromkeys(label(*path.split(".", 1), self.base.vocabulary) for path in shown.undocumented))
                text += f" (Not documented: {spoken_list(labels)}.)"
            sentences.append(text)
            citation = Citation(basis=profile.tiers[rank - 1].label if profile and rank else pack.guideline,
                                guideline=pack.guideline, document=pack.document, edition=pack.edition,
                                section=rule.section, pages=rule.pages)
            if citation not in citations:
                citations.append(citation)
            if shown.status != "met":
                for doc in rule.documentation:
                    if doc not in missing:
                        missing.append(doc)
            if supported is None and rule.allowance is not None:
                a = rule.allowance
                supported = a.text or " ".join(x for x in (f"{a.visits} visits" if a.visits is not None else "", f"over {a.weeks} weeks" if a.weeks else "") if x)
        return " ".join(sentences), citations, missing, supported


class _LazyViews:
    """An item's facts as templates see them (FactView per entity), built once per item and only
    when a rationale is rendered: most of the per-item cost of the letter otherwise."""

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


# ---------------------------------------------------------------- the letter as text or JSON

WIDTH = 96


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _basis(item: ItemDetermination) -> str:
    if not item.citations:
        return item.reason.capitalize() + "."
    return "Decision based on " + "; ".join(c.text() for c in item.citations) + "."


def render_text(d: Determination, show_rules: bool = True) -> str:
    out = [
        "IMR PRE-SCREEN: LIKELY DECISIONS AND RATIONALES",
        "",
        f"Case {d.case_id} | jurisdiction {d.jurisdiction}" + (f" ({d.profile})" if d.profile else "") + f" | request date {d.request_date}",
        _wrap(d.disclaimer),
    ]
    for item in d.items:
        out += ["", _wrap(f"{item.item}: {item.decision}"), ""]
        out.append(_wrap("Guideline basis: " + _basis(item)))
        out += ["", _wrap("Decision rationale: " + item.rationale)]
        if item.supported:
            out += ["", f"Guideline supports: {item.supported} (IMR decides the item whole)."]
        if item.missing_documentation:
            out += ["", "Documentation that would change this outcome:"]
            out += [textwrap.fill(doc, WIDTH, initial_indent="  - ", subsequent_indent="    ") for doc in item.missing_documentation]
        out += ["", _wrap("Recommendation: " + item.recommendation)]
        if show_rules and item.governing_rank is not None:
            grouped: dict[tuple, list[str]] = {}
            for r in item.rules:
                if r.rank == item.governing_rank:
                    grouped.setdefault((r.rule, r.status), []).extend([r.subject] if r.subject else [])
            fired = ", ".join(f"{rule}{'[' + ', '.join(subjects) + ']' if subjects else ''}={status}" for (rule, status), subjects in grouped.items())
            out += [_wrap(f"Rules ({item.governed_by}): {fired}")]
    out.append("")
    return "\n".join(out)


def render_json(d: Determination) -> str:
    return json.dumps(d.model_dump(mode="json"), indent=2, sort_keys=False)
