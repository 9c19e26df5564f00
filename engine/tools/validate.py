"""`imr validate`: every problem of rules folders, pack files and case files, in one run.

Walks the paths it is given and hands each file to the step that checks it: loading (schema),
the rule base (meaning), the compiler (engine limits), and the case checks.
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.checks.cases import check_case_file
from engine.checks.rulebase import build_rule_base
from engine.durable.compile import compile_rules
from engine.load.cases import case_files, missing_path
from engine.load.paths import DEFAULT_RULES
from engine.load.rules_folder import load_rule_files
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.vocabulary import load_vocabulary


def _is_rules_folder(path) -> bool:
    return path.is_dir() and (path / "packs").is_dir()


def _is_pack_file(path) -> bool:
    """A YAML file is a rule pack when it sits in a packs/ folder or starts a mapping with `pack:`."""
    if path.parent.name == "packs":
        return True
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    return any(line.startswith("pack:") for line in head.splitlines())


def check_rules_folder(root, replace: dict | None = None) -> tuple[int, list[Diagnostic]]:
    """Schema and meaning problems of a rules folder (all of them), and the number of rules checked."""
    files = load_rule_files(root, lenient=True, replace=replace)
    problems = list(files.problems)
    if files.vocabulary is None or not files.profiles:
        return 0, problems
    try:
        base = build_rule_base(files)
    except InputError as exc:
        return sum(len(lp.pack.rules) for lp in files.packs), problems + exc.diagnostics
    if not problems:
        try:
            compile_rules(base)
        except InputError as exc:
            problems.extend(exc.diagnostics)
    return len(base.rules), problems


def check_pack_file(path) -> tuple[int, list[Diagnostic]]:
    """One pack file checked against the rest of its rules folder, or, outside one, against the
    project's rules (a pack with the same id is replaced by it); only its own problems are kept."""
    path = Path(path)
    if path.parent.name == "packs" and _is_rules_folder(path.parent.parent):
        root, name = path.parent.parent, path.name
    else:
        root, name = DEFAULT_RULES, path.name
        text = path.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^pack:\s*['\"]?([A-Za-z0-9.-]+)", text, re.M)
        for other in sorted((root / "packs").glob("*.yaml")):
            if found and re.search(rf"^pack:\s*['\"]?{re.escape(found.group(1))}['\"]?\s*$", other.read_text(encoding="utf-8", errors="replace"), re.M):
                name = other.name
                break
    count, problems = check_rules_folder(root, replace={name: path})
    mine = str(path)
    return count, [p for p in problems if p.path == mine or mine in p.message]


def validate_paths(paths) -> tuple[int, int, list[Diagnostic]]:
    """Rules folders, pack files and case files (or folders of them) in one run: (rules, cases, problems)."""
    problems: list[Diagnostic] = []
    rules = cases = 0
    case_paths = []
    for path in map(Path, paths):
        if not path.exists():
            problems.append(missing_path(path))
        elif _is_rules_folder(path):
            n, found = check_rules_folder(path)
            rules += n
            problems.extend(found)
        elif path.is_file() and _is_pack_file(path):
            n, found = check_pack_file(path)
            rules += n
            problems.extend(found)
        else:
            case_paths.extend(case_files([path]))
    vocab = None
    if case_paths:
        try:
            vocab = load_vocabulary(DEFAULT_RULES / "vocabulary")
        except InputError as exc:
            problems.extend(exc.diagnostics)
    for path in case_paths:
        found = check_case_file(path, vocab)
        cases += not any(not d.code.startswith("W") for d in found)
        problems.extend(found)
    return rules, cases, sorted(set(problems))
