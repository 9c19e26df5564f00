"""Assert-facts step, first half: turn a validated Case into flat, engine-neutral facts.

One fact per entity (request, patient, clinical findings, medication summary) and, per requested
item, the item and what belongs to it (its treatment history, its diagnosis profile, the surgery in
its region, its ingredients). A fact the record does not document is an *absent* property, never
None: absence is how "not documented" reaches the rules. Dates stay dates here; the encoding the
rules engine needs (engine/durable/encode.py) is applied when facts are asserted. Derived
quantities (total visits, weeks since surgery) are computed here once; their names, types and
labels are declared in schema.py, and the fields a case states directly are copied by name from
the schema, so a new case-model field needs no edit here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.facts.crosswalk import resolve_items, resolved
from engine.facts.icd9_groups import diagnosis_entry, relevant
from engine.facts.schema import SCHEMA
from engine.model.case import NOT_DOCUMENTED, Case, MedicationItem, ProcedureItem, TherapyItem
from engine.model.vocabulary import Vocabulary

_PM_PRIORITY = {"crps": 3, "neuritis_radiculitis": 2, "myalgia_myositis": 1}
_TCA_SNRI = {("antidepressant", "tca"), ("antidepressant", "snri")}
_FIRST_LINE = _TCA_SNRI | {("antiepileptic", None)}
_GI_COTHERAPY = {"antiplatelet", "corticosteroid", "anticoagulant"}  # CPMTG p. 68: ASA, steroids, anticoagulants
_NON_OPIOID = {"nsaid", "analgesic"}  # non-opioid analgesics to try before opioids (CPMTG p. 76)


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


_DIRECT: dict[tuple, tuple[str, ...]] = {}


def _copy(fact: dict, model, entity: str) -> None:
    """The fields a case states directly, copied by the names the schema derived from the model."""
    key = (type(model), entity)
    names = _DIRECT.get(key)
    if names is None:
        names = _DIRECT[key] = tuple(n for n in type(model).model_fields if n in SCHEMA[entity])
    for name in names:
        value = getattr(model, name)
        if value is not None and value != NOT_DOCUMENTED:
            fact[name] = value


def build_facts(case: Case, vocab: Vocabulary) -> CaseFacts:
    case = resolved(case, vocab)  # request codes (CPT, HCPCS, RxNorm) read as vocabulary keys
    day = case.request_date
    request = {"t": "request", "id": "request", "date": day, "jurisdiction": case.jurisdiction}

    worker = case.injured_worker
    patient = {"t": "patient", "id": "patient"}
    _copy(patient, worker, "patient")
    if isinstance(worker.date_of_injury, dt.date):
        months = _months(worker.date_of_injury, day)
        patient["months_since_injury"] = months
        patient["chronic"] = months >= 3

    clinical = {"t": "clinical", "id": "clinical"}
    _copy(clinical, case.clinical_findings, "clinical")
    _departure(case, clinical)

    meds = _medication_summary(case, vocab)
    items = []
    for item in case.requested_items:
        topic, facts = _item_facts(case, item, vocab)
        items.append((item.id, topic, facts))
    return CaseFacts(case_facts=[request, patient, clinical, meds], items=items)


DEPARTURES = ("medical_complication", "prior_treatment_below_standard", "initial_return_to_work", "progressive_improvement", "incapacitating_exacerbation")
"""The circumstances of Minn. R. 5221.6050, subp. 8.A-E, each a clinical finding."""


def _departure(case: Case, clinical: dict) -> None:
    """Whether any circumstance of 5221.6050, subp. 8 is documented: true if one is documented
    present, false if all five are documented absent, not documented otherwise. One fact, so a
    limit rule can read "the limit, or a departure" within durable-rules' bound on alternatives
    (the five fields in one condition expand past it); the departure rule reads the five."""
    values = [getattr(case.clinical_findings, name) for name in DEPARTURES]
    if any(v is True for v in values):
        clinical["departure"] = True
    elif all(v is False for v in values):
        clinical["departure"] = False


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
    # a tricyclic or SNRI tried (any outcome): ODG (2019) asks for one before a gabapentinoid;
    # none listed is silence, not a documented "no" (unknown is not false)
    if any(_drug_class(vocab, m.drug or m.name.lower()) in _TCA_SNRI for m in case.medications):
        meds["tca_snri_tried"] = True
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
    # every fact of an item names it in `item_id`, the item fact too, so facts of one item join on one field
    fact = {"t": "item", "id": iid, "item_id": iid, "topic": topic}
    _copy(fact, item, "item")
    history = {"t": "history", "id": f"{iid}/history", "item_id": iid}
    extra: list[dict] = []

    if isinstance(item, (TherapyItem, ProcedureItem)):
        if isinstance(item, TherapyItem):
            fact["visits_requested"] = item.visits_requested
            _service_visits(case, item, history)
            _passive_course(item, fact)
        _therapy_history(case, item, history)
        if "visits_completed" in history and "visits_requested" in fact:
            history["visits_total"] = history["visits_completed"] + fact["visits_requested"]
        if "visits_past_year" in history and "quantity" in fact:  # blocks in the 12 months up to and including this request
            history["past_year_total"] = history["visits_past_year"] + fact["quantity"]
    else:
        fact["service"] = "medication"
        fact["ingredient_count"] = len(item.ingredients)
        first = item.ingredients[0].drug
        fact["drug"] = first
        _put(fact, "drug_class", _drug_class(vocab, first)[0])
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
        _drug_list(case, item, vocab, fact)

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


def _passive_course(item: TherapyItem, fact: dict) -> None:
    """Where the requested passive care ends in the course (Minn. R. 5221.6200, subp. 3: 12 calendar
    weeks, then an additional 12 visits): the weeks already elapsed plus those requested, and the
    visits after week 12 already given plus those requested."""
    if item.passive_care_weeks != NOT_DOCUMENTED and item.duration_weeks is not None:
        fact["passive_weeks_at_end"] = item.passive_care_weeks + item.duration_weeks
    if item.passive_visits_after_12_weeks != NOT_DOCUMENTED:
        fact["additional_passive_visits_total"] = item.passive_visits_after_12_weeks + item.visits_requested


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


def _drug_list(case: Case, item: MedicationItem, vocab: Vocabulary, fact: dict) -> None:
    """The drug's MTUS Drug List entry in the version in effect on the request date (California),
    and the days the formulary counts: from the injury to the prescribing visit (the day after the
    injury is day one, 9792.27.12(c)) and from the surgery to it (the day of surgery is day zero,
    9792.27.13(b)). A drug a partial list does not hold has no status here (not documented); one a
    complete list does not hold is Unlisted."""
    version = vocab.drug_list_on(case.request_date) if case.jurisdiction == "CA" else None
    if version is not None and not item.compounded:
        fact["drug_list_version"] = version.version
        entry = version.entry(item.ingredients[0].drug)
        if entry is not None:
            fact["formulary_status"] = entry.status
            supply = item.days_supply if item.days_supply != NOT_DOCUMENTED else None
            for name, limit in (("special_fill", entry.special_fill_days), ("perioperative_fill", entry.perioperative_fill_days)):
                _put(fact, f"{name}_days", limit)
                if limit is not None and supply is not None:  # the supply past the list's limit (0 or less: within it)
                    fact[f"{name}_excess_days"] = supply - limit
        elif version.complete:
            fact["formulary_status"] = "unlisted"
    visit = item.prescribed_on
    if isinstance(visit, dt.date):
        doi = case.injured_worker.date_of_injury
        if isinstance(doi, dt.date):
            fact["days_from_injury"] = (visit - doi).days
        if isinstance(item.surgery_date, dt.date):
            fact["days_from_surgery"] = (visit - item.surgery_date).days


def item_diagnoses(case: Case, item, vocab: Vocabulary) -> tuple[str, dict]:
    """The topic of one requested item and its diagnosis profile (the `dx` fact its rules read),
    without the rest of its facts: what the diagnosis check of `imr validate` (W005) looks at."""
    if getattr(item, "code", None) is not None or any(i.rxnorm for i in getattr(item, "ingredients", ())):
        item = next(x for x in resolve_items(case, vocab)[0].requested_items if x.id == item.id)  # a bad code stays unrouted
    return _topic(item, vocab), _dx_profile(case, item, vocab)


def _dx_profile(case: Case, item, vocab: Vocabulary) -> dict:
    dx = {"t": "dx", "id": f"{item.id}/dx", "item_id": item.id}
    groups = {g: False for g in vocab.diagnoses.groups}
    best = None
    count = 0
    for d in case.diagnoses:
        entry = diagnosis_entry(vocab, d, item.region)
        if entry is None or not relevant(entry, item.region):
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
