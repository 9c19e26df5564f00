"""`imr validate`: every problem of rules folders, pack files and case files, in one run.

Walks the paths it is given and hands each file to the step that checks it: loading (schema),
the rule base (meaning), the compiler (engine limits), and the case checks.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.checks.cases import check_case_file
from engine.checks.diagnoses import topic_groups
from engine.checks.rulebase import build_rule_base, load_rule_base
from engine.checks.text import control_warnings
from engine.durable.compile import compile_rules
from engine.load.cases import case_files, empty_folder, missing_path
from engine.load.files import read_bounded
from engine.load.paths import DEFAULT_RULES, RulesLocation, locate
from engine.load.rules_folder import load_rule_files
from engine.load.yaml_source import MAX_BYTES, load_failure
from engine.model.diagnostics import Diagnostic, InputError
from engine.load.vocabulary import load_vocabulary


def _is_rules_folder(path) -> bool:
    return path.is_dir() and (path / "packs").is_dir()


def folder_location(folder: Path, rules: RulesLocation | None = None) -> RulesLocation:
    """How a rules folder given to validate (or diff) is read: one with a vocabulary/ is a base
    (with the layers given); one of packs (and profiles) only is a layer over the base rules, as
    `--layer` would read it, so its packs are checked beside the shipped ones."""
    rules = rules or locate()
    if (folder / "vocabulary").is_dir():
        return RulesLocation(folder, rules.layers)
    return RulesLocation(rules.base, (*(layer for layer in rules.layers if layer != folder), folder))


def _is_pack_file(path) -> bool:
    """A YAML file is a rule pack when it sits in a packs/ folder or starts a mapping with `pack:`."""
    if path.parent.name == "packs":
        return True
    try:
        with open(path, "rb") as f:  # only the head, whatever the file's size
            head = f.read(4000).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("pack:") for line in head.splitlines())


def check_rules_folder(root, replace: dict | None = None) -> tuple[int, list[Diagnostic]]:
    """Schema and meaning problems of a rules folder (all of them), and the number of rules checked."""
    files = load_rule_files(root, lenient=True, replace=replace)
    problems = list(files.problems)
    warnings = [w for source in [lp.source for lp in files.packs] + list(files.profile_sources.values())
                for w in control_warnings(source)]
    if files.vocabulary is None or not files.profiles:
        return 0, problems + warnings
    try:
        base = build_rule_base(files)
    except InputError as exc:
        return sum(len(lp.pack.rules) for lp in files.packs), problems + exc.diagnostics + warnings
    if not problems:
        try:
            compile_rules(base)
        except InputError as exc:
            problems.extend(exc.diagnostics)
    return len(base.rules), problems + warnings


def check_pack_file(path) -> tuple[int, list[Diagnostic]]:
    """One pack file checked against the rest of its rules folder, or, outside one, against the
    project's rules (a pack with the same id is replaced by it); only its own problems are kept."""
    path = Path(path)
    if path.parent.name == "packs" and _is_rules_folder(path.parent.parent):
        root, name = path.parent.parent, path.name
    else:
        root, name = DEFAULT_RULES, path.name
        try:
            text = read_bounded(path, MAX_BYTES).decode("utf-8", errors="replace")
        except InputError as exc:
            return 0, exc.diagnostics
        found = re.search(r"^pack:\s*['\"]?([A-Za-z0-9.-]+)", text, re.M)
        for other in sorted((root / "packs").glob("*.yaml")):
            if found and re.search(rf"^pack:\s*['\"]?{re.escape(found.group(1))}['\"]?\s*$", other.read_text(encoding="utf-8", errors="replace"), re.M):
                name = other.name
                break
    count, problems = check_rules_folder(root, replace={name: path})
    mine = str(path)
    return count, [p for p in problems if p.path == mine or mine in p.message]


def _rule_ids(folders: list[RulesLocation]):
    """The rule ids case expectations may name, from the rules folders being validated (else the
    project's), and the diagnosis groups each topic's rules read (for W005), both loaded on first
    use only; None when a folder does not load (reported on its own)."""
    found: list = []

    def load():
        if not found:
            try:
                bases = [load_rule_base(root) for root in folders or [locate()]]
                groups: dict = {}
                for base in bases:
                    groups.update(topic_groups(base))
                found.append(({r.rule.id for base in bases for r in base.rules}, groups))
            except InputError:
                found.append((None, None))
        return found[0]

    def ids():
        return load()[0]

    def topics():
        return load()[1]

    return ids, topics


def validate_paths(paths, where: RulesLocation | None = None) -> tuple[int, int, list[Diagnostic]]:
    """Rules folders, pack files and case files (or folders of them) in one run: (rules, cases,
    problems). `where`: the base rules and layers (`--layer`) that folders of packs only are
    layered over, and that cases are checked against when no rules folder is given."""
    problems: list[Diagnostic] = []
    rules = cases = 0
    case_paths = []
    where = where or locate()
    folders = [folder_location(p, where) for p in map(Path, paths) if p.exists() and _is_rules_folder(p)]
    if not folders and where.layers:
        folders = [where]
    for path in map(Path, paths):
        try:
            if not path.exists():
                problems.append(missing_path(path))
            elif _is_rules_folder(path):
                n, found = check_rules_folder(folder_location(path, where))
                rules += n
                problems.extend(found)
            elif path.is_file() and _is_pack_file(path):
                n, found = check_pack_file(path)
                rules += n
                problems.extend(found)
            else:
                found = case_files([path])
                if not found:  # a folder without a case file validates nothing: not "0 problems"
                    problems.append(empty_folder(path, "validate"))
                case_paths.extend(found)
        except InputError as exc:
            problems.extend(exc.diagnostics)
        except Exception as exc:  # one path's failure is that path's problem: the others are still checked
            problems.append(load_failure(path, exc))
    vocab = None
    if case_paths:
        try:
            vocab = load_vocabulary(DEFAULT_RULES / "vocabulary")
        except InputError as exc:
            problems.extend(exc.diagnostics)
    rule_ids, topics = _rule_ids(folders)
    for path in case_paths:
        try:
            found = check_case_file(path, vocab, rule_ids, topics)
        except InputError as exc:
            found = exc.diagnostics
        except Exception as exc:  # as above: this file's problem
            found = [load_failure(path, exc)]
        cases += not any(not d.code.startswith("W") for d in found)
        problems.extend(found)
    return rules, cases, sorted(set(problems))
