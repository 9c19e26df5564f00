"""The fact schema: every field a rule condition or template may read, with its type and label.

Derived, not written twice: the fields a case states directly (clinical findings, the injured
worker, a requested item's own fields) come from the case model (engine/model/case.py), with the
label taken from the field's title or docstring; the fields computed from the case (total visits,
weeks since surgery, morphine equivalents, diagnosis groups) are declared once in DERIVED below,
beside their meaning. So a new clinical finding is one model edit: it reaches the condition
language, the type checker, the letter's wording and explain without touching fact building.

Entities: one fact each for the request, the patient, the clinical findings, the medication
summary; per requested item, the item, its history, its diagnosis profile, its surgery, and one
fact per ingredient and per finding.
"""

from __future__ import annotations

import datetime as dt
import typing
from dataclasses import dataclass

from engine.model.case import ClinicalFindings, InjuredWorker, MedicationItem, ProcedureItem, TherapyItem
from engine.model.enums import FORMS, ITEM_TYPES, NOT_DOCUMENTED, PM_GROUPS, REGIONS, STATUSES, choices
from engine.model.vocabulary import Vocabulary

CASE_ENTITIES = ("request", "patient", "clinical", "meds")
ITEM_ENTITIES = ("item", "history", "dx", "surgery", "ingredient", "finding")
ENTITY_ORDER = ("request", "item", "patient", "clinical", "meds", "history", "dx", "surgery", "ingredient", "finding")
MULTI_ENTITIES = ("ingredient", "finding")
"""Entities with several facts per item (the others have at most one)."""


@dataclass(frozen=True)
class FactField:
    type: str  # bool | number | text | date
    label: str
    """How the letter names the fact when the record does not document it."""
    always: bool = False
    """Always set by fact building (never "not documented"): a test of it cannot be unknown."""
    values: tuple = ()
    """The known values of a text field (empty: any text)."""


# ------------------------------------------------------------------ fields taken from the case model

ITEM_MODELS = (TherapyItem, MedicationItem, ProcedureItem)
NOT_FACTS = {"description", "visits", "ingredients", "code"}
"""Item fields that are not facts: the text, and what facts carry in derived form (a CPT or HCPCS `code` is read as its service)."""
NOT_FACTS_OF = {MedicationItem: {"quantity"}}
"""A medication's quantity is free text ("300 g"); a procedure's is a count."""


def _type_of(annotation) -> str | None:
    """The fact type of a model field's annotation, or None for non-scalar fields."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_of(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        values = [v for v in typing.get_args(annotation) if v != NOT_DOCUMENTED]
        if not values:
            return None
        return "bool" if all(isinstance(v, bool) for v in values) else "text"
    if origin is typing.Union or str(origin) == "types.UnionType":
        kinds = {k for arg in typing.get_args(annotation) if arg is not type(None) and (k := _type_of(arg)) is not None}
        return kinds.pop() if len(kinds) == 1 else None
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is str:
        return "text"
    if annotation is dt.date:
        return "date"
    return None


def _label(name: str, info) -> str:
    if info.title:
        return info.title
    return name.replace("_", " ")


def _model_fields(model, skip=frozenset(), always=frozenset()) -> dict[str, FactField]:
    out = {}
    for name, info in model.model_fields.items():
        kind = _type_of(info.annotation)
        if kind is None or name in skip:
            continue
        values = choices(info.annotation) if kind == "text" else ()
        out[name] = FactField(kind, _label(name, info), name in always, tuple(v for v in values if isinstance(v, str)))
    return out


def item_fields() -> dict[str, FactField]:
    """The requested item's own fields, from the three item models (one type per name)."""
    out: dict[str, FactField] = {}
    for model in ITEM_MODELS:
        for name, f in _model_fields(model, NOT_FACTS | NOT_FACTS_OF.get(model, set()), {"id", "type", "service", "region"}).items():
            if name in out and out[name].type != f.type:
                raise TypeError(f"item field '{name}' has two fact types ({out[name].type}, {f.type}): rename one")
            if name in out:
                f = FactField(f.type, f.label, f.always and out[name].always, tuple(sorted(set(out[name].values) | set(f.values))))
            out[name] = f
    return out


# ------------------------------------------------------------------ fields computed from the case

def _f(kind: str, label: str, always: bool = False, values: tuple = ()) -> FactField:
    return FactField(kind, label, always, values)


