"""The vocabulary beside the rules: diagnosis groups by ICD-10 prefix, drugs, services, procedures.

These are data files in guideline_rules/vocabulary/, loaded and validated like rule packs, so an
analyst can add a drug or map a diagnosis code without touching the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.model.diagnostics import Diagnostic, InputError
from engine.load.positions import validation_diagnostics
from engine.load.yaml_source import load_file

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Region = Literal["cervical", "thoracic", "lumbar", "shoulder", "elbow", "wrist_hand", "hip", "knee", "ankle_foot", "multiple", "other"]
PmGroup = Literal["myalgia_myositis", "neuritis_radiculitis", "crps"]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DxPrefix(Closed):
    region: Region
    groups: list[Key]
    pm_group: PmGroup | None = None


class Diagnoses(Closed):
    groups: dict[Key, str]
    prefixes: dict[Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")], DxPrefix]


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
    type: Literal["therapy", "procedure", "medication"]
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


class Vocabulary(Closed):
    diagnoses: Diagnoses
    drugs: Drugs
    services: Services
    procedures: Procedures

    def dx_entry(self, code: str) -> DxPrefix | None:
        """The entry of the longest prefix of an ICD-10 code (dotted form), if any."""
        for end in range(len(code), 2, -1):
            entry = self.diagnoses.prefixes.get(code[:end].rstrip("."))
            if entry is not None:
                return entry
        return None


_FILES = {"diagnoses": Diagnoses, "drugs": Drugs, "services": Services, "procedures": Procedures}


def load_vocabulary(folder: str | Path) -> Vocabulary:
    """Load and check the four vocabulary files; every problem is reported, then InputError."""
    folder = Path(folder)
    problems: list[Diagnostic] = []
    parts: dict = {}
    for name, model in _FILES.items():
        path = folder / f"{name}.yaml"
        try:
            source = load_file(path)
            parts[name] = model.model_validate(source.data)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        except ValidationError as exc:
            problems.extend(validation_diagnostics(exc, source, "V001"))
            continue
        if name == "diagnoses":
            problems.extend(_check_diagnoses(parts[name], source))
    if problems:
        raise InputError(problems)
    vocab = Vocabulary(**parts)
    problems.extend(_cross_check(vocab, folder))
    if problems:
        raise InputError(problems)
    return vocab


def _check_diagnoses(diagnoses: Diagnoses, source) -> list[Diagnostic]:
    from engine.model.icd10 import normalise_icd10

    problems = []
    for prefix, entry in diagnoses.prefixes.items():
        try:
            normalise_icd10(prefix)
        except ValueError as exc:
            problems.append(source.diagnostic(("prefixes", prefix), "V002", str(exc)))
        for group in entry.groups:
            if group not in diagnoses.groups:
                problems.append(source.diagnostic(("prefixes", prefix), "V003", f"unknown diagnosis group '{group}'"))
    return problems


def _cross_check(vocab: Vocabulary, folder: Path) -> list[Diagnostic]:
    problems = []
    path = str(folder / "drugs.yaml")
    for key, drug in vocab.drugs.drugs.items():
        if drug.class_ not in vocab.drugs.classes:
            problems.append(Diagnostic(path, 1, 1, "V003", f"drug '{key}' has unknown class '{drug.class_}'"))
    for cls in vocab.services.medication_topics.classes:
        if cls not in vocab.drugs.classes:
            problems.append(Diagnostic(str(folder / "services.yaml"), 1, 1, "V003", f"medication_topics names unknown drug class '{cls}'"))
    return problems
