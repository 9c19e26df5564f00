"""Load step for the vocabulary files (guideline_rules/vocabulary/*.yaml): schema, ICD-10-CM
prefixes (grouped and deliberately ungrouped) that really exist, each prefix in one of the two
lists, and cross-references between the files, every problem reported."""

from __future__ import annotations

import hashlib
from pathlib import Path


from engine.load.files import read_bounded
from engine.load.positions import load_model
from engine.load.yaml_source import MAX_BYTES, load_file
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.icd10 import normalise_icd10
from engine.model.vocabulary import Crosswalks, Diagnoses, DrugListVersion, Drugs, Procedures, Services, Vocabulary

_FILES = {"diagnoses": Diagnoses, "drugs": Drugs, "services": Services, "procedures": Procedures, "crosswalks": Crosswalks}
OPTIONAL = {"crosswalks"}
"""Files a vocabulary folder may lack (a folder without crosswalks maps no request codes)."""
_CHECKED: dict[tuple[str, bytes], object] = {}
"""Vocabulary files already read and checked clean, by name and SHA-256 of their text (the models are
frozen): diagnoses.yaml places the whole ICD-10-CM code set by prefix and takes a few tenths of a
second to read, so an engine built again (a copied rules folder, a test) does not read it again."""


def load_vocabulary(folder: str | Path) -> Vocabulary:
    """Load and check the four vocabulary files; every problem is reported, then InputError."""
    folder = Path(folder)
    problems: list[Diagnostic] = []
    parts: dict = {}
    for name, model in _FILES.items():
        path = folder / f"{name}.yaml"
        if name in OPTIONAL and not path.exists():
            continue
        try:
            key = (name, hashlib.sha256(read_bounded(path, MAX_BYTES, "Y000", "Y001")).digest())
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        if key in _CHECKED:  # the same text, already read and checked clean in this process
            parts[name] = _CHECKED[key]
            continue
        parts[name], source = load_model(path, model, "V001", problems)
        if parts[name] is None:
            del parts[name]
            continue
        found = _check_diagnoses(parts[name], source) if name == "diagnoses" else []
        problems.extend(found)
        if not found:
            _CHECKED[key] = parts[name]
    parts["drug_lists"] = tuple(_drug_lists(folder, problems))
    if problems:
        raise InputError(problems)
    vocab = Vocabulary(**parts)
    problems.extend(_cross_check(vocab, folder))
    if problems:
        raise InputError(problems)
    return vocab


def _check_diagnoses(diagnoses: Diagnoses, source) -> list[Diagnostic]:
    problems = []
    for prefix, entry in diagnoses.prefixes.items():
        try:
            normalise_icd10(prefix)
        except ValueError as exc:
            problems.append(source.diagnostic(("prefixes", prefix), "V002", str(exc)))
        for group in entry.groups:
            if group not in diagnoses.groups:
                problems.append(source.diagnostic(("prefixes", prefix), "V003", f"unknown diagnosis group '{group}'"))
    for prefix, reason in diagnoses.ungrouped.items():
        try:
            normalise_icd10(prefix)
        except ValueError as exc:
            problems.append(source.diagnostic(("ungrouped", prefix), "V002", str(exc)))
        if reason not in diagnoses.reasons:
            known = ", ".join(sorted(diagnoses.reasons)) or "none defined"
            problems.append(source.diagnostic(("ungrouped", prefix), "V003", f"unknown ungrouped reason '{reason}' (reasons: {known})"))
        if prefix in diagnoses.prefixes:
            line = source.loc(("prefixes", prefix))[0]
            problems.append(source.diagnostic(("ungrouped", prefix), "V004", f"prefix '{prefix}' is both grouped (line {line}) and ungrouped: keep one"))
    return problems


def _cross_check(vocab: Vocabulary, folder: Path) -> list[Diagnostic]:
    problems = []
    path = str(folder / "drugs.yaml")
    for key, drug in vocab.drugs.drugs.items():
        if drug.class_ not in vocab.drugs.classes:
            problems.append(Diagnostic(path, 1, 1, "V003", f"drug '{key}' has unknown class '{drug.class_}'"))
    problems.extend(_check_crosswalks(vocab, folder))
    for cls in vocab.services.medication_topics.classes:
        if cls not in vocab.drugs.classes:
            problems.append(Diagnostic(str(folder / "services.yaml"), 1, 1, "V003", f"medication_topics names unknown drug class '{cls}'"))
    return problems


DRUG_LIST_FILES = "mtus-drug-list-*.yaml"
"""One file per MTUS Drug List version (`imr formulary import` writes them)."""


def _drug_lists(folder: Path, problems: list[Diagnostic]) -> list[DrugListVersion]:
    """The MTUS Drug List versions, by effective date; two whose dates overlap are an error (V006)."""
    versions = []
    for path in sorted(folder.glob(DRUG_LIST_FILES)):
        version, source = load_model(path, DrugListVersion, "V001", problems)
        if version is not None:
            versions.append((version, path))
    versions.sort(key=lambda v: v[0].effective_from)
    for (a, a_path), (b, b_path) in zip(versions, versions[1:]):
        if a.effective_to is None or a.effective_to >= b.effective_from:
            problems.append(Diagnostic(str(b_path), 1, 1, "V006", f"MTUS Drug List {b.version} takes effect {b.effective_from}, "
                                       f"while {a.version} ({a_path.name}) is still in effect: give {a.version} an effective_to before it"))
    return [v for v, _ in versions]


def _check_crosswalks(vocab: Vocabulary, folder: Path) -> list[Diagnostic]:
    """Every crosswalk names keys the vocabulary has, and sources the file defines."""
    walks = vocab.crosswalks
    if not walks.procedure_codes and not walks.rxnorm_ingredients:
        return []
    path = folder / "crosswalks.yaml"
    problems = []
    source = None

    def at(where, message):
        nonlocal source
        source = source or load_file(path)
        problems.append(source.diagnostic(where, "V003", message))

    for code, entry in walks.procedure_codes.items():
        for key in entry.services:
            if key not in vocab.services.services:
                at(("procedure_codes", code), f"code {code} names unknown service '{key}'")
        if entry.source not in walks.sources:
            at(("procedure_codes", code), f"code {code} names unknown source '{entry.source}'")
    for rxcui, entry in walks.rxnorm_ingredients.items():
        if entry.drug not in vocab.drugs.drugs:
            at(("rxnorm_ingredients", rxcui), f"RxNorm {rxcui} names unknown drug '{entry.drug}'")
        if entry.source not in walks.sources:
            at(("rxnorm_ingredients", rxcui), f"RxNorm {rxcui} names unknown source '{entry.source}'")
    return problems