DERIVED: dict[str, dict[str, FactField]] = {
    "request": {
        "date": _f("date", "the request date", True),
        "jurisdiction": _f("text", "the jurisdiction", True),  # its values: the loaded profiles' codes (allowed_values)
    },
    "patient": {
        "months_since_injury": _f("number", "the date of injury"),
        "chronic": _f("bool", "the date of injury"),
    },
    "clinical": {
        "departure": _f("bool", "a departure under Minn. R. 5221.6050, subp. 8 (items A to E)"),
    },
    "meds": {
        "first_line_failed": _f("bool", "the outcome of first-line medication trials"),
        "prior_treatment_failed": _f("bool", "the outcome of prior medication trials"),
        "nsaid_current": _f("bool", "whether an NSAID is taken now", True),
        "opioid_current": _f("bool", "whether an opioid is taken now", True),
        "current_count": _f("number", "the current medications", True),
        "nsaid_count": _f("number", "the current NSAIDs", True),
        "gi_risk_cotherapy": _f("bool", "current aspirin, corticosteroid or anticoagulant use", True),
        "non_opioid_failed": _f("bool", "the outcome of non-opioid analgesic trials"),
        "tca_snri_tried": _f("bool", "a trial of a tricyclic or SNRI antidepressant"),
    },
    "item": {
        "topic": _f("text", "the treatment topic", True),
        "visits_requested": _f("number", "the number of visits requested"),
        "ingredient_count": _f("number", "the number of ingredients"),
        "drug": _f("text", "the drug"),
        "drug_class": _f("text", "the drug class"),
        "mme_daily": _f("number", "the daily dose of the requested opioid"),
        "mme_daily_total": _f("number", "the daily doses of every current opioid"),
        "contains_salicylate": _f("bool", "whether the compound contains a salicylate"),
        "formulary_status": _f("text", "the drug's status on the MTUS Drug List in effect", False, ("exempt", "non_exempt", "unlisted")),
        "drug_list_version": _f("text", "the MTUS Drug List version in effect"),
        "special_fill_days": _f("number", "the drug's Special Fill supply limit on the MTUS Drug List"),
        "perioperative_fill_days": _f("number", "the drug's Perioperative Fill supply limit on the MTUS Drug List"),
        "special_fill_excess_days": _f("number", "the days of supply prescribed, against the Special Fill limit"),
        "perioperative_fill_excess_days": _f("number", "the days of supply prescribed, against the Perioperative Fill limit"),
        "days_from_injury": _f("number", "the date of the prescribing visit and the date of injury"),
        "days_from_surgery": _f("number", "the date of the prescribing visit and the date of the surgery"),
        "passive_weeks_at_end": _f("number", "the calendar weeks since passive treatment of this condition began"),
        "additional_passive_visits_total": _f("number", "the passive treatment visits already given after the first 12 weeks"),
    },
    "history": {
        "prior": _f("bool", "a prior trial of this treatment"),
        "visits_completed": _f("number", "the number of visits already completed for this body region"),
        "visits_total": _f("number", "the number of visits already completed for this body region"),
        "functional_improvement": _f("bool", "functional improvement from prior treatment documented at visits"),
        "home_exercise_program": _f("bool", "a home exercise program"),
        "weeks_since_last_visit": _f("number", "the date of the last visit"),
        "pain_relief_percent": _f("number", "the percent pain relief from prior treatment"),
        "relief_weeks": _f("number", "how many weeks the relief lasted"),
        "medication_reduced": _f("bool", "a reduction of medication after prior treatment"),
        "weeks_in_use": _f("number", "when the medication was started"),
        "adverse_effects": _f("bool", "an assessment of side effects"),
        "course_weeks": _f("number", "when the current course of the medication started"),
        "current": _f("bool", "whether the medication is taken now"),
        "service_visits_total": _f("number", "the visits of this service for the injury in every region"),
        "visits_past_year": _f("number", "the number of blocks in the past 12 months"),
        "past_year_total": _f("number", "the number of blocks in the past 12 months"),
    },
    "dx": {
        "pm_group": _f("text", "a diagnosis for the treated body region in one of the guideline's groups", False, PM_GROUPS),
        "count": _f("number", "the diagnoses for the treated body region", True),
    },
    "surgery": {
        "procedure": _f("text", "the surgery", True),
        "region": _f("text", "the body region of the surgery", True, REGIONS),
        "months_since": _f("number", "the date of surgery"),
        "weeks_since": _f("number", "the date of surgery"),
        "date_documented": _f("bool", "the date of surgery", True),
    },
    "ingredient": {
        "drug": _f("text", "the ingredient", True),
        "drug_class": _f("text", "the ingredient's drug class"),
        "subclass": _f("text", "the ingredient's drug subclass"),
        "strength_pct": _f("number", "the ingredient's strength"),
    },
    "finding": {
        "label": _f("text", "a finding's name"),
        "status": _f("text", "a finding's outcome", True, STATUSES),
        "rule": _f("text", "a finding's rule", True),
        "pack": _f("text", "a finding's pack", True),
    },
}


