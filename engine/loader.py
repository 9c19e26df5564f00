"""Load step: read rule packs, jurisdiction profiles and the vocabulary from a rules folder.

Layout of a rules folder (guideline_rules/ by default):
    packs/*.yaml        one guideline document (or topic of it) in one edition
    profiles/*.yaml     a jurisdiction's search sequence (which guideline governs, in what order)
    vocabulary/*.yaml   diagnosis groups, drugs, services, procedures

Loading checks the schema of every file and collects every problem before raising, so one run
shows them all. Meaning checks (conditions, templates, dates) are validate.py's job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .diagnostics import Diagnostic, InputError
from .modeling import validation_diagnostics
from .rule_model import Pack, Profile
from .vocabulary import Vocabulary, load_vocabulary
from .yaml_source import Source, load_file

DEFAULT_RULES = Path(__file__).resolve().parent.parent / "guideline_rules"


@dataclass
class LoadedPack:
    pack: Pack
    source: Source


@dataclass
class RuleFiles:
    root: Path
    packs: list[LoadedPack]
    profiles: dict[str, Profile]
    vocabulary: Vocabulary
    digest: str = ""
    profile_sources: dict[str, Source] = field(default_factory=dict)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.is_file()) if folder.is_dir() else []


def load_rule_files(root: str | Path | None = None) -> RuleFiles:
    root = Path(root) if root is not None else DEFAULT_RULES
    problems: list[Diagnostic] = []
    if not (root / "packs").is_dir():
        raise InputError([Diagnostic(str(root), 1, 1, "L001", "not a rules folder: no packs/ inside")])
    digest = hashlib.sha256()
    try:
        vocabulary = load_vocabulary(root / "vocabulary")
    except InputError as exc:
        problems.extend(exc.diagnostics)
        vocabulary = None

    packs: list[LoadedPack] = []
    for path in _yaml_files(root / "packs"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        try:
            source = load_file(path)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        try:
            packs.append(LoadedPack(Pack.model_validate(source.data), source))
        except ValidationError as exc:
            problems.extend(validation_diagnostics(exc, source, "R001"))

    profiles: dict[str, Profile] = {}
    profile_sources: dict[str, Source] = {}
    for path in _yaml_files(root / "profiles"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        try:
            source = load_file(path)
            profile = Profile.model_validate(source.data)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        except ValidationError as exc:
            problems.extend(validation_diagnostics(exc, source, "P001"))
            continue
        if profile.jurisdiction in profiles:
            problems.append(source.diagnostic(("jurisdiction",), "P002", f"a second profile for jurisdiction {profile.jurisdiction}"))
        profiles[profile.jurisdiction] = profile
        profile_sources[profile.jurisdiction] = source
    if not profiles:
        problems.append(Diagnostic(str(root / "profiles"), 1, 1, "P003", "no jurisdiction profile found"))
    for vocab_file in _yaml_files(root / "vocabulary"):
        digest.update(vocab_file.name.encode() + b"\0" + vocab_file.read_bytes())
    if problems:
        raise InputError(problems)
    return RuleFiles(root=root, packs=packs, profiles=profiles, vocabulary=vocabulary,
                     digest=digest.hexdigest()[:16], profile_sources=profile_sources)
