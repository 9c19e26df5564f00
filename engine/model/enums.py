"""The closed lists of the domain, one copy each: every model, check and fact schema reads them
from here, so adding a region or a form is one edit."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

NOT_DOCUMENTED = "not documented"
"""The value of a fact the record is silent about (never false: unknown is not false)."""
ND = Literal["not documented"]

Region = Literal["cervical", "thoracic", "lumbar", "shoulder", "elbow", "wrist_hand", "hip", "knee", "ankle_foot", "multiple", "other"]
ItemType = Literal["therapy", "medication", "procedure"]
Form = Literal["oral", "topical", "patch", "injection"]
Decision = Literal["Upheld", "Overturned", "No rule applies", "Not covered"]
Reason = Literal["met", "not_met", "not_documented", "no_finding", "no_edition", "edition_not_encoded", "topic_not_encoded", "not_addressed"]
"""Why an item got its decision (JSON `reason_code`): of Overturned, met; of Upheld, not_met or
not_documented; of "No rule applies", no_finding (addressed, no criterion concluded),
edition_not_encoded (the edition in force is not encoded for the topic), topic_not_encoded (no pack
of the jurisdiction for the topic), not_addressed (no pack in force addresses the item); of "Not
covered", no_edition (outside the jurisdiction's guideline history)."""
Jurisdiction = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
"""A jurisdiction's two-letter code. Open, not a closed list: a jurisdiction is whatever a profile
(guideline_rules/profiles/) declares, so adding one is data (a profile and its packs), and the
values a rule condition may compare `request.jurisdiction` with are the loaded profiles' codes."""
Guideline = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9 -]{1,23}$")]
"""A guideline family as profiles rank it and packs name it ("MTUS", "ODG", "MN-TP"), or a statute
whose rules bind whichever guideline governs ("Labor Code", a pack of `role: statute`): open for the
same reason; a pack no profile ranks or binds can never govern (R011)."""
Status = Literal["met", "not_met", "not_documented"]
"""A criterion's outcome for one item."""
Topic = Literal["physical_medicine", "manual_therapy", "acupuncture", "restoration_programs", "behavioral", "injections", "devices",
                "drug_testing", "topical_analgesics", "opioids", "muscle_relaxants", "nsaids", "antiepileptics", "antidepressants",
                "home_health"]
"""The rulesets a requested item is routed to (vocabulary/services.yaml: a service's topic, a medication's
form or drug class); a rule pack names one of them, or `any` (ANY_TOPIC) for every topic. Closed: a pack
whose topic no item is routed to would never be reached, so a misspelt topic is a schema error."""
ANY_TOPIC = "any"
Role = Literal["guideline", "statute", "report"]
"""What a pack's findings do. `guideline`: a tier of the search sequence decides with them. `statute`:
a law that binds whichever tier governs (the Labor Code 4604.5 visit cap): its findings join the
governing tier's. `report`: they decide nothing and answer a question beside the decision (does
the drug need prospective review under the MTUS Drug Formulary?)."""
ReportKind = Literal["prospective_review"]
"""The questions a `report` pack answers (JSON: one field per kind on each item)."""
ReportStatus = Literal["needed", "not_needed", "not_documented"]
"""A report's answer: a not-met finding says it is needed; all met, not needed; else not documented."""
"""A pack topic that compiles into every topic's ruleset."""
PmGroup = Literal["myalgia_myositis", "neuritis_radiculitis", "crps"]
"""The CPMTG physical-medicine diagnosis groups (visit allowances, pp. 98-99)."""

REGIONS: tuple[str, ...] = get_args(Region)
ITEM_TYPES: tuple[str, ...] = get_args(ItemType)
FORMS: tuple[str, ...] = get_args(Form)
DECISIONS: tuple[str, ...] = get_args(Decision)
STATUSES: tuple[str, ...] = get_args(Status)
TOPICS: tuple[str, ...] = get_args(Topic)
PM_GROUPS: tuple[str, ...] = get_args(PmGroup)


def choices(annotation) -> tuple:
    """The values of a Literal (or of the Literals inside a Union), 'not documented' left out."""
    import typing

    origin = typing.get_origin(annotation)
    if origin is Literal:
        return tuple(v for v in get_args(annotation) if v != NOT_DOCUMENTED)
    if origin is not None:
        out: tuple = ()
        for arg in get_args(annotation):
            out += choices(arg)
        return out
    return ()
