"""All letter prose: the reasons, the rationale (the rules' templates rendered over the item's
facts), the citations, the recommendation, and the letter-shaped text of a Determination.

An undocumented fact is named by its label (facts/schema.py), never by its internal path; JSON
output keeps the paths (`rules[].not_documented`).
"""

from __future__ import annotations

import json
import re
import textwrap


from engine.checks.rulebase import RuleBase
from engine.decide.aggregate import NO_OUTCOME, ItemOutcome
from engine.facts.build import CaseFacts
from engine.facts.schema import label
from engine.language.templates import FactView, names_read, render
from engine.model.case import Case
from engine.model.determination import Citation, Determination, ItemDetermination, Report, Review
from engine.model.rules import carried_over_on
from engine.words import counted, plural, spoken_list, whole

REASONS = {
    "not_met": "a criterion of the governing guideline is not met",
    "not_documented": "the record does not document what the governing guideline requires",
    "met": "the governing guideline's criteria are met",
    "no_finding": "the governing guideline addresses the item but no encoded criterion reached a conclusion",
    "no_edition": "the request date is outside every guideline edition of the jurisdiction's history",
    "edition_not_encoded": "the guideline edition in force on the request date is not encoded for this topic",
    "topic_not_encoded": "no guideline pack of the jurisdiction encodes this topic",
    "not_addressed": "no encoded guideline addresses this item",
}


NOT_COUNTED = {
    ("exclusion", "not_documented"): "not documented; does not count against the request (an exclusion: only a documented finding counts against)",
    ("supporting", "not_documented"): "not documented; does not count against the request (a supporting criterion counts only for it)",
    ("supporting", "not_met"): "not met; does not count against the request (a supporting criterion counts only for it)",
}
"""What the letter says of an outcome the rule's `silence:` keeps from counting (aggregate.neutral)."""


LICENSED = " (licensed content: its criteria are not shipped with the engine; a licensee adds them as a layered rules folder)"


def reason_sentence(reason: str, profile, day) -> str:
    """The reason of a non-decision as a sentence, naming the edition of the jurisdiction's history
    in force on the request date where one is (from the profile: prose, not a decision)."""
    text = REASONS[reason]
    if profile is None or reason not in NO_OUTCOME:  # a decision's reason names no edition
        return text
    if reason != "no_edition" and (editions := profile.editions_on(day)):
        notes = {"yes": "", "partly": ", encoded in part", "no": ", not encoded here"}
        text += f" (in force on {day.isoformat()}: {'; '.join(e.name + notes[e.encoded] + LICENSED * e.licensed for e in editions)})"
    elif reason == "no_edition" and profile.history:
        first = min(e.effective.from_ for e in profile.history)
        text += f" (the {profile.jurisdiction} history encoded here starts {first.isoformat()})"
    return text


NO_PROFILE_DISCLAIMER = (
    "Pre-screen only, not a determination of medical necessity: no jurisdiction profile is loaded for "
    "this case, so the letter names no review process and no likely outcome."
)
"""For a case whose jurisdiction has no profile in the rules folder: it cites no jurisdiction's law."""

NO_PROFILE_RECOMMENDATION = "Refer to a reviewer qualified in the jurisdiction; no likely review outcome is given."


def recommendation(reason: str, profile) -> str:
    """The item's recommendation line, by the reason of its decision, in the words of the case's
    jurisdiction (its profile's `recommendation`): an Upheld item whose criteria are not unmet but
    undocumented does not say "Criteria not met"."""
    if profile is None:
        return NO_PROFILE_RECOMMENDATION
    wording = profile.recommendation
    if reason in NO_OUTCOME:
        return wording.no_outcome
    return getattr(wording, reason)  # not_met, not_documented, met


