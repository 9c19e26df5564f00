"""Load step: read rule packs, jurisdiction profiles and the vocabulary from a rules folder.

Layout of a rules folder (guideline_rules/ by default):
    packs/*.yaml        one guideline document (or topic of it) in one edition
    profiles/*.yaml     a jurisdiction's search sequence (which guideline governs, in what order)
    vocabulary/*.yaml   diagnosis groups, drugs, services, procedures

Folders layered over it (load.paths.RulesLocation: `--layer`, IMR_RULE_LAYERS) add their packs/
and profiles/; the meaning checks then see one rule base (a pack or rule id used twice is R002 or
R003 wherever the two live), and the search sequence chooses among all the packs.

Loading checks the schema of every file and collects every problem before raising, so one run
shows them all. Meaning checks (conditions, templates, dates) are validate.py's job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from engine.model.diagnostics import Diagnostic, InputError
from engine.load.positions import load_model
from engine.model.rules import Pack, Profile, Rule
from engine.load.vocabulary import load_vocabulary
from engine.model.vocabulary import Vocabulary
from engine.load.yaml_source import Source, load_file

from engine.load.paths import DEFAULT_RULES, RulesLocation, locate  # noqa: E402 (the one definition)


@dataclass
class LoadedPack:
    pack: Pack
    source: Source
    rule_index: list[int] | None = None
    """Position in the file of each rule kept, when rules with schema errors were left out (validate)."""

    def index(self, i: int) -> int:
        return self.rule_index[i] if self.rule_index is not None else i


@dataclass
class RuleFiles:
    root: Path
    """The base rules folder (its vocabulary, and the folder diagnostics about the whole base name)."""
    packs: list[LoadedPack]
    profiles: dict[str, Profile]
    vocabulary: Vocabulary
    digest: str = ""
    profile_sources: dict[str, Source] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    """Only for a lenient load: what could not be loaded."""


def yaml_files(folder: Path) -> list[Path]:
    """The YAML files of a folder: `.yaml` and `.yml` alike (a pack saved as .yml is read, not skipped)."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()) if folder.is_dir() else []


def _salvage(source: Source) -> LoadedPack | None:
    """A pack with schema errors, minus its invalid rules, so meaning checks still run on the rest."""
    data = source.data
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return None
    keep = []
    for i, rule in enumerate(data["rules"]):
        try:
            Rule.model_validate(rule)
            keep.append(i)
        except ValidationError:
            continue
    if not keep:
        return None
    try:
        pack = Pack.model_validate({**data, "rules": [data["rules"][i] for i in keep]})
    except ValidationError:
        return None
    return LoadedPack(pack, source, keep)


def load_rule_files(root: str | Path | RulesLocation | None = None, lenient: bool = False, replace: dict | None = None) -> RuleFiles:
    """Load a rules folder and the folders layered over it. `lenient` (for `imr validate`): return
    what loaded plus `problems` instead of raising, keeping a pack's valid rules; `replace` maps a
    pack file name to another file to read in its place (validating one edited pack against the
    rest of the folder)."""
    where = locate(root)
    root = where.base
    replace = replace or {}
    problems: list[Diagnostic] = []
    for folder in where.folders():
        if not (folder / "packs").is_dir():
            raise InputError([Diagnostic(str(folder), 1, 1, "L001", "not a rules folder: no packs/ inside")])
    for layer in where.layers:
        if (layer / "vocabulary").is_dir():
            problems.append(Diagnostic(str(layer / "vocabulary"), 1, 1, "L002",
                                       "a layered rules folder adds packs and profiles only; the vocabulary is the base folder's "
                                       f"({root / 'vocabulary'}): move these entries there or drop the folder"))
    digest = hashlib.sha256()
    # a lenient load (validate) of a folder holding only packs/ borrows the project's vocabulary and profiles
    vocab_root = root if (root / "vocabulary").is_dir() or not lenient else DEFAULT_RULES
    profile_root = root if (root / "profiles").is_dir() or not lenient else DEFAULT_RULES
    try:
        vocabulary = load_vocabulary(vocab_root / "vocabulary")
    except InputError as exc:
        problems.extend(exc.diagnostics)
        vocabulary = None

    packs: list[LoadedPack] = []
    pack_files = {p.name: p for p in yaml_files(root / "packs")}
    pack_files.update({name: Path(other) for name, other in replace.items()})
    layered: list[Path] = []
    for layer in where.layers:
        for path in yaml_files(layer / "packs"):
            if path.name in pack_files:
                problems.append(Diagnostic(str(path), 1, 1, "L003", f"a pack file of this name is already read from {pack_files[path.name]}: "
                                           "rename one (a layer adds packs; it does not replace files)"))
                continue
            pack_files[path.name] = path
            layered.append(path)
    base_files = [path for name, path in sorted(pack_files.items()) if path not in layered]
    for path in base_files + layered:  # the base's packs, then each layer's, in order
        try:
            source = load_file(path)  # kind and size checked before reading (a FIFO, a huge file)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        pack, _ = load_model(path, Pack, "R001", problems, source)
        if pack is not None:
            packs.append(LoadedPack(pack, source))
        elif lenient and (salvaged := _salvage(source)) is not None:
            packs.append(salvaged)

    profiles: dict[str, Profile] = {}
    profile_sources: dict[str, Source] = {}
    for path in [*yaml_files(profile_root / "profiles"), *(p for layer in where.layers for p in yaml_files(layer / "profiles"))]:
        profile, source = load_model(path, Profile, "P001", problems)
        if profile is None:
            continue
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        if profile.jurisdiction in profiles:
            problems.append(source.diagnostic(("jurisdiction",), "P002", f"a second profile for jurisdiction {profile.jurisdiction} "
                                              f"(first in {profile_sources[profile.jurisdiction].path})"))
        profiles[profile.jurisdiction] = profile
        profile_sources[profile.jurisdiction] = source
    if not profiles:
        problems.append(Diagnostic(str(profile_root / "profiles"), 1, 1, "P003", "no jurisdiction profile found"))
    for vocab_file in yaml_files(vocab_root / "vocabulary") if vocabulary is not None else ():  # read only once loaded (bounded)
        digest.update(vocab_file.name.encode() + b"\0" + vocab_file.read_bytes())
    if problems and not lenient:
        raise InputError(problems)
    return RuleFiles(root=root, packs=packs, profiles=profiles, vocabulary=vocabulary,
                     digest=digest.hexdigest()[:16], profile_sources=profile_sources, problems=problems)
