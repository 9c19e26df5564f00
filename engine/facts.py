"""Assert-facts step, first half: turn a validated Case into flat facts for the Rete network.

One fact per entity (request, patient, clinical findings, medication summary) and, per requested
item, the item and what belongs to it (its treatment history, its diagnosis profile, the surgery in
its region, its ingredients). A fact the record does not document is an *absent* property, never
None: durable-rules matches absence with `$nex`, which is how "not documented" reaches the rules.
Derived quantities (total visits, weeks since surgery) are computed here once, because
durable-rules allows arithmetic only on the right of a comparison.

FACT_FIELDS is the vocabulary of the rule language: a condition may name exactly these fields.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .case_model import NOT_DOCUMENTED, Case, MedicationItem, ProcedureItem, TherapyItem
from .vocabulary import Vocabulary

# entity -> field -> type ("bool", "number", "text", "date"); dx gets one bool per diagnosis group.
BASE_FIELDS: dict[str, dict[str, str]] = {
    "request": {"date": "date", "jurisdiction": "text"},
    "patient": {"age": "number", "sex": "text", "months_since_injury": "number", "chronic": "bool"},
    "clinical": {
        "pain_score": "number", "acute_flare_up": "bool", "new_injury": "bool", "red_flags": "bool",
        "neurological_change": "bool", "radiculopathy_on_exam": "bool",
        "imaging_corroborates_radiculopathy": "bool", "functional_baseline_and_goals": "bool",
        "work_status": "text", "gi_risk_factors": "bool", "aberrant_behaviour": "bool",
    },
    "meds": {"first_line_failed": "bool", "prior_treatment_failed": "bool", "nsaid_current": "bool", "opioid_current": "bool", "current_count": "number"},
    "item": {
        "id": "text", "type": "text", "service": "text", "topic": "text", "region": "text",
        "visits_requested": "number", "frequency_per_week": "number", "duration_weeks": "number",
        "form": "text", "compounded": "bool", "ingredient_count": "number", "refills": "number",
        "quantity": "number", "levels": "number", "drug": "text", "drug_class": "text",
    },
    "history": {
        "prior": "bool", "visits_completed": "number", "visits_total": "number",
        "functional_improvement": "bool", "home_exercise_program": "bool",
        "weeks_since_last_visit": "number", "pain_relief_percent": "number", "relief_weeks": "number",
        "medication_reduced": "bool", "weeks_in_use": "number",
    },
    "dx": {"pm_group": "text", "count": "number"},
    "surgery": {"procedure": "text", "region": "text", "months_since": "number", "weeks_since": "number", "date_documented": "bool"},
    "ingredient": {"drug": "text", "drug_class": "text", "subclass": "text", "strength_pct": "number"},
    "finding": {"label": "text", "status": "text", "rule": "text", "pack": "text"},
}

# Fields facts.py always sets (a true/false answer, never "not documented"): a condition on them
# cannot be unknown, so the compiler drops the not-documented alternatives that test their absence.
ALWAYS_PRESENT = {
    "request": {"date", "jurisdiction"},
    "item": {"id", "type", "service", "topic", "region"},
    "meds": {"current_count", "nsaid_current", "opioid_current"},
    "dx": None,  # every field except pm_group
    "surgery": {"procedure", "region", "date_documented"},
    "ingredient": {"drug"},
    "finding": {"status", "rule", "pack"},
}


def always_present(entity: str, field: str) -> bool:
    fields = ALWAYS_PRESENT.get(entity, set())
    return field != "pm_group" if fields is None else field in fields


CASE_ENTITIES = ("request", "patient", "clinical", "meds")
ITEM_ENTITIES = ("item", "history", "dx", "surgery", "ingredient", "finding")
ENTITY_ORDER = ("request", "item", "patient", "clinical", "meds", "history", "dx", "surgery", "ingredient", "finding")
REGIONS = ["cervical", "thoracic", "lumbar", "shoulder", "elbow", "wrist_hand", "hip", "knee", "ankle_foot", "multiple", "other"]
_PM_PRIORITY = {"crps": 3, "neuritis_radiculitis": 2, "myalgia_myositis": 1}
_FIRST_LINE = {("antidepressant", "tca"), ("antidepressant", "snri"), ("antiepileptic", None)}


def fact_fields(vocab: Vocabulary) -> dict[str, dict[str, str]]:
    fields = {entity: dict(f) for entity, f in BASE_FIELDS.items()}
    for group in vocab.diagnoses.groups:
        fields["dx"][group] = "bool"
    return fields


def allowed_values(vocab: Vocabulary, labels: set[str]) -> dict[str, set]:
    """Known values of text fields, so a misspelt value in a condition is caught at validation."""
    topics = {s.topic for s in vocab.services.services.values()} | set(vocab.services.medication_topics.forms.values()) | set(vocab.services.medication_topics.classes.values())
    return {
        "item.service": set(vocab.services.services),
        "item.region": set(REGIONS),
        "item.type": {"therapy", "medication", "procedure"},
        "item.form": {"oral", "topical", "patch", "injection"},
        "item.topic": topics,
        "item.drug": set(vocab.drugs.drugs),
        "item.drug_class": set(vocab.drugs.classes),
        "surgery.procedure": set(vocab.procedures.procedures),
        "surgery.region": set(REGIONS),
        "ingredient.drug": set(vocab.drugs.drugs),
        "ingredient.drug_class": set(vocab.drugs.classes),
        "ingredient.subclass": {d.subclass for d in vocab.drugs.drugs.values() if d.subclass},
        "dx.pm_group": set(_PM_PRIORITY),
        "finding.label": labels,
        "finding.status": {"met", "not_met", "not_documented"},
        "clinical.work_status": {"full duty", "modified duty", "off work"},
        "patient.sex": {"female", "male"},
        "request.jurisdiction": {"CA", "TX"},
    }


def date_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _put(fact: dict, key: str, value) -> None:
    """Set a property only when documented: absence is how facts say 'not documented'."""
    if value is not None and value != NOT_DOCUMENTED:
        fact[key] = value


def _months(start: dt.date, end: dt.date) -> float:
    return round((end - start).days / 30.4375, 2)


@dataclass
class CaseFacts:
    """Facts of one case: the case-level facts and, per item, the item's own facts and topic."""

    case_facts: list[dict]
    items: list[tuple[str, str, list[dict]]]  # (item id, topic, facts)