class Letter:
    """Writes each item's determination from its outcome; built once per rule base."""

    def __init__(self, base: RuleBase, rationale: bool = True):
        self.base = base
        self.rationale = rationale
        """False: no rationale text is rendered (the templates are most of the letter's cost); the
        decisions, reasons, citations, documentation lists and recommendation stay (`imr batch
        --no-rationale`)."""
        self.packs = {p.pack: p for p in base.packs}

    def determination(self, case: Case, facts: CaseFacts, outcomes: list[ItemOutcome]) -> Determination:
        profile = self.base.profiles.get(case.jurisdiction)
        case_facts = {f["t"]: f for f in facts.case_facts}
        items = []
        for item_model, (item_id, _topic, item_facts), outcome in zip(case.requested_items, facts.items, outcomes):
            context = {**case_facts, **{f["t"]: f for f in item_facts if f["t"] != "ingredient"}}
            items.append(self.item(item_model, outcome, _LazyViews(context, self.base.fields), profile, case.request_date))
        return Determination(
            case_id=case.case_id, jurisdiction=case.jurisdiction, profile=profile.name if profile else None,
            request_date=case.request_date.isoformat(), rules_digest=self.base.digest,
            disclaimer=profile.disclaimer if profile else NO_PROFILE_DISCLAIMER,
            review=Review(**profile.review.model_dump()) if profile else None, items=items,
        )

    def item(self, item_model, outcome: ItemOutcome, context: "_LazyViews", profile, day=None) -> ItemDetermination:
        rank = outcome.rank
        rationale, citations, missing, supported = self._explain(outcome, context, profile, day)
        reason = reason_sentence(outcome.reason, profile, day) if day is not None else REASONS[outcome.reason]
        if outcome.reason in NO_OUTCOME:
            rationale = f"{reason[0].upper()}{reason[1:]}; the pre-screen gives no guideline-based outcome for {item_model.description}."
        governed_by = None
        if outcome.governing_packs:
            label_ = profile.tiers[rank - 1].label if profile else ""
            text = "; ".join(f"{self.packs[p].guideline} {self.packs[p].document} ({self.packs[p].edition})" for p in outcome.governing_packs)
            governed_by = text if text.startswith(label_) else f"{label_}: {text}"  # not "MTUS: MTUS ..."
        return ItemDetermination(
            item_id=outcome.item_id, item=item_model.description, decision=outcome.decision, reason=reason,
            reason_code=outcome.reason, governed_by=governed_by, governing_rank=rank, citations=citations, rationale=rationale,
            missing_documentation=missing, supported=supported, recommendation=recommendation(outcome.reason, profile), rules=outcome.outcomes,
            prospective_review=self._report(outcome, "prospective_review", context, profile, day),
        )

    def _report(self, outcome: ItemOutcome, kind: str, context: "_LazyViews", profile, day=None) -> Report | None:
        """A report pack's answer (prospective review) with the rationale of the rules behind it."""
        found = (outcome.reports or {}).get(kind)
        if found is None:
            return None
        status, shown = found
        sentences, citations, missing, _ = self._rendered(shown, context, profile, None, day)
        return Report(status=status, needed={"needed": True, "not_needed": False}.get(status), reason=" ".join(sentences),
                      rules=[s.rule for s in shown], citations=citations, missing_documentation=missing)

    def _basis(self, pack, rank, profile) -> str:
        """How a citation names its basis: the governing tier's label; a statute's own (its binding's)."""
        if pack.role == "guideline":
            return profile.tiers[rank - 1].label if profile and rank else pack.guideline
        if profile:
            for b in profile.binding:
                if b.guideline == pack.guideline and (b.documents is None or pack.document in b.documents):
                    return b.label
        return pack.guideline

    def _explain(self, outcome: ItemOutcome, context: "_LazyViews", profile, day=None):
        sentences, citations, missing, supported = self._rendered(outcome.shown, context, profile, outcome.rank, day)
        for shown in (outcome.neutral or ()) if self.rationale else ():  # rationale text, left out with it
            rule = self.base.rule(shown.rule).rule
            subjects = spoken_list([s.replace("_", " ") for s in shown.subjects])
            sentences.append(f"{rule.title}{' (' + subjects + ')' if subjects else ''}: {NOT_COUNTED[rule.silence, shown.status]}.")
        return " ".join(sentences), citations, missing, supported

    def _rendered(self, shown_list, context: "_LazyViews", profile, rank, day=None):
        """Rationale sentences, citations, documentation and what is supported, of the shown outcomes."""
        sentences, citations, missing, supported = [], [], [], None
        for shown in shown_list:
            parsed = self.base.rule(shown.rule)
            rule, pack = parsed.rule, parsed.pack
            subjects = [s.replace("_", " ") for s in shown.subjects]
            if self.rationale:
                view = context.views(names_read(getattr(rule.rationale, shown.status, None) or ""))
                view.update(rule={"id": rule.id, "title": rule.title, "section": rule.section, "pages": rule.pages},
                            allowance=(rule.allowance.model_dump() if rule.allowance else {}),
                            subject=spoken_list(subjects), subjects=subjects)
                text = counted(render(parsed.templates[shown.status], view))
                if shown.status == "not_documented" and shown.undocumented:
                    labels = list(dict.fromkeys(label(*path.split(".", 1), self.base.vocabulary) for path in shown.undocumented))
                    text += f" (Not documented: {spoken_list(labels)}.)"
                sentences.append(text)
            carried = "; ".join(c.text for c in carried_over_on(pack, rule, day)) if day is not None else ""
            citation = Citation(basis=self._basis(pack, rank, profile),
                                guideline=pack.guideline, document=pack.document, edition=pack.edition,
                                section=rule.section, pages=rule.pages, carried_over=carried or None)
            if citation not in citations:
                citations.append(citation)
            if shown.status != "met":
                for doc in rule.documentation:
                    if doc not in missing:
                        missing.append(doc)
            if supported is None and rule.allowance is not None:
                a = rule.allowance
                supported = a.text or " ".join(x for x in (plural(a.visits, "visit") if a.visits is not None else "",
                                                           f"over {plural(a.weeks, 'week')}" if a.weeks else "") if x)
        return sentences, citations, missing, supported


