"""The case model: what a reviewer knows about one treatment request, as pydantic v2 models.

Strict and closed (unknown fields are errors). Every clinical fact the record can be silent about
is tri-state: `true` (documented yes), `false` (documented no), or `not documented` (also the
default when the field is left out). Numbers and dates the record may omit take the same
`not documented` value. Nothing here decides anything; `facts.py` turns a Case into facts.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from engine.model.codes import normalise_diagnosis
from engine.model.source import Source
from engine.model.enums import ND, NOT_DOCUMENTED, Decision, Form, ItemType, Jurisdiction, Reason, Region  # noqa: F401 (re-exported)

Tri = Union[bool, ND]
"""Documented yes (true), documented no (false), or not documented."""

Count = Union[Annotated[int, Field(ge=0, le=10_000)], ND]
MaybeDate = Union[dt.date, ND]
ItemId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

MIN_DATE = dt.date(1980, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_date(value):
    if isinstance(value, dt.date) and not (MIN_DATE <= value <= MAX_DATE):
        raise ValueError(f"date {value} outside {MIN_DATE}..{MAX_DATE}")
    return value


class InjuredWorker(Closed):
    age: Union[Annotated[int, Field(ge=14, le=110)], ND] = Field(NOT_DOCUMENTED, title="the worker's age")
    sex: Literal["female", "male", "not documented"] = Field(NOT_DOCUMENTED, title="the worker's sex")
    date_of_injury: MaybeDate = Field(NOT_DOCUMENTED, title="the date of injury")

    _dates = field_validator("date_of_injury")(_check_date)


class Diagnosis(Closed):
    system: Literal["icd10cm", "icd9cm"] | None = Field(None, title="the code system of the code")
    """`icd9cm` or `icd10cm`; left out, the code's form and the request date decide (engine/model/codes.py):
    a code both systems have (V54.1) needs it before 2015-10-01."""
    code: Annotated[str, Field(min_length=3, max_length=8)]
    text: Name

    @field_validator("code")
    @classmethod
    def _real_code(cls, code: str, info: ValidationInfo) -> str:
        return normalise_diagnosis(code, info.data.get("system"))


class Surgery(Closed):
    procedure: Key
    """A key of guideline_rules/vocabulary/procedures.yaml (for example lumbar_discectomy)."""
    description: Name | None = None
    region: Region
    date: MaybeDate = NOT_DOCUMENTED

    _dates = field_validator("date")(_check_date)


class TreatmentHistory(Closed):
    """Prior treatment of one modality in one region (or one medication trial)."""

    service: Key
    region: Region = "other"
    visits_completed: Count = NOT_DOCUMENTED
    last_visit: MaybeDate = NOT_DOCUMENTED
    functional_improvement: Tri = NOT_DOCUMENTED
    """Functional improvement (8 CCR 9792.20) from this treatment, documented at visits."""
    home_exercise_program: Tri = NOT_DOCUMENTED
    pain_relief_percent: Union[Annotated[int, Field(ge=0, le=100)], ND] = NOT_DOCUMENTED
    relief_weeks: Union[Annotated[float, Field(ge=0, le=520)], ND] = NOT_DOCUMENTED
    medication_reduced: Tri = NOT_DOCUMENTED
    visits_past_year: Count = NOT_DOCUMENTED
    """Of visits_completed (for an injection: blocks), those in the 12 months before the request (ESI: 4 blocks per region per year)."""

    _dates = field_validator("last_visit")(_check_date)


class ClinicalFindings(Closed):
    pain_score: Union[Annotated[float, Field(ge=0, le=10)], ND] = Field(NOT_DOCUMENTED, title="a pain score")
    acute_flare_up: Tri = Field(NOT_DOCUMENTED, title="an acute flare-up")
    new_injury: Tri = Field(NOT_DOCUMENTED, title="a new injury")
    red_flags: Tri = Field(NOT_DOCUMENTED, title="red flags")
    neurological_change: Tri = Field(NOT_DOCUMENTED, title="a change in neurological findings")
    radiculopathy_on_exam: Tri = Field(NOT_DOCUMENTED, title="radiculopathy on physical examination")
    imaging_corroborates_radiculopathy: Tri = Field(NOT_DOCUMENTED, title="imaging or electrodiagnostic studies that corroborate radiculopathy")
    conservative_care_unresponsive: Tri = Field(NOT_DOCUMENTED, title="an initial failure of conservative treatment")
    """Initially unresponsive to conservative treatment (exercise, physical methods, NSAIDs, muscle relaxants): ESI, CPMTG p. 46."""
    functional_baseline_and_goals: Tri = Field(NOT_DOCUMENTED, title="a functional baseline with measurable goals")
    functional_status: Name | ND = Field(NOT_DOCUMENTED, title="the functional status")
    work_status: Literal["full duty", "modified duty", "off work", "not documented"] = Field(NOT_DOCUMENTED, title="the work status")
    gi_risk_factors: Tri = Field(NOT_DOCUMENTED, title="gastrointestinal risk factors")
    aberrant_behaviour: Tri = Field(NOT_DOCUMENTED, title="aberrant drug-related behaviour")
    gi_bleed_history: Tri = Field(NOT_DOCUMENTED, title="a history of peptic ulcer, GI bleeding or perforation")
    """History of peptic ulcer, GI bleeding or perforation (an NSAID GI risk factor, CPMTG p. 68)."""
    pain_management_consult: Tri = Field(NOT_DOCUMENTED, title="a pain management consultation")
    """A pain management consultation for the opioid regimen (CPMTG p. 86, above 120 mg MED)."""
    opioid_risk_level: Literal["low", "moderate", "high", "not documented"] = Field(NOT_DOCUMENTED, title="the risk level for opioid misuse")
    """Risk of opioid misuse as stratified by the treating physician (ODG urine drug testing)."""
    active_therapy_concurrent: Tri = Field(NOT_DOCUMENTED, title="an active exercise or therapy program alongside the request")
    """An active exercise or therapy program (supervised or home) runs alongside the request (massage, TENS as adjuncts)."""
    reduced_weight_bearing_indicated: Tri = Field(NOT_DOCUMENTED, title="an indication for reduced weight bearing")
    """Reduced weight bearing is desirable (e.g. extreme obesity): the indication for aquatic therapy (CPMTG p. 22)."""
    homebound: Tri = Field(NOT_DOCUMENTED, title="whether the worker is homebound")
    """Confined to the home by the injury (home health services, CPMTG 2009 p. 51)."""
    therapy_plateau: Tri = Field(NOT_DOCUMENTED, title="a plateau of progress in prior therapy")
    """Progress in adequate physical or occupational therapy has plateaued (work conditioning, CPMTG p. 125)."""
    surgical_candidate: Tri = Field(NOT_DOCUMENTED, title="whether the worker is a candidate for surgery")
    """The worker is a candidate for surgery or other clearly warranted treatment (programs, CPMTG pp. 32, 125)."""
    return_to_work_goal: Tri = Field(NOT_DOCUMENTED, title="a return-to-work goal agreed with the employer")
    """A defined return-to-work goal agreed by employer and employee (work conditioning, CPMTG p. 125)."""
    job_physical_demand: Literal["sedentary", "light", "medium", "heavy", "very heavy", "not documented"] = Field(NOT_DOCUMENTED, title="the physical demand level of the job")
    """Physical demand level of the job the worker is to return to."""
    conservative_care_failed: Tri = Field(NOT_DOCUMENTED, title="the failure of previous methods of treating the chronic pain")
    """Previous methods of treating the chronic pain failed and no other option is likely to help (FRP, CPMTG p. 32)."""
    significant_functional_loss: Tri = Field(NOT_DOCUMENTED, title="a significant loss of the ability to function independently")
    """Significant loss of the ability to function independently from the chronic pain (FRP, CPMTG p. 32)."""
    motivated_to_change: Tri = Field(NOT_DOCUMENTED, title="motivation to change")
    """Motivation to change, including willingness to forgo secondary gains (FRP, CPMTG p. 32)."""
    negative_predictors_addressed: Tri = Field(NOT_DOCUMENTED, title="that negative predictors of success were addressed")
    """Negative predictors of success have been addressed (FRP, CPMTG p. 32)."""
    delayed_recovery_risk: Tri = Field(NOT_DOCUMENTED, title="screening for risk factors of delayed recovery")
    """Screening found risk factors for delayed recovery, such as fear-avoidance beliefs (CBT, CPMTG p. 23)."""
    cbt_program: Tri = Field(NOT_DOCUMENTED, title="a cognitive behavioural therapy program")
    """A cognitive behavioural therapy program is in place or requested with it (biofeedback, CPMTG p. 25)."""
    substance_abuse_history: Tri = Field(NOT_DOCUMENTED, title="a history of substance abuse")
    """A history of substance abuse (a selection criterion for interferential stimulation, ODG Pain)."""
    pain_limits_exercise: Tri = Field(NOT_DOCUMENTED, title="pain from a postoperative or acute condition that limits exercise or therapy")
    """Significant pain from a postoperative or acute condition limits the ability to perform exercise or physical therapy (interferential stimulation, ODG Pain)."""
    # Minnesota treatment parameters: the departures of Minn. R. 5221.6050, subp. 8 (items A to E).
    medical_complication: Tri = Field(NOT_DOCUMENTED, title="a documented medical complication")
    """A documented medical complication that prolongs recovery (Minn. R. 5221.6050, subp. 8.A)."""
    prior_treatment_below_standard: Tri = Field(NOT_DOCUMENTED, title="previous treatment below the accepted standard of practice")
    """Previous treatment did not meet the accepted standard of practice (Minn. R. 5221.6050, subp. 8.B)."""
    initial_return_to_work: Tri = Field(NOT_DOCUMENTED, title="whether the treatment assists the worker's initial return to work")
    """The treatment is needed to assist the initial return to work (Minn. R. 5221.6050, subp. 8.C)."""
    progressive_improvement: Tri = Field(NOT_DOCUMENTED, title="progressive improvement in two of the subjective complaints, objective findings and functional status")
    """Progressive improvement documented in at least two of: subjective complaints (decreased distribution, frequency or intensity of symptoms), objective clinical findings, functional status (Minn. R. 5221.6050, subp. 8.D)."""
    incapacitating_exacerbation: Tri = Field(NOT_DOCUMENTED, title="an incapacitating exacerbation")
    """An incapacitating exacerbation of the condition (Minn. R. 5221.6050, subp. 8.E)."""


class Medication(Closed):
    """A medication the worker takes or has tried (not a requested item)."""

    name: Name
    drug: Key | None = None
    """Vocabulary key of the drug (guideline_rules/vocabulary/drugs.yaml); defaults to `name`."""
    dose: Name | ND = NOT_DOCUMENTED
    since: MaybeDate = NOT_DOCUMENTED
    status: Literal["current", "past"] = "current"
    outcome: Literal["effective", "failed", "not tolerated", "not documented"] = NOT_DOCUMENTED
    functional_improvement: Tri = NOT_DOCUMENTED
    """Functional improvement attributable to this medication, documented at visits."""
    daily_dose_mg: Union[Annotated[float, Field(gt=0, le=10_000)], ND] = NOT_DOCUMENTED
    pain_relief_percent: Union[Annotated[int, Field(ge=0, le=100)], ND] = NOT_DOCUMENTED
    """Pain reduction attributed to this medication (analgesia; AED response of 30 % or more)."""
    adverse_effects: Tri = NOT_DOCUMENTED
    """Side effects assessed: true when present, false when documented absent (the third of the 4 A's)."""

    _dates = field_validator("since")(_check_date)


ProcedureCode = Annotated[str, Field(pattern=r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")]
"""A CPT (97110, 0232T) or HCPCS Level II (E0720) code, used as an identifier only."""


def _one_of(model, key: str, code: str):
    """An item names its vocabulary key, or a code the crosswalks map to one (or both, if they agree)."""
    if getattr(model, key) is None and getattr(model, code) is None:
        raise ValueError(f"give `{key}:` (a vocabulary key) or `{code}:` (a code vocabulary/crosswalks.yaml maps to one)")
    return model


class Ingredient(Closed):
    drug: Key | None = None
    """A key of vocabulary/drugs.yaml; may be left out when `rxnorm` names the ingredient."""
    rxnorm: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$")] | None = Field(None, title="the RxNorm ingredient identifier (RxCUI)")
    """An RxNorm ingredient concept (RxCUI), mapped to the drug key by vocabulary/crosswalks.yaml."""
    strength: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*(%|mg|mcg|g)$")] | None = None

    _named = model_validator(mode="after")(lambda self: _one_of(self, "drug", "rxnorm"))


class TherapyItem(Closed):
    type: Literal["therapy"]
    id: ItemId
    description: Name
    service: Key | None = None
    """A key of vocabulary/services.yaml; may be left out when `code` names the service."""
    code: ProcedureCode | None = Field(None, title="the CPT or HCPCS code of the request")
    """The request's CPT or HCPCS code, mapped to the service key by vocabulary/crosswalks.yaml."""
    region: Region
    frequency_per_week: Annotated[int, Field(ge=1, le=14)] | None = Field(None, title="the requested visits per week")
    duration_weeks: Annotated[int, Field(ge=1, le=104)] | None = Field(None, title="the requested duration in weeks")
    visits: Annotated[int, Field(ge=1, le=1000)] | None = None
    hours: Annotated[int, Field(ge=1, le=2000)] | None = Field(None, title="the requested program hours")
    """For a program (chronic pain program, work hardening): the hours requested ("80 hours"), beside its sessions."""
    maintenance_care: Tri = Field(NOT_DOCUMENTED, title="whether the care is elective or maintenance care")
    """Requested as elective / maintenance care after the therapeutic goal is reached (CPMTG p. 59)."""
    employer_authorized_visits: Tri = Field(NOT_DOCUMENTED, title="the employer's authorization of visits beyond the Labor Code 4604.5(c)(1) cap")
    """True when the employer (or its claims administrator) has authorized, in writing, visits beyond the 24 of Labor Code 4604.5(c)(1)."""
    modality: Literal["passive", "active", "not documented"] = Field(NOT_DOCUMENTED, title="whether the requested care is a passive or an active treatment modality")
    """Passive (adjustment, manipulation, physical agents, manual therapy, massage) or active (exercise, requiring the patient's participation): Minn. R. 5221.6040."""
    passive_care_weeks: Union[Annotated[int, Field(ge=0, le=2080)], ND] = Field(NOT_DOCUMENTED, title="the calendar weeks since passive treatment of this condition began")
    """Calendar weeks from the first passive modality in a clinical setting to the start of the care requested (for care already given and disputed, the start of the disputed period): Minn. R. 5221.6200, subp. 3, 12 calendar weeks."""
    passive_visits_after_12_weeks: Count = Field(NOT_DOCUMENTED, title="the passive treatment visits already given after the first 12 weeks")
    """Visits of passive care already given after the first 12 calendar weeks (the additional 12 visits of Minn. R. 5221.6200, subp. 3)."""

    _named = model_validator(mode="after")(lambda self: _one_of(self, "service", "code"))

    @model_validator(mode="after")
    def _visits(self):
        if self.visits is None and (self.frequency_per_week is None or self.duration_weeks is None):
            raise ValueError("give visits, or frequency_per_week and duration_weeks")
        if self.visits is not None and self.frequency_per_week and self.duration_weeks:
            if self.visits != self.frequency_per_week * self.duration_weeks:
                raise ValueError(
                    f"visits {self.visits} != frequency_per_week x duration_weeks "
                    f"({self.frequency_per_week} x {self.duration_weeks})"
                )
        return self

    @property
    def visits_requested(self) -> int:
        return self.visits if self.visits is not None else self.frequency_per_week * self.duration_weeks


class MedicationItem(Closed):
    type: Literal["medication"]
    id: ItemId
    description: Name
    form: Form
    compounded: bool = False
    ingredients: Annotated[list[Ingredient], Field(min_length=1, max_length=30)]
    region: Region = "multiple"
    quantity: Name | None = None
    refills: Annotated[int, Field(ge=0, le=99)] = Field(0, title="the number of refills")
    duration_weeks: Annotated[int, Field(ge=1, le=520)] | None = Field(None, title="the requested duration in weeks")
    daily_dose_mg: Annotated[float, Field(gt=0, le=10_000)] | None = Field(None, title="the daily dose")
    """Total daily dose of the first ingredient (for opioids: the basis of the morphine equivalent)."""
    compound_necessity_documented: Tri = Field(NOT_DOCUMENTED, title="the patient-specific need for a compounded drug")
    """For a compounded drug: true when the chart documents patient-specific factors that make it necessary instead of an FDA-approved or OTC drug, false when the record shows such a drug meets the need (8 CCR 9792.27.9(a))."""
    # the MTUS Drug Formulary (8 CCR 9792.27.1-9792.27.23): what decides whether prospective review is needed
    brand_or_generic: Literal["brand", "generic", "not documented"] = Field(NOT_DOCUMENTED, title="whether the drug is a brand-name or a generic drug")
    generic_available: Tri = Field(NOT_DOCUMENTED, title="whether a less costly therapeutically equivalent generic drug exists")
    """For a brand-name drug: false for a single-source brand (no generic), true when a generic exists (9792.27.7)."""
    brand_necessity_documented: Tri = Field(NOT_DOCUMENTED, title="the physician's documented, patient-specific reason for the brand-name drug")
    """The chart and the Doctor's First Report or PR-2 document why the brand-name drug is medically necessary (9792.27.7, 9792.27.12(b)(3)(B))."""
    prescribed_on: MaybeDate = Field(NOT_DOCUMENTED, title="the date of the prescribing visit")
    initial_visit: Tri = Field(NOT_DOCUMENTED, title="whether the drug is prescribed at the single initial treatment visit after the injury")
    surgery_date: MaybeDate = Field(NOT_DOCUMENTED, title="the date of the surgery the drug is prescribed for")
    """For a Perioperative Fill (9792.27.13): the surgery, which may be after the request."""
    days_supply: Union[Annotated[int, Field(ge=1, le=365)], ND] = Field(NOT_DOCUMENTED, title="the days of supply prescribed")
    dispensed_by: Literal["physician", "pharmacy", "not documented"] = Field(NOT_DOCUMENTED, title="who dispenses the drug")

    _formulary_dates = field_validator("prescribed_on", "surgery_date")(_check_date)

    @model_validator(mode="after")
    def _compound(self):
        if self.compounded and len(self.ingredients) < 2:
            raise ValueError("a compounded medication lists at least two ingredients")
        return self


class ProcedureItem(Closed):
    """An injection, a device, a test or a service at home (epidural steroid injection, TENS unit,
    lumbar support, home health services)."""

    type: Literal["procedure"]
    id: ItemId
    description: Name
    service: Key | None = None
    """A key of vocabulary/services.yaml; may be left out when `code` names the service."""
    code: ProcedureCode | None = Field(None, title="the CPT or HCPCS code of the request")
    """The request's CPT or HCPCS code, mapped to the service key by vocabulary/crosswalks.yaml."""
    region: Region
    quantity: Annotated[int, Field(ge=1, le=100)] = 1
    levels: Annotated[int, Field(ge=1, le=10)] | None = Field(None, title="the number of levels")
    acquisition: Literal["rental", "purchase", "not documented"] = Field(NOT_DOCUMENTED, title="whether the device is rented or purchased")
    """For a device: rented (a trial) or purchased (TENS, CPMTG p. 116)."""
    duration_weeks: Annotated[int, Field(ge=1, le=520)] | None = Field(None, title="the requested duration in weeks")
    """For a device rental: the length of the rental."""
    approach: Literal["transforaminal", "interlaminar", "caudal", "not documented"] = Field(NOT_DOCUMENTED, title="the injection approach")
    """For an epidural steroid injection: the route (level limits differ, CPMTG p. 46)."""
    fluoroscopy: Tri = Field(NOT_DOCUMENTED, title="fluoroscopic guidance")
    """For an injection: performed under fluoroscopic guidance."""
    hours_per_week: Annotated[int, Field(ge=1, le=168)] | None = Field(None, title="the requested hours per week")
    """For home health services: the hours of care a week requested (8 hours a day, 5 days a week: 40)."""
    care: Literal["medical", "homemaker_personal_care_only", "not documented"] = Field(NOT_DOCUMENTED, title="the kind of care requested")
    """For home health services: `medical` when the care includes medical treatment (nursing, wound care,
    therapy, medication administration); `homemaker_personal_care_only` when it is only homemaker
    services (shopping, cleaning, laundry, meals) and personal care (bathing, dressing, toileting)."""

    _named = model_validator(mode="after")(lambda self: _one_of(self, "service", "code"))


RequestedItem = Annotated[Union[TherapyItem, MedicationItem, ProcedureItem], Field(discriminator="type")]

RuleRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,99}(\[[a-z][a-z0-9_]{0,63}\])?$")]
"""A rule id of the rule base (a table row's rule: `pstg.general-course[lumbar_fusion]`)."""


class ItemExpectation(Closed):
    """The long form of an item's expectation: the decision, and the rules it must (not) rest on."""

    decision: Decision
    reason: Reason | None = None
    """The decision's reason code, where the case pins it (a "No rule applies" says why)."""
    governing: Annotated[list[RuleRef], Field(max_length=200)] = []
    """Each must be among the rules the decision rests on: the governing tier's deciding rules whose
    outcome matches the decision (met for Overturned; not met or not documented for Upheld)."""
    not_fired: Annotated[list[RuleRef], Field(max_length=200)] = []
    """Each must not fire for this item at all (no outcome of any tier)."""
    prospective_review: Literal["needed", "not_needed", "not_documented"] | None = None
    """The MTUS Drug Formulary answer the item must get (needed, not_needed, not_documented)."""
    review_rules: Annotated[list[RuleRef], Field(max_length=200)] = []
    """Each must be among the rules behind the prospective-review answer."""

    @model_validator(mode="after")
    def _disjoint(self):
        both = [r for r in self.governing if r in self.not_fired]
        if both:
            raise ValueError(f"{BOTH_LISTS}: {', '.join(both)}")
        return self


BOTH_LISTS = "rule named in both governing and not_fired"


def _expectation_form(value) -> str:
    return "ItemExpectation" if isinstance(value, (dict, ItemExpectation)) else "Decision"


Expectation = Annotated[
    Union[Annotated[Decision, Tag("Decision")], Annotated[ItemExpectation, Tag("ItemExpectation")]],
    Discriminator(_expectation_form, custom_error_type="expectation",
                  custom_error_message="an expectation is a decision, or a mapping with decision, governing, not_fired"),
]
"""`item: Upheld`, or `item: {decision: Upheld, governing: [...], not_fired: [...]}`."""


class Case(Closed):
    case_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    jurisdiction: Jurisdiction = "CA"
    request_date: dt.date
    summary: str | None = None
    injured_worker: InjuredWorker = InjuredWorker()
    diagnoses: Annotated[list[Diagnosis], Field(max_length=50)] = []
    body_regions: list[Region] = []
    surgeries: Annotated[list[Surgery], Field(max_length=50)] = []
    treatment_history: Annotated[list[TreatmentHistory], Field(max_length=200)] = []
    clinical_findings: ClinicalFindings = ClinicalFindings()
    medications: Annotated[list[Medication], Field(max_length=100)] = []
    requested_items: Annotated[list[RequestedItem], Field(min_length=1, max_length=100)]
    expected: dict[str, Expectation] | None = None
    """Expected decisions by item id, each a decision or the long form naming the rules it rests
    on (ItemExpectation): for regression tests only; the engine never reads it."""
    source: Source | None = None
    """The published decision the case was written from, with the real outcome per item: `imr test`
    reports agreement with it (engine.tools.agreement); the engine never reads it."""

    _dates = field_validator("request_date")(_check_date)

    @field_validator("request_date")
    @classmethod
    def _not_future(cls, value: dt.date) -> dt.date:
        """A request is decided after it is made: one dated after today is a typo (2099 for 2019),
        and deciding it would apply whatever edition happens to be open-ended."""
        today = dt.date.today()
        if value > today:
            raise ValueError(f"{value} is after today ({today}): a request cannot be dated in the future")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        ids = [item.id for item in self.requested_items]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"requested item ids repeat: {', '.join(dupes)}")
        doi = self.injured_worker.date_of_injury
        if isinstance(doi, dt.date) and doi > self.request_date:
            raise ValueError(f"date_of_injury {doi} is after request_date {self.request_date}")
        for s in self.surgeries:
            if isinstance(s.date, dt.date) and s.date > self.request_date:
                raise ValueError(f"surgery {s.procedure} date {s.date} is after request_date {self.request_date}")
        if self.expected:
            unknown = sorted(set(self.expected) - set(ids))
            if unknown:
                raise ValueError(f"expected names items that are not requested: {', '.join(unknown)}")
        if self.source:
            unknown = sorted(set(self.source.items) - set(ids))
            if unknown:
                raise ValueError(f"source.items names items that are not requested: {', '.join(unknown)}")
        return self

    def expectations(self) -> dict[str, ItemExpectation]:
        """Every item's expectation in the long form (a short `item: Upheld` has no rule lists)."""
        return {k: v if isinstance(v, ItemExpectation) else ItemExpectation(decision=v) for k, v in (self.expected or {}).items()}

    def expected_decisions(self) -> dict[str, str]:
        return {k: e.decision for k, e in self.expectations().items()}


def slug(text: str) -> str:
    """Vocabulary key for a drug or service name: 'Sodium Hyaluronate' -> 'sodium_hyaluronate'."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
