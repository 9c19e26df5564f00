"""`imr diff`: impact analysis of a rule change, run before merging it.

Decides the case corpus under two rule sets (a git revision, whose guideline_rules/ is
materialised into a temporary folder with `git archive` after `git rev-parse --verify` has resolved
it to a commit, so no revision reaches git as an option, or a rules folder) with two Engines in
one process, and reports every item whose decision or governing rule changed, grouped by the
edited rules that fired for it, with totals. Both sides are decided by durable-rules as usual;
this module only compares their determinations.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.model.diagnostics import Diagnostic, InputError
from engine.load.cases import case_files, load_case, shown
from engine.load.paths import DEFAULT_RULES
from engine.words import plural

OTHER = "(no edited rule fired: search sequence, scope, vocabulary or profile change)"
UNCHANGED = "governing rules changed (decision unchanged)"


@dataclass
class ItemChange:
    case: str
    case_id: str
    item_id: str
    base_decision: str
    head_decision: str
    base_rules: list[str]
    head_rules: list[str]
    base_governed_by: str | None
    head_governed_by: str | None
    edited_rules: list[str]


@dataclass
class Impact:
    base: str
    head: str
    cases: int = 0
    items: int = 0
    edited_rules: dict[str, str] = field(default_factory=dict)  # rule id -> added | removed | changed
    changes: list[ItemChange] = field(default_factory=list)

    def by_rule(self) -> dict[str, list[ItemChange]]:
        out: dict[str, list[ItemChange]] = {}
        for change in self.changes:
            for rule in change.edited_rules or [OTHER]:
                out.setdefault(rule, []).append(change)
        return dict(sorted(out.items()))

    def transitions(self) -> dict[str, int]:
        """Counts by decision move; an item that kept its decision moved only its governing rules."""
        out: dict[str, int] = {}
        for c in self.changes:
            key = f"{c.base_decision} -> {c.head_decision}" if c.base_decision != c.head_decision else UNCHANGED
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def governing_rules(item) -> list[str]:
    """The governing tier's rules whose outcome the decision rests on (what the letter cites)."""
    want_met = item.decision == "Overturned"
    return sorted({o.rule for o in item.rules if o.rank == item.governing_rank and o.deciding and (o.status == "met") == want_met})


def _git(repo: Path, *args: str, label: str) -> subprocess.CompletedProcess:
    """A git command on `repo`: every value from the user comes after `--end-of-options` or `--`, or
    is a commit id git itself resolved, so none can be read as an option (`--base=-oFILE`)."""
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError([Diagnostic(label, 1, 1, "D001", f"cannot run git: {exc}")]) from None


def resolve(ref: str, repo: Path) -> str:
    """The commit id a revision names (`git rev-parse --verify --end-of-options REV^{commit}`)."""
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", label=ref)
    commit = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit):
        raise InputError([Diagnostic(ref, 1, 1, "D001", f"not a rules folder nor a commit of the git repository {repo}")])
    return commit


def materialise(ref: str, repo: Path, rules_path: str, into: Path) -> Path:
    """A git revision's rules folder, extracted with `git archive` into `into`."""
    commit = resolve(ref, repo)
    proc = _git(repo, "archive", "--format=tar", commit, "--", rules_path, label=ref)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError([Diagnostic(ref, 1, 1, "D001", f"no rules folder '{rules_path}' at {commit[:12]}: {message[0] if message else 'git archive failed'}")])
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / rules_path


def rules_folder(spec: str | None, repo: Path, rules_path: str, scratch: Path) -> Path:
    if spec is None:
        return repo / rules_path if (repo / rules_path / "packs").is_dir() else DEFAULT_RULES
    if not spec.strip():  # Path("") is the current folder: an empty --base names nothing
        raise InputError([Diagnostic(repr(spec), 1, 1, "D001", "an empty revision or folder")])
    path = Path(spec)
    if path.is_dir():
        return path / "guideline_rules" if (path / "guideline_rules" / "packs").is_dir() else path
    name = "".join(ch if ch.isalnum() else "_" for ch in spec[:60])
    target = scratch / f"{name}-{hashlib.sha256(spec.encode(errors='replace')).hexdigest()[:12]}"  # any revision text: a short name
    return materialise(spec, repo, rules_path, target)


