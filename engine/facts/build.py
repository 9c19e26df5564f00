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
import itertools
from dataclasses import dataclass

from engine.model.case import NOT_DOCUMENTED, Case, MedicationItem, ProcedureItem, TherapyItem
from engine.model.vocabulary import Vocabulary

# entity -> field -> type ("bool", "number", "text", "date"); dx gets one bool per diagnosis group.
BASE_FIELDS: dict[str, dict[str, str]] = {
    "request": {"date": "date", "jurisdiction": "text"},
    "patient": {"age": "number", "sex": "text", "months_since_injury": "number", "chronic": "bool", "date_of_injury": "date"},
    "clinical": {
        "pain_score": "number", "acute_flare_up": "bool", "new_injury": "bool", "red_flags": "bool",
        "neurological_change": "bool", "radiculopathy_on_exam": "bool",
        "imaging_corroborates_radiculopathy": "bool", "functional_baseline_and_goals": "bool",
        "conservative_care_unresponsive": "bool",
        "work_status": "text", "gi_risk_factors": "bool", "aberrant_behaviour": "bool",
        "gi_bleed_history": "bool", "pain_management_consult": "bool", "opioid_risk_level": "text",
        "active_therapy_concurrent": "bool", "reduced_weight_bearing_indicated": "bool", "therapy_plateau": "bool",
        "surgical_candidate": "bool", "return_to_work_goal": "bool", "job_physical_demand": "text",
        "conservative_care_failed": "bool", "significant_functional_loss": "bool", "motivated_to_change": "bool",
        "negative_predictors_addressed": "bool", "delayed_recovery_risk": "bool", "cbt_program": "bool",
    },
    "meds": {"first_line_failed": "bool", "prior_treatment_failed": "bool", "nsaid_current": "bool", "opioid_current": "bool", "current_count": "number",
             "nsaid_count": "number", "gi_risk_cotherapy": "bool", "non_opioid_failed": "bool"},
    "item": {
        "id": "text", "type": "text", "service": "text", "topic": "text", "region": "text",
        "visits_requested": "number", "frequency_per_week": "number", "duration_weeks": "number",
        "form": "text", "compounded": "bool", "ingredient_count": "number", "refills": "number",
        "quantity": "number", "levels": "number", "drug": "text", "drug_class": "text",
        "daily_dose_mg": "number", "mme_daily": "number", "mme_daily_total": "number", "contains_salicylate": "bool",
        "maintenance_care": "bool", "acquisition": "text",
        "approach": "text", "fluoroscopy": "bool", "compound_necessity_documented": "bool",
    },
    "history": {
        "prior": "bool", "visits_completed": "number", "visits_total": "number",
        "functional_improvement": "bool", "home_exercise_program": "bool",
        "weeks_since_last_visit": "number", "pain_relief_percent": "number", "relief_weeks": "number",
        "medication_reduced": "bool", "weeks_in_use": "number",
        "adverse_effects": "bool", "course_weeks": "number", "current": "bool",
        "service_visits_total": "number",
        "visits_past_year": "number", "past_year_total": "number",
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
    "meds": {"current_count", "nsaid_current", "opioid_current", "nsaid_count", "gi_risk_cotherapy"},
    "dx": None,  # every field except pm_group
    "surgery": {"procedure", "region", "date_documented"},
    "ingredient": {"drug"},
    "finding": {"status", "rule", "pack"},
}


def mirror(field: str) -> str:
    """The item fact's copy of a request field. Every rule tests the request's date against its
    edition, so every rule would join the request fact; testing the copy on the item instead spares
    that join (measured: about a third of a physical-medicine session's matching time)."""
    return f"request_{field}"


MIRRORS = frozenset(mirror(f) for f in BASE_FIELDS["request"])


def always_present(entity: str, field: str) -> bool:
    fields = ALWAYS_PRESENT.get(entity, set())
    return field != "pm_group" if fields is None else field in fields


CASE_ENTITIES = ("request", "patient", "clinical", "meds")
ITEM_ENTITIES = ("item", "history", "dx", "surgery", "ingredient", "finding")
ENTITY_ORDER = ("request", "item", "patient", "clinical", "meds", "history", "dx", "surgery", "ingredient", "finding")
REGIONS = ["cervical", "thoracic", "lumbar", "shoulder", "elbow", "wrist_hand", "hip", "knee", "ankle_foot", "multiple", "other"]
_PM_PRIORITY = {"crps": 3, "neuritis_radiculitis": 2, "myalgia_myositis": 1}
_FIRST_LINE = {("antidepressant", "tca"), ("antidepressant", "snri"), ("antiepileptic", None)}
_GI_COTHERAPY = {"antiplatelet", "corticosteroid", "anticoagulant"}  # CPMTG p. 68: ASA, steroids, anticoagulants
_NON_OPIOID = {"nsaid", "analgesic"}  # non-opioid analgesics to try before opioids (CPMTG p. 76)


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
        "clinical.opioid_risk_level": {"low", "moderate", "high"},
        "clinical.job_physical_demand": {"sedentary", "light", "medium", "heavy", "very heavy"},
        "item.acquisition": {"rental", "purchase"},
        "item.approach": {"transforaminal", "interlaminar", "caudal"},
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


def add_memberships(facts: CaseFacts, memberships: dict) -> CaseFacts:
    """Set the compiled rules' value-list indicators (compiler.Memberships) on the facts they test:
    `in_service_2: true` where the item's service is one the list names. Absent otherwise, like
    any property that does not hold."""
    if not memberships:
        return facts
    for fact in itertools.chain(facts.case_facts, *(item_facts for _, _, item_facts in facts.items)):
        for (entity, field, values), name in memberships.items():
            if fact["t"] == entity and fact.get(field) in values:
                fact[name] = True
    return facts


def build_facts(case: Case, vocab: Vocabulary) -> CaseFacts:
    day = case.request_date
    request = {"t": "request", "id": "request", "date": date_number(day), "jurisdiction": case.jurisdiction}

    worker = case.injured_worker
    patient = {"t": "patient", "id": "patient"}
    _put(patient, "age", worker.age)
    _put(patient, "sex", worker.sex)
    if isinstance(worker.date_of_injury, dt.date):
        patient["date_of_injury"] = date_number(worker.date_of_injury)
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
    meds["nsaid_count"] = classes.count("nsaid")
    meds["gi_risk_cotherapy"] = any(c in _GI_COTHERAPY for c in classes)
    non_opioid = [m.outcome for m in case.medications if _drug_class(vocab, m.drug or m.name.lower())[0] in _NON_OPIOID and m.outcome != NOT_DOCUMENTED]
    if any(o in ("failed", "not tolerated") for o in non_opioid):
        meds["non_opioid_failed"] = True
    elif non_opioid:
        meds["non_opioid_failed"] = False
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
        first = vocab.drugs.drugs.get(item.ingredients[0].drug)
        if item.form in routes.forms and not (first and first.systemic):
            return routes.forms[item.form]
        return routes.classes.get(first.class_ if first else "", "unrouted")
    service = vocab.services.services.get(item.service)
    return service.topic if service else "unrouted"


def _item_facts(case: Case, item, vocab: Vocabulary) -> tuple[str, list[dict]]:
    day = case.request_date
    topic = _topic(item, vocab)
    iid = item.id
    # `item_id` repeats `id` for joins: durable-rules does not join on a fact's `id` property
    fact = {"t": "item", "id": iid, "item_id": iid, "type": item.type, "region": item.region, "topic": topic,
            mirror("date"): date_number(day), mirror("jurisdiction"): case.jurisdiction}
    history = {"t": "history", "id": f"{iid}/history", "item_id": iid}
    extra: list[dict] = []

    if isinstance(item, (TherapyItem, ProcedureItem)):
        fact["service"] = item.service
        if isinstance(item, TherapyItem):
            fact["visits_requested"] = item.visits_requested
            _put(fact, "frequency_per_week", item.frequency_per_week)
            _put(fact, "duration_weeks", item.duration_weeks)
            _put(fact, "maintenance_care", item.maintenance_care)
            _service_visits(case, item, history)
        else:
            fact["quantity"] = item.quantity
            _put(fact, "levels", item.levels)
            _put(fact, "acquisition", item.acquisition)
            _put(fact, "duration_weeks", item.duration_weeks)
            _put(fact, "approach", item.approach)
            _put(fact, "fluoroscopy", item.fluoroscopy)
        _therapy_history(case, item, history)
        if "visits_completed" in history and "visits_requested" in fact:
            history["visits_total"] = history["visits_completed"] + fact["visits_requested"]
        if "visits_past_year" in history and "quantity" in fact:  # blocks in the 12 months up to and including this request
            history["past_year_total"] = history["visits_past_year"] + fact["quantity"]
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
        _put(fact, "daily_dose_mg", item.daily_dose_mg)
        _put(fact, "compound_necessity_documented", item.compound_necessity_documented)
        fact["contains_salicylate"] = any(_drug_class(vocab, i.drug)[0] == "salicylate" for i in item.ingredients)
        for n, ing in enumerate(item.ingredients):
            cls, sub = _drug_class(vocab, ing.drug)
            ifact = {"t": "ingredient", "id": f"{iid}/ingredient/{n}", "item_id": iid, "drug": ing.drug}
            _put(ifact, "drug_class", cls)
            _put(ifact, "subclass", sub)
            if ing.strength and ing.strength.endswith("%"):
                ifact["strength_pct"] = float(ing.strength[:-1])
            extra.append(ifact)
        _medication_history(case, item, history)
        _course_weeks(case, item, history)
        _morphine_equivalents(case, item, vocab, fact)

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
    past_year = [h.visits_past_year for h in lines]
    if all(c != NOT_DOCUMENTED for c in past_year):
        history["visits_past_year"] = sum(past_year)
    last = [h.last_visit for h in lines if isinstance(h.last_visit, dt.date)]
    if last:
        history["weeks_since_last_visit"] = round((day - max(last)).days / 7, 1)


def _service_visits(case: Case, item: TherapyItem, history: dict) -> None:
    """Visits of this service for the injury in every region, plus those requested (LC 4604.5(c) counts per injury)."""
    counts = [h.visits_completed for h in case.treatment_history if h.service == item.service]
    if counts and all(c != NOT_DOCUMENTED for c in counts):  # no history line: the count is not documented
        history["service_visits_total"] = sum(counts) + item.visits_requested


def _medication_history(case: Case, item: MedicationItem, history: dict) -> None:
    if item.compounded:  # a compound's history is a medication entry with the same description
        lines = [m for m in case.medications if m.name.lower() == item.description.lower()]
    else:
        drugs = {i.drug for i in item.ingredients}
        lines = [m for m in case.medications if (m.drug or m.name.lower()) in drugs]
    if not lines:
        return
    history["prior"] = True
    history["current"] = any(m.status == "current" for m in lines)  # a refill, not a new start
    values = [m.functional_improvement for m in lines if m.functional_improvement != NOT_DOCUMENTED]
    if values:
        history["functional_improvement"] = all(values)
    since = [m.since for m in lines if isinstance(m.since, dt.date)]
    if since:
        history["weeks_in_use"] = round((case.request_date - min(since)).days / 7, 1)
    for name in ("adverse_effects",):
        values = [getattr(m, name) for m in lines if getattr(m, name) != NOT_DOCUMENTED]
        if values:
            history[name] = any(values)
    relief = [m.pain_relief_percent for m in lines if m.pain_relief_percent != NOT_DOCUMENTED]
    if relief:
        history["pain_relief_percent"] = min(relief)


def _course_weeks(case: Case, item: MedicationItem, history: dict) -> None:
    """Weeks of use by the end of the request: weeks already taken (current lines) + weeks requested.

    A drug the record does not list as current starts now (0 weeks so far); a current line without
    a start date leaves the course not documented.
    """
    if item.duration_weeks is None:
        return
    drugs = {i.drug for i in item.ingredients}
    current = [m for m in case.medications if m.status == "current" and (m.drug or m.name.lower()) in drugs]
    if not current:
        history["course_weeks"] = float(item.duration_weeks)
        return
    since = [m.since for m in current if isinstance(m.since, dt.date)]
    if len(since) == len(current):
        history["course_weeks"] = round((case.request_date - min(since)).days / 7 + item.duration_weeks, 1)


def _mme(vocab: Vocabulary, drug: str, dose) -> float | None:
    entry = vocab.drugs.drugs.get(drug)
    if entry is None or entry.mme_factor is None or dose in (None, NOT_DOCUMENTED):
        return None
    return dose * entry.mme_factor


def _morphine_equivalents(case: Case, item: MedicationItem, vocab: Vocabulary, fact: dict) -> None:
    """Daily oral morphine equivalents (MED, CPMTG p. 86) of the requested opioid and of the total regimen.

    The requested dose is the item's daily_dose_mg, else the dose of the current line of the same
    drug (a refill). Other current opioids add their own; any opioid without a dose leaves the
    total not documented. Fentanyl's factor (2.4) applies to a dose given in mcg/hour.
    """
    drug = item.ingredients[0].drug
    if vocab.drugs.drugs.get(drug) is None or vocab.drugs.drugs[drug].mme_factor is None:
        return
    current = [m for m in case.medications if m.status == "current"]
    dose = item.daily_dose_mg
    if dose is None:
        same = [m.daily_dose_mg for m in current if (m.drug or m.name.lower()) == drug and m.daily_dose_mg != NOT_DOCUMENTED]
        dose = same[0] if same else None
    own = _mme(vocab, drug, dose)
    if own is None:
        return
    fact["mme_daily"] = round(own, 1)
    total = own
    for m in current:
        other = m.drug or m.name.lower()
        entry = vocab.drugs.drugs.get(other)
        if other == drug or entry is None or entry.class_ != "opioid":
            continue
        extra = _mme(vocab, other, m.daily_dose_mg)
        if extra is None:
            return
        total += extra
    fact["mme_daily_total"] = round(total, 1)


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