def _build_schema() -> dict[str, dict[str, FactField]]:
    direct = {
        "patient": _model_fields(InjuredWorker),
        "clinical": _model_fields(ClinicalFindings),
        "item": item_fields(),
    }
    schema: dict[str, dict[str, FactField]] = {}
    for entity in ENTITY_ORDER:
        fields = dict(direct.get(entity, {}))
        for name, f in DERIVED.get(entity, {}).items():
            if name in fields:
                raise TypeError(f"{entity}.{name} is both a case field and a derived field")
            fields[name] = f
        schema[entity] = fields
    return schema


SCHEMA: dict[str, dict[str, FactField]] = _build_schema()
"""entity -> field -> FactField, without the diagnosis groups of the vocabulary (see fact_fields)."""


def fact_fields(vocab: Vocabulary) -> dict[str, dict[str, str]]:
    """entity -> field -> type: the vocabulary of the rule language (one bool per diagnosis group)."""
    fields = {entity: {name: f.type for name, f in fs.items()} for entity, fs in SCHEMA.items()}
    for group in vocab.diagnoses.groups:
        fields["dx"][group] = "bool"
    return fields


def label(entity: str, name: str, vocab: Vocabulary | None = None) -> str:
    """The letter's words for a fact (`history.visits_total` -> 'the number of visits already ...')."""
    f = SCHEMA.get(entity, {}).get(name)
    if f is not None:
        return f.label
    if entity == "dx" and vocab is not None and name in vocab.diagnoses.groups:
        return f"a diagnosis of {vocab.diagnoses.groups[name]}"
    return f"{entity} {name}".replace("_", " ")


def always_present(entity: str, name: str) -> bool:
    """Whether fact building always sets this field (diagnosis groups are always true or false)."""
    f = SCHEMA.get(entity, {}).get(name)
    if f is None:
        return entity == "dx"  # a diagnosis-group flag
    return f.always


def allowed_values(vocab: Vocabulary, labels: set[str], jurisdictions: set[str]) -> dict[str, set]:
    """Known values of text fields, so a misspelt value in a condition is caught at validation
    (`jurisdictions`: the codes of the loaded profiles)."""
    topics = {s.topic for s in vocab.services.services.values()} | set(vocab.services.medication_topics.forms.values()) | set(vocab.services.medication_topics.classes.values())
    out = {f"{entity}.{name}": set(f.values) for entity, fs in SCHEMA.items() for name, f in fs.items() if f.type == "text" and f.values}
    out.update({
        "item.service": set(vocab.services.services),
        "item.type": set(ITEM_TYPES),
        "item.form": set(FORMS),
        "item.topic": topics,
        "item.drug": set(vocab.drugs.drugs),
        "item.drug_class": set(vocab.drugs.classes),
        "surgery.procedure": set(vocab.procedures.procedures),
        "ingredient.drug": set(vocab.drugs.drugs),
        "ingredient.drug_class": set(vocab.drugs.classes),
        "ingredient.subclass": {d.subclass for d in vocab.drugs.drugs.values() if d.subclass},
        "finding.label": labels,
        "request.jurisdiction": jurisdictions,
    })
    return out


def subject_of(binding: dict) -> str:
    """What a finding is about within its item: an ingredient, or the subject of the finding it
    chains on (empty for a finding about the item as a whole)."""
    if "ingredient" in binding:
        return binding["ingredient"].get("drug", "")
    if "finding" in binding:
        return binding["finding"].get("subject", "")
    return ""