def _edited(base, head) -> dict[str, str]:
    old = {r.rule.id: (r.rule.model_dump(), r.pack.effective, r.pack.addresses) for r in base.base.rules}
    new = {r.rule.id: (r.rule.model_dump(), r.pack.effective, r.pack.addresses) for r in head.base.rules}
    out = {rid: "removed" for rid in old.keys() - new.keys()}
    out |= {rid: "added" for rid in new.keys() - old.keys()}
    out |= {rid: "changed" for rid in old.keys() & new.keys() if old[rid] != new[rid]}
    return dict(sorted(out.items()))


def impact(base_engine, head_engine, case_paths, base_label: str, head_label: str) -> Impact:
    result = Impact(base=base_label, head=head_label, edited_rules=_edited(base_engine, head_engine))
    problems: list[Diagnostic] = []
    for path in case_files(case_paths):
        try:
            case = load_case(path)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        result.cases += 1
        before = {i.item_id: i for i in base_engine.decide(case).items}
        for after in head_engine.decide(case).items:
            result.items += 1
            old = before[after.item_id]
            old_rules, new_rules = governing_rules(old), governing_rules(after)
            if old.decision == after.decision and old_rules == new_rules and old.governed_by == after.governed_by:
                continue
            fired = {o.rule for o in old.rules} | {o.rule for o in after.rules}
            result.changes.append(ItemChange(
                case=shown(path), case_id=case.case_id, item_id=after.item_id,
                base_decision=old.decision, head_decision=after.decision, base_rules=old_rules, head_rules=new_rules,
                base_governed_by=old.governed_by, head_governed_by=after.governed_by,
                edited_rules=sorted(fired & result.edited_rules.keys())))
    if problems:
        raise InputError(problems)
    return result


def render_text(result: Impact) -> str:
    lines = [f"rule change impact: base {result.base} -> head {result.head}"]
    if result.edited_rules:
        lines.append("edited rules: " + ", ".join(f"{rid} ({kind})" for rid, kind in result.edited_rules.items()))
    else:
        lines.append("edited rules: none (rule text identical; profiles or vocabulary may differ)")
    for rule, changes in result.by_rule().items():
        lines.append("")
        lines.append(f"{rule}: {plural(len(changes), 'item')}")
        for c in changes:
            moved = f"{c.base_decision} -> {c.head_decision}" if c.base_decision != c.head_decision else f"{c.head_decision} (unchanged)"
            lines.append(f"  {c.case} {c.item_id}: {moved}")
            if c.base_rules != c.head_rules:
                lines.append(f"      governing rules: {', '.join(c.base_rules) or '-'} -> {', '.join(c.head_rules) or '-'}")
            if c.base_governed_by != c.head_governed_by:
                lines.append(f"      governed by: {c.base_governed_by or '-'} -> {c.head_governed_by or '-'}")
    lines.append("")
    transitions = ", ".join(f"{k}: {v}" for k, v in result.transitions().items())
    lines.append(f"{plural(result.cases, 'case')}, {plural(result.items, 'item')}; {len(result.changes)} changed" + (f" ({transitions})" if transitions else ""))
    return "\n".join(lines) + "\n"


def render_json(result: Impact) -> str:
    data = asdict(result)
    data["by_rule"] = {rule: [f"{c.case}#{c.item_id}" for c in changes] for rule, changes in result.by_rule().items()}
    data["totals"] = {"cases": result.cases, "items": result.items, "changed": len(result.changes), "transitions": result.transitions()}
    return json.dumps(data, indent=2) + "\n"


def repository(arg: str | None) -> Path:
    """The git repository holding the rules: the one named, else the one around the current folder."""
    if arg:
        return Path(arg)
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False)
    return Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else DEFAULT_RULES.parent
