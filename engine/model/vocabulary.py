"""The vocabulary beside the rules: diagnosis groups by ICD-10 prefix, drugs, services, procedures.

These are data files in guideline_rules/vocabulary/ (loaded by engine/load/vocabulary.py), so an
analyst can add a drug or map a diagnosis code without touching the engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.model.enums import ItemType, PmGroup, Region


Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


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


class MedicationTopics(Closed):
    forms: dict[Key, Key]
    classes: dict[Key, Key]


class Services(Closed):
    services: dict[Key, Service]
    medication_topics: MedicationTopics


class Procedure(Closed):
    region: Region
    title: str


class Procedures(Closed):
    procedures: dict[Key, Procedure]


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