class _LazyViews:
    """An item's facts as templates see them (FactView per entity), built once per item and only
    when a rationale is rendered: most of the per-item cost of the letter otherwise."""

    def __init__(self, context: dict, fields: dict):
        self.context, self.fields, self._views = context, fields, {}

    def views(self, names) -> dict:
        """Views of the entities a template names (the others it cannot read)."""
        for entity in names:
            if entity not in self._views and entity in self.fields:
                view = FactView.of(self.context.get(entity), self.fields[entity])
                for name, value in view.items():
                    if isinstance(value, float):  # a whole number reads "6 weeks", not "6.0 weeks"
                        view[name] = whole(value)
                self._views[entity] = view
        return {entity: self._views[entity] for entity in names if entity in self._views}


# ---------------------------------------------------------------- the letter as text or JSON

WIDTH = 96


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _basis(item: ItemDetermination) -> str:
    """One "Decision based on" sentence per guideline document, its title cited once, then its
    sections: numbered criteria of one section as one ("criteria for use (1), (2), (5)"), the pages
    of one section together."""
    if not item.citations:
        return item.reason[:1].upper() + item.reason[1:] + "."
    documents: dict[tuple, list[Citation]] = {}
    for c in item.citations:
        documents.setdefault((c.basis, c.guideline, c.document, c.edition), []).append(c)
    sentences = []
    for (basis, guideline, document, edition), citations in documents.items():
        prefix = "" if basis.startswith(guideline) else f"{basis}: "
        notes = "".join(f"; {n}" for n in dict.fromkeys(c.carried_over for c in citations if c.carried_over))
        sentences.append(f"Decision based on {prefix}{guideline} {document} ({edition}), {'; '.join(_sections(citations))}{notes}.")
    return " ".join(sentences)


_NUMBERED = re.compile(r"^(?P<stem>.*?\S) (?P<marks>(?:\(\d+\)|\d+)(?:, (?:\(\d+\)|\d+))*)$")
"""A section that ends in criterion numbers: "criteria for use (5), (6)", "criteria 3"."""