def build_facts(case: Case, vocab: Vocabulary) -> CaseFacts:
    day = case.request_date
    request = {"t": "request", "id": "request", "date": date_number(day), "jurisdiction": case.jurisdiction}

    worker = case.injured_worker
    patient = {"t": "patient", "id": "patient"}
    _put(patient, "age", worker.age)
    _put(patient, "sex", worker.sex)
    if isinstance(worker.date_of_injury, dt.date):
        months = _months(worker.date_of_injury, day)
        patient["months_since_injury"] = months
        patient["chronic"] = months >= 3

    clinical = {"t": "clinical", "id": "clinical"}
    for name, value in case.clinical_findings.model_dump().items():
        if name in BASE_FIELDS["clinical"]:
            _put(clinical, name, value)

    meds = _medication_summary(case, vocab)
    items = []
    for item in case.requested_items:
        topic, facts = _item_facts(case, item, vocab)
        items.append((item.id, topic, facts))
    return CaseFacts(case_facts=[request, patient, clinical, meds], items=items)


def _drug_class(vocab: Vocabulary, drug: str) -> tuple[str | None, str | None]:
    entry = vocab.drugs.drugs.get(drug)
    return (entry.class_, entry.subclass) if entry else (None, None)


def _medication_summary(case: Case, vocab: Vocabulary) -> dict:
    meds = {"t": "meds", "id": "meds"}
    current = [m for m in case.medications if m.status == "current"]
    meds["current_count"] = len(current)
    classes = [(_drug_class(vocab, m.drug or m.name.lower())[0]) for m in current]
    meds["nsaid_current"] = "nsaid" in classes
    meds["opioid_current"] = "opioid" in classes
    outcomes = [m.outcome for m in case.medications if m.outcome != NOT_DOCUMENTED]
    if any(o in ("failed", "not tolerated") for o in outcomes):
        meds["prior_treatment_failed"] = True
    elif outcomes:
        meds["prior_treatment_failed"] = False
    trials = []
    for m in case.medications:
        cls, sub = _drug_class(vocab, m.drug or m.name.lower())
        if (cls, sub) in _FIRST_LINE or cls == "antiepileptic":
            trials.append(m.outcome)
    if any(o in ("failed", "not tolerated") for o in trials):
        meds["first_line_failed"] = True
    elif trials and all(o == "effective" for o in trials):
        meds["first_line_failed"] = False
    return meds


def _topic(item, vocab: Vocabulary) -> str:
    if isinstance(item, MedicationItem):
        routes = vocab.services.medication_topics
        if item.form in routes.forms:
            return routes.forms[item.form]
        cls, _ = _drug_class(vocab, item.ingredients[0].drug)
        return routes.classes.get(cls or "", "unrouted")
    service = vocab.services.services.get(item.service)
    return service.topic if service else "unrouted"


