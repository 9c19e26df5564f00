"""Request codes read as vocabulary keys: a therapy or procedure item's CPT or HCPCS `code` as its
`service`, an ingredient's RxNorm `rxnorm` as its `drug` (vocabulary/crosswalks.yaml).

An item may give the code alone, the key alone, or both when the code may stand for that key; a
code the crosswalks do not know, one not valid on the request date, or one that stands for other
keys than the item names is an error (E011) at its line: the engine never guesses a service.
"""

from __future__ import annotations

from engine.model.case import Case, MedicationItem
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.vocabulary import Vocabulary

Problem = tuple[tuple, str, str]


def _service(item, i: int, case: Case, vocab: Vocabulary, problems: list[Problem]):
    where = ("requested_items", i, "code")
    entry = vocab.crosswalks.procedure_codes.get(item.code)
    if entry is None:
        problems.append((where, "E011", f"CPT/HCPCS code {item.code} is not in vocabulary/crosswalks.yaml: give the item's `service:` key"))
        return item
    day = case.request_date
    if (entry.from_ and day < entry.from_) or (entry.until and day >= entry.until):
        span = f"valid {'from ' + str(entry.from_) if entry.from_ else ''}{' ' if entry.from_ and entry.until else ''}{'until ' + str(entry.until) if entry.until else ''}".strip()
        problems.append((where, "E011", f"CPT/HCPCS code {item.code} is not valid on {day} ({span}): give the code of that date, or the `service:` key"))
        return item
    if item.service is not None and item.service not in entry.services:
        problems.append((where, "E011", f"code {item.code} stands for {', '.join(entry.services)}, not the item's service '{item.service}': "
                                        "one of them is wrong"))
        return item
    service = item.service or entry.services[0]
    known = vocab.services.services.get(service)
    if known is not None and known.type != item.type:
        problems.append((where, "E011", f"code {item.code} is a {known.type} ({service}), but the item is a {item.type}"))
        return item
    return item if item.service == service else item.model_copy(update={"service": service})


def _ingredients(item: MedicationItem, i: int, vocab: Vocabulary, problems: list[Problem]):
    out, changed = [], False
    for j, ing in enumerate(item.ingredients):
        if ing.rxnorm is None:
            out.append(ing)
            continue
        entry = vocab.crosswalks.rxnorm_ingredients.get(ing.rxnorm)
        where = ("requested_items", i, "ingredients", j, "rxnorm")
        if entry is None:
            problems.append((where, "E011", f"RxNorm ingredient {ing.rxnorm} is not in vocabulary/crosswalks.yaml: give the ingredient's `drug:` key"))
        elif ing.drug is not None and ing.drug != entry.drug:
            problems.append((where, "E011", f"RxNorm {ing.rxnorm} is {entry.drug}, not the ingredient's drug '{ing.drug}': one of them is wrong"))
        elif ing.drug is None:
            ing, changed = ing.model_copy(update={"drug": entry.drug}), True
        out.append(ing)
    return item.model_copy(update={"ingredients": out}) if changed else item


def resolve_items(case: Case, vocab: Vocabulary) -> tuple[Case, list[Problem]]:
    """The case with every code read as its key, and the problems (path in the case, code, message)."""
    problems: list[Problem] = []
    items, changed = [], False
    for i, item in enumerate(case.requested_items):
        new = item
        if isinstance(item, MedicationItem):
            new = _ingredients(item, i, vocab, problems)
        elif item.code is not None:
            new = _service(item, i, case, vocab, problems)
        changed |= new is not item
        items.append(new)
    return (case.model_copy(update={"requested_items": items}) if changed else case), problems


def resolved(case: Case, vocab: Vocabulary) -> Case:
    """The case with its codes read as keys, or InputError (for a case no check has positioned)."""
    case, problems = resolve_items(case, vocab)
    if problems:
        raise InputError([Diagnostic(case.case_id, 1, 1, code, message) for _, code, message in problems])
    return case
