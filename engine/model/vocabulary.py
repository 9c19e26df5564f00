"""The vocabulary beside the rules: diagnosis groups by ICD-10 prefix, drugs, services, procedures.

These are data files in guideline_rules/vocabulary/ (loaded by engine/load/vocabulary.py), so an
analyst can add a drug or map a diagnosis code without touching the engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.model.enums import ItemType, PmGroup, Region


Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
PackId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{2,99}$")]
"""A rule pack's id (rules.Pack.pack)."""


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DxPrefix(Closed):
    region: Region
    groups: list[Key]
    pm_group: PmGroup | None = None


DxCode = Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")]
"""An ICD-10-CM code, category or subcategory in dotted form (checked against the code set on load)."""


class Diagnoses(Closed):
    groups: dict[Key, str]
    prefixes: dict[DxCode, DxPrefix]
    reasons: dict[Key, Annotated[str, Field(min_length=10, max_length=400)]] = {}
    """Why a code is deliberately in no group; each `ungrouped` prefix names one of these."""
    ungrouped: dict[DxCode, Key] = {}
    """Prefixes deliberately in no group of any topic (no region either), with the key of their reason.
    The longest prefix of `prefixes` and `ungrouped` together wins; one prefix in both is an error."""


class Drug(Closed):
    class_: Key = Field(alias="class")
    subclass: Key | None = None
    mme_factor: Annotated[float, Field(gt=0, le=100)] | None = None
    # absorbed for a systemic effect whatever its form: a fentanyl patch is routed by its class
    # (opioids), not by its form (topical analgesics)
    systemic: bool = False
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class Drugs(Closed):
    classes: dict[Key, str]
    drugs: dict[Key, Drug]


class Service(Closed):
    type: ItemType
    topic: Key
    title: str
    aliases: list[Annotated[str, Field(min_length=2, max_length=80)]] = []
    """Other names a determination letter gives the service ("chronic pain management program"):
    `imr ingest` reads a request by its key, its title and these."""


class MedicationTopics(Closed):
    forms: dict[Key, Key]
    classes: dict[Key, Key]


class Services(Closed):
    services: dict[Key, Service]
    medication_topics: MedicationTopics


class Procedure(Closed):
    region: Region
    title: str
    postsurgical: list[PackId] = []
    """The packs whose postsurgical table has a row for this surgery (`procedure:`); the rule base
    checks the link both ways (R015), so a surgery's courses can be looked up from either side."""


class Procedures(Closed):
    procedures: dict[Key, Procedure]


Days = Annotated[int, Field(ge=1, le=365)]
Note = Annotated[str, Field(min_length=1, max_length=2000)]


class DrugListEntry(Closed):
    """One ingredient of the MTUS Drug List (8 CCR 9792.27.15) in one version, with its source."""

    drug: Key
    """The vocabulary key a requested item's ingredient names (`tramadol`)."""
    ingredient: Note
    """As the list prints it ("Tramadol HCl")."""
    drug_class: Note
    status: Literal["exempt", "non_exempt"]
    special_fill_days: Days | None = None
    """The Special Fill supply limit in days (9792.27.12); None: not a Special Fill drug."""
    perioperative_fill_days: Days | None = None
    """The Perioperative Fill supply limit in days (9792.27.13); None: not a Perioperative Fill drug."""
    reference: Note | None = None
    """"Reference in ACOEM Guidelines": the guideline topics that discuss the drug."""
    source: Note
    """Where this entry's status and limits were read (the published list, a decision quoting it)."""
    unverified: Note | None = None
    """Set when the status or a limit is not yet checked against the published list: says what to check."""


class DrugListVersion(Closed):
    """One version of the MTUS Drug List, revised by order of the Administrative Director
    (8 CCR 9792.27.23(d)): its effective dates, and the entries this rule base holds."""

    schema_: str | None = Field(default=None, alias="$schema")
    version: Annotated[str, Field(min_length=1, max_length=20)]
    effective_from: dt.date
    effective_to: dt.date | None = None
    source: Note
    """Where the version and its effective date are stated."""
    complete: bool = False
    """True when every entry of the published version is here (an import of the whole list): then a
    drug not here is Unlisted. False (a partial list): a drug not here has no status in this data."""
    entries: Annotated[list[DrugListEntry], Field(max_length=5000)] = []
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self):
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"effective_to {self.effective_to} is before effective_from {self.effective_from}")
        drugs = [e.drug for e in self.entries]
        dupes = sorted({d for d in drugs if drugs.count(d) > 1})
        if dupes:
            raise ValueError(f"drugs listed twice: {', '.join(dupes)}")
        return self

    def covers(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def entry(self, drug: str) -> DrugListEntry | None:
        return next((e for e in self.entries if e.drug == drug), None)


SourceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]


class CodeEntry(Closed):
    """One CPT or HCPCS code used as an identifier: the service keys it may stand for (the first when
    an item gives no key), where the code is published, and the days it is valid (from, until)."""

    services: Annotated[list[Key], Field(min_length=1)]
    source: SourceKey
    from_: dt.date | None = Field(None, alias="from")
    until: dt.date | None = None
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class IngredientEntry(Closed):
    drug: Key
    source: SourceKey


class Crosswalks(Closed):
    """Codes a request carries, mapped to the vocabulary's keys (vocabulary/crosswalks.yaml)."""

    sources: dict[SourceKey, Annotated[str, Field(min_length=10, max_length=400)]]
    procedure_codes: dict[Annotated[str, Field(pattern=r"^([0-9]{4}[0-9FTU]|[A-V][0-9]{4})$")], CodeEntry] = {}
    rxnorm_ingredients: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$")], IngredientEntry] = {}


class Vocabulary(Closed):
    diagnoses: Diagnoses
    drugs: Drugs
    services: Services
    procedures: Procedures
    drug_lists: tuple[DrugListVersion, ...] = ()
    """The MTUS Drug List versions (vocabulary/mtus-drug-list-*.yaml), in order of effective date."""

    def drug_list_on(self, day: dt.date) -> DrugListVersion | None:
        """The MTUS Drug List version in effect on `day` (the request date), if this data holds one."""
        return next((v for v in self.drug_lists if v.covers(day)), None)
    crosswalks: Crosswalks = Crosswalks(sources={})
    """Optional: a rules folder without vocabulary/crosswalks.yaml maps no codes."""

    def dx_lookup(self, code: str) -> tuple[str, DxPrefix | str] | None:
        """The longest prefix of an ICD-10 code (dotted form) in `prefixes` or `ungrouped`, with its
        entry, or with the text of its reason when it is deliberately ungrouped; None when neither
        knows the code."""
        dx = self.diagnoses
        for end in range(len(code), 2, -1):
            prefix = code[:end].rstrip(".")
            entry = dx.prefixes.get(prefix)
            if entry is not None:
                return prefix, entry
            reason = dx.ungrouped.get(prefix)
            if reason is not None:
                return prefix, dx.reasons.get(reason, reason)
        return None

    def dx_entry(self, code: str) -> DxPrefix | None:
        """The entry of the longest prefix of an ICD-10 code (dotted form): None when no prefix
        places it or the longest one is deliberately ungrouped."""
        found = self.dx_lookup(code)
        return found[1] if found and isinstance(found[1], DxPrefix) else None