def _item_facts(case: Case, item, vocab: Vocabulary) -> tuple[str, list[dict]]:
    day = case.request_date
    topic = _topic(item, vocab)
    iid = item.id
    # `item_id` repeats `id` for joins: durable-rules does not join on a fact's `id` property
    fact = {"t": "item", "id": iid, "item_id": iid, "type": item.type, "region": item.region, "topic": topic}
    history = {"t": "history", "id": f"{iid}/history", "item_id": iid}
    extra: list[dict] = []

    if isinstance(item, (TherapyItem, ProcedureItem)):
        fact["service"] = item.service
        if isinstance(item, TherapyItem):
            fact["visits_requested"] = item.visits_requested
            _put(fact, "frequency_per_week", item.frequency_per_week)
            _put(fact, "duration_weeks", item.duration_weeks)
        else:
            fact["quantity"] = item.quantity
            _put(fact, "levels", item.levels)
        _therapy_history(case, item, history)
        if "visits_completed" in history and "visits_requested" in fact:
            history["visits_total"] = history["visits_completed"] + fact["visits_requested"]
    else:
        fact["service"] = "medication"
        fact["form"] = item.form
        fact["compounded"] = item.compounded
        fact["ingredient_count"] = len(item.ingredients)
        fact["refills"] = item.refills
        _put(fact, "duration_weeks", item.duration_weeks)
        first = item.ingredients[0].drug
        fact["drug"] = first
        _put(fact, "drug_class", _drug_class(vocab, first)[0])
        for n, ing in enumerate(item.ingredients):
            cls, sub = _drug_class(vocab, ing.drug)
            ifact = {"t": "ingredient", "id": f"{iid}/ingredient/{n}", "item_id": iid, "drug": ing.drug}
            _put(ifact, "drug_class", cls)
            _put(ifact, "subclass", sub)
            if ing.strength and ing.strength.endswith("%"):
                ifact["strength_pct"] = float(ing.strength[:-1])
            extra.append(ifact)
        _medication_history(case, item, history)

    dx = _dx_profile(case, item, vocab)
    surgery = _surgery(case, item)
    facts = [fact, history, dx] + ([surgery] if surgery else []) + extra
    return topic, facts


def _therapy_history(case: Case, item, history: dict) -> None:
    day = case.request_date
    lines = [h for h in case.treatment_history if h.service == item.service and (h.region == item.region or item.region == "multiple")]
    if not lines:
        return
    counts = [h.visits_completed for h in lines]
    if all(c != NOT_DOCUMENTED for c in counts):
        history["visits_completed"] = sum(counts)
        history["prior"] = sum(counts) > 0
    else:
        history["prior"] = True
    for name in ("functional_improvement", "home_exercise_program", "medication_reduced"):
        values = [getattr(h, name) for h in lines if getattr(h, name) != NOT_DOCUMENTED]
        if values:
            history[name] = all(values)
    for name in ("pain_relief_percent", "relief_weeks"):
        values = [getattr(h, name) for h in lines if getattr(h, name) != NOT_DOCUMENTED]
        if values:
            history[name] = min(values)
    last = [h.last_visit for h in lines if isinstance(h.last_visit, dt.date)]
    if last:
        history["weeks_since_last_visit"] = round((day - max(last)).days / 7, 1)


def _medication_history(case: Case, item: MedicationItem, history: dict) -> None:
    if item.compounded:  # a compound's history is a medication entry with the same description
        lines = [m for m in case.medications if m.name.lower() == item.description.lower()]
    else:
        drugs = {i.drug for i in item.ingredients}
        lines = [m for m in case.medications if (m.drug or m.name.lower()) in drugs]
    if not lines:
        return
    history["prior"] = True
    values = [m.functional_improvement for m in lines if m.functional_improvement != NOT_DOCUMENTED]
    if values:
        history["functional_improvement"] = all(values)
    since = [m.since for m in lines if isinstance(m.since, dt.date)]
    if since:
        history["weeks_in_use"] = round((case.request_date - min(since)).days / 7, 1)


def _dx_profile(case: Case, item, vocab: Vocabulary) -> dict:
    dx = {"t": "dx", "id": f"{item.id}/dx", "item_id": item.id}
    groups = {g: False for g in vocab.diagnoses.groups}
    best = None
    count = 0
    for d in case.diagnoses:
        entry = vocab.dx_entry(d.code)
        if entry is None:
            continue
        relevant = item.region in ("multiple", "other") or entry.region in ("multiple", "other") or entry.region == item.region
        if not relevant:
            continue
        count += 1
        for g in entry.groups:
            groups[g] = True
        if entry.pm_group and (best is None or _PM_PRIORITY[entry.pm_group] > _PM_PRIORITY[best]):
            best = entry.pm_group
    dx.update(groups)
    dx["count"] = count
    _put(dx, "pm_group", best)
    return dx


def _surgery(case: Case, item) -> dict | None:
    found = [s for s in case.surgeries if s.region == item.region]
    if not found:
        return None
    dated = [s for s in found if isinstance(s.date, dt.date)]
    chosen = max(dated, key=lambda s: s.date) if dated else found[0]
    fact = {"t": "surgery", "id": f"{item.id}/surgery", "item_id": item.id, "procedure": chosen.procedure, "region": chosen.region}
    fact["date_documented"] = isinstance(chosen.date, dt.date)
    if isinstance(chosen.date, dt.date):
        days = (case.request_date - chosen.date).days
        fact["months_since"] = _months(chosen.date, case.request_date)
        fact["weeks_since"] = round(days / 7, 1)
    return fact