def _sections(citations: list[Citation]) -> list[str]:
    """The sections of one document with their pages, in order of first citation."""
    pages: dict[str, list[str]] = {}
    for c in citations:
        pages.setdefault(c.section, [])
        if c.pages != "n/a" and c.pages not in pages[c.section]:
            pages[c.section].append(c.pages)
    merged: dict[tuple, list[str]] = {}  # (stem, pages) -> criterion numbers; a plain section is its own stem
    for section, ps in pages.items():
        found = _NUMBERED.match(section)
        key = (found.group("stem"), _pages(ps)) if found else (section, _pages(ps))
        marks = merged.setdefault(key, [])
        if found:
            marks.extend(m for m in found.group("marks").split(", ") if m not in marks)
    return [f"{stem}{' ' + ', '.join(marks) if marks else ''}{page_text}" for (stem, page_text), marks in merged.items()]


def _pages(pages: list[str]) -> str:
    """", pages 30-33, 49" from "30-32, 49", "31-32" and "32-33" (overlapping ranges joined); "" for none."""
    if not pages:
        return ""
    spans = []
    for part in ", ".join(pages).split(","):
        low, _, high = part.strip().partition("-")
        spans.append((int(low), int(high or low)))
    joined: list[list[int]] = []
    for low, high in sorted(set(spans)):
        if joined and low <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], high)
        else:
            joined.append([low, high])
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in joined)
    return f", {'page' if len(joined) == 1 and joined[0][0] == joined[0][1] else 'pages'} {text}"


def render_text(d: Determination, show_rules: bool = True) -> str:
    out = [
        f"{d.review.abbreviation + ' ' if d.review else ''}PRE-SCREEN: LIKELY DECISIONS AND RATIONALES",
        "",
        f"Case {d.case_id} | jurisdiction {d.jurisdiction}" + (f" ({d.profile})" if d.profile else "") + f" | request date {d.request_date}",
        _wrap(d.disclaimer),
    ]
    for item in d.items:
        out += ["", _wrap(f"{item.item}: {item.decision}"), ""]
        out.append(_wrap("Guideline basis: " + _basis(item)))
        out += ["", _wrap("Decision rationale: " + item.rationale)]
        if item.supported:
            note = f" ({d.review.supported_note})" if d.review and d.review.supported_note else ""
            out += ["", f"Guideline supports: {item.supported}{note}."]
        if item.missing_documentation:
            out += ["", "Documentation that would change this outcome:"]
            out += [textwrap.fill(doc, WIDTH, initial_indent="  - ", subsequent_indent="    ") for doc in item.missing_documentation]
        if item.prospective_review is not None:
            out += ["", _wrap(_review_line(item.prospective_review))]
        out += ["", _wrap("Recommendation: " + item.recommendation)]
        if show_rules and item.governing_rank is not None:
            grouped: dict[tuple, list[str]] = {}
            for r in item.rules:
                if r.rank == item.governing_rank:
                    grouped.setdefault((r.rule, r.status), []).extend([r.subject] if r.subject else [])
            counted = {(r.rule, r.status) for r in item.rules if r.deciding or r.status != "not_documented"}
            fired = ", ".join(f"{rule}{'[' + ', '.join(subjects) + ']' if subjects else ''}={status}{'' if (rule, status) in counted else ' (not counted)'}"
                              for (rule, status), subjects in grouped.items())
            out += [_wrap(f"Rules ({item.governed_by}): {fired}")]
    out.append("")
    return "\n".join(out)


REVIEW_ANSWERS = {
    "needed": "needed before the drug is dispensed",
    "not_needed": "not needed: the drug may be dispensed without it",
    "not_documented": "cannot be told from the record",
}
"""The letter's words for a prospective-review answer (JSON keeps the status)."""


def _review_line(report: Report) -> str:
    """The letter's prospective-review line: the answer, why, and the sections cited."""
    cited = "; ".join(dict.fromkeys(c.section for c in report.citations))
    return (f"Prospective review (MTUS Drug Formulary): {REVIEW_ANSWERS[report.status]}."
            + (f" {report.reason}" if report.reason else "") + (f" ({cited}.)" if cited else ""))


def render_json(d: Determination) -> str:
    return json.dumps(d.model_dump(mode="json"), indent=2, sort_keys=False)
