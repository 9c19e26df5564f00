"""Render step: a Determination as text laid out like an IMR letter's decisions section, or JSON."""

from __future__ import annotations

import json
import textwrap

from engine.model.determination import Determination, ItemDetermination

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
