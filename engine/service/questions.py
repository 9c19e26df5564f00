"""The reviewer's questions: one for each undocumented fact that an item's governing rules read.

Generated, not written: the governing tier's rule outcomes name the facts they found not
documented (`RuleOutcome.not_documented`, e.g. `history.visits_total`); the case paths that feed
those facts are found by documenting each path the case leaves "not documented" with a probe
value and seeing which of the item's facts change (fact building only; nothing is decided here).
The question's words are the fact's label from the fact schema (engine.facts.schema), its kind
(yes / no, a number, a closed list, a date) the case model's type for that path. An answer is put
into the case at its path and the real engine decides again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.facts.schema import MULTI_ENTITIES, label
from engine.model.case import NOT_DOCUMENTED, Case
from engine.tools.counterfactual import Change, _apply, _undocumented

MAX_ANSWERS = 200
"""Answers one form may carry (a case has far fewer undocumented paths that any rule reads)."""


@dataclass
class Question:
    path: str
    """Where the answer goes in the case: `clinical_findings.acute_flare_up`, `treatment_history.0.visits_completed`."""
    label: str
    kind: str
    """bool | number | choice | date"""
    choices: tuple[str, ...] = ()
    integer: bool = True
    rules: list[str] = field(default_factory=list)
    """The governing rules that read the fact."""
    answer: str = ""
    """The reviewer's answer as the form holds it ('' for not documented)."""


def path_text(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def parse_path(text: str) -> tuple | None:
    """`treatment_history.0.visits_completed` -> ('treatment_history', 0, 'visits_completed'); None when malformed."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 4 or any(not p or len(p) > 64 for p in parts):
        return None
    return tuple(int(p) if p.isdigit() else p for p in parts)


def _kind(kinds: set) -> tuple[str, tuple, bool] | None:
    """The question's kind from the case model's types for a path (None: nothing a form can ask)."""
    literals = tuple(sorted(str(k[1]) for k in kinds if isinstance(k, tuple)))
    if bool in kinds:
        return "bool", (), True
    if literals:
        return "choice", literals, True
    if int in kinds or float in kinds:
        return "number", (), float not in kinds
    if dt.date in kinds:
        return "date", (), True
    return None


def _probe(kind: str, choices: tuple, day: dt.date):
    return {"bool": True, "number": 1, "date": day - dt.timedelta(days=7)}.get(kind, choices[0] if choices else None)


def _item_facts(facts, item_id: str) -> dict[str, object]:
    """`entity.field` -> value of the item's single facts and the case's facts."""
    out = {f"{f['t']}.{k}": v for f in facts.case_facts for k, v in f.items() if k not in ("t", "id")}
    for iid, _topic, item_facts in facts.items:
        if iid == item_id:
            out.update({f"{f['t']}.{k}": v for f in item_facts if f["t"] not in MULTI_ENTITIES for k, v in f.items() if k not in ("t", "id", "item_id")})
    return out


def _diff(before: dict, after: dict) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k, NOT_DOCUMENTED) != after.get(k, NOT_DOCUMENTED)}


def questions(engine, case: Case, determination, answers: dict[str, str] | None = None) -> dict[str, list[Question]]:
    """item id -> its questions: each case path left not documented that feeds a fact the item's
    governing rules found not documented (in the order the rules name them)."""
    answers = answers or {}
    wanted: dict[str, dict[str, list[str]]] = {}
    for item in determination.items:
        refs: dict[str, list[str]] = {}
        for o in item.rules:
            if o.rank == item.governing_rank:
                for ref in o.not_documented:
                    rules = refs.setdefault(ref, [])
                    if o.rule not in rules:
                        rules.append(o.rule)
        wanted[item.item_id] = refs
    out: dict[str, list[Question]] = {i.item_id: [] for i in determination.items}
    if not any(wanted.values()):
        return out
    data = case.model_dump(mode="python", by_alias=True, exclude={"expected", "source"})
    base = engine.facts(case)
    before = {i: _item_facts(base, i) for i in wanted}
    index = {item.id: n for n, item in enumerate(case.requested_items)}
    for path, kinds in _undocumented(case):
        kind = _kind(kinds)
        if kind is None:
            continue
        items = [i for i in wanted if wanted[i] and (path[0] != "requested_items" or path[1] == index[i])]
        if not items:
            continue
        try:
            modified = Case.model_validate(_apply(data, [Change(path, _probe(kind[0], kind[1], case.request_date))]))
        except Exception:  # a probe the model refuses (a date before another): no question from it
            continue
        after = engine.facts(modified)
        for item_id in items:
            changed = _diff(before[item_id], _item_facts(after, item_id))
            read = [ref for ref in wanted[item_id] if ref in changed]
            if read:
                entity, name = read[0].split(".", 1)
                text = path_text(path)
                out[item_id].append(Question(text, label(entity, name, engine.base.vocabulary), kind[0], kind[1], kind[2],
                                             [r for ref in read for r in wanted[item_id][ref]], answers.get(text, "")))
    return out
