"""Engine-neutral facts -> the facts durable-rules is given, at assert time.

What only durable-rules needs is added here and nowhere else:
- each item's single-valued facts are folded into one fact `item` with properties named
  `entity.field`: the item's own (`item.service`), its history, diagnosis profile and surgery, and
  the case's request, patient, clinical findings and medication summary. A criterion rule then
  tests one fact, without the joins that were most of a session's matching time (the rule language
  still names `history.visits_total`; durable/compile.py maps it to the property). Ingredients stay
  facts of their own, joined on `item_id`;
- dates become integers YYYYMMDD (its JSON has no dates, and comparisons need numbers);
- value-list indicators (compile.Memberships): `item.in_service_<hash>: true` where the item's
  service is one that a scope lists, since durable-rules has no `in` and its `$or` corrupted
  memory here.
Each ruleset is then given only the properties its rules read (durable/session.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.facts.build import CaseFacts
from engine.facts.schema import SCHEMA

CASE_FOLD = ("request", "patient", "clinical", "meds")
ITEM_FOLD = ("item", "history", "dx", "surgery")
FOLD_ENTITIES = frozenset(CASE_FOLD + ITEM_FOLD)
"""The entities folded into the item fact: at most one fact each per item."""


def prop(entity: str, field: str) -> str:
    """The folded item fact's property for `entity.field`."""
    return f"{entity}.{field}"


def date_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


@dataclass(slots=True)
class EncodedItem:
    item_id: str
    topic: str
    entities: dict
    """The item's single-valued facts by entity (the case's included), dates as numbers and value-list
    indicators set: what the folded item fact of any ruleset is projected from (`fold`)."""
    ingredients: list

    def fold(self, reads: tuple) -> dict:
        """The folded item fact with the properties `reads` names ((property, entity, field))."""
        entities = self.entities
        out = {"t": "item", "item_id": self.item_id}
        for name, entity, field in reads:
            fact = entities.get(entity)
            if fact is not None and field in fact:
                out[name] = fact[field]
        return out


def fold_reads(reads) -> tuple:
    """A ruleset's folded-item properties as (property, entity, field), for EncodedItem.fold."""
    return tuple((name, *name.split(".", 1)) for name in reads if "." in name)


_DATES = {entity: tuple(name for name, f in fields.items() if f.type == "date") for entity, fields in SCHEMA.items()}
"""The date fields of each entity (the schema's), the only values that need converting."""


def _plain(fact: dict) -> dict:
    """The fact with its dates as numbers (a copy only when it has one)."""
    dates = [name for name in _DATES.get(fact["t"], ()) if name in fact]
    if not dates:
        return fact
    out = dict(fact)
    for name in dates:
        out[name] = date_number(out[name])
    return out


def encode(facts: CaseFacts, memberships: dict) -> list[EncodedItem]:
    """The case's items as durable-rules is given them, in request order."""
    shared = {fact["t"]: _plain(fact) for fact in facts.case_facts}
    indicators = [(entity, field, values, name) for (entity, field, values), name in memberships.items()]
    out = []
    for item_id, topic, item_facts in facts.items:
        entities = dict(shared)
        ingredients = []
        for fact in item_facts:
            if fact["t"] == "ingredient":
                ingredients.append(_plain(fact))
            else:
                entities[fact["t"]] = _plain(fact)
        copied: set = set()
        for entity, field, values, name in indicators:
            if entity == "ingredient":
                for n, fact in enumerate(ingredients):
                    if fact.get(field) in values:
                        ingredients[n] = fact = dict(fact, **{name: True})
                continue
            fact = entities.get(entity)
            if fact is not None and fact.get(field) in values:
                if entity not in copied:  # never on the engine-neutral fact (the letter and explain read it)
                    entities[entity] = fact = dict(fact)
                    copied.add(entity)
                fact[name] = True
        out.append(EncodedItem(item_id, topic, entities, ingredients))
    return out
