"""Validate step: the meaning of rule files, beyond their schema.

Parses every condition and template, checks names and types against the fact vocabulary, and
looks for rules that cannot work: duplicate ids, a rule that can never fire, overlapping editions
of one document, scopes naming unknown services. Every problem is a positioned diagnostic; all of
them are collected in one run. The result, a RuleBase, is what the compiler consumes.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from engine.language.conditions import And, Compare, ConditionError, Or, RefOperand, check, parse, refs
from engine.model.diagnostics import Diagnostic, InputError
from engine.facts.build import ENTITY_ORDER, REGIONS, allowed_values, always_present, fact_fields
from engine.language.kleene import TooComplex, _and, outcomes, possible
from engine.load.rules_folder import LoadedPack, RuleFiles, load_rule_files
from engine.model.rules import AppliesTo, Pack, Profile, Rule
from engine.language.templates import check_template, compile_template
from engine.load.yaml_source import Source

_SINGULAR_IN_REQUIRE = {"request", "item", "patient", "clinical", "meds", "history", "dx", "surgery", "ingredient"}


@dataclass
class ParsedRule:
    rule: Rule
    pack: Pack
    source: Source
    index: int
    when: object | None
    require: object | None
    scope: AppliesTo
    templates: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.rule.id

    @property
    def entities(self) -> set[str]:
        names = set()
        for expr in (self.when, self.require):
            if expr is not None:
                names |= {r.entity for r in refs(expr)}
        return names

    def line(self) -> int:
        return self.source.loc(("rules", self.index))[0]


@dataclass
class ParsedScope:
    pack: Pack
    applies_to: AppliesTo
    when: object | None


@dataclass
class RuleBase:
    files: RuleFiles
    rules: list[ParsedRule]
    scopes: dict[str, list[ParsedScope]]  # pack id -> scopes
    fields: dict[str, dict[str, str]]

    @property
    def packs(self) -> list[Pack]:
        return [lp.pack for lp in self.files.packs]

    @property
    def profiles(self) -> dict[str, Profile]:
        return self.files.profiles

    @property
    def vocabulary(self):
        return self.files.vocabulary

    @property
    def digest(self) -> str:
        return self.files.digest

    def rule(self, rule_id: str) -> ParsedRule:
        return self._by_id[rule_id]

    def __post_init__(self):
        self._by_id = {r.rule.id: r for r in self.rules}


def _condition_diag(source: Source, path: tuple, exc: ConditionError, code: str) -> Diagnostic:
    line, col = source.value_loc(path)
    if exc.line == 1:  # on the value's first line: offset by where the value starts
        col = col + exc.col - 1
    else:
        line, col = line + exc.line - 1, exc.col
    return Diagnostic(source.path, line, col, code, exc.message)


def _parse_condition(text, source, path, fields, values, problems, *, require=False):
    if text is None:
        return None
    try:
        expr = parse(text)
    except ConditionError as exc:
        problems.append(_condition_diag(source, path, exc, "C001"))
        return None
    type_problems = check(expr, fields, values)
    for exc in type_problems:
        problems.append(_condition_diag(source, path, exc, "C002"))
    for ref in refs(expr):
        if ref.entity not in ENTITY_ORDER:
            continue
        if require and ref.entity not in _SINGULAR_IN_REQUIRE:
            problems.append(_condition_diag(source, path, ConditionError(f"'{ref.entity}' may appear in `when` only: `require` must read facts that exist once per item", ref.line, ref.col), "C003"))
    for node in _compares(expr):
        if isinstance(node.value, RefOperand) and node.value.ref.entity == node.ref.entity:
            problems.append(_condition_diag(source, path, ConditionError(f"compare {node.ref} with a fact of another entity or a literal, not with {node.value.ref}", node.ref.line, node.ref.col), "C004"))
    if type_problems:
        return None
    try:
        outcomes(expr)
    except TooComplex as exc:
        problems.append(_condition_diag(source, path, ConditionError(str(exc)), "C005"))
        return None
    return expr


def _reachable(rule: Rule, when, require) -> list[str]:
    """Outcomes the rule can actually reach (`when: x is documented` rules out `not documented`)."""
    if require is None:
        return rule.statuses()
    applies = outcomes(when)[0] if when is not None else [frozenset()]
    return [status for status, alternatives in zip(("met", "not_met", "not_documented"), outcomes(require))
            if possible(_and(applies, alternatives), always_present)]


def _compares(expr):
    if isinstance(expr, Compare):
        yield expr
    elif isinstance(expr, (And, Or)):
        for item in expr.items:
            yield from _compares(item)
    elif hasattr(expr, "item"):
        yield from _compares(expr.item)


def _check_scope(scope: AppliesTo, source: Source, path: tuple, vocab, problems: list[Diagnostic]) -> None:
    for service in scope.service or []:
        if service not in vocab.services.services:
            problems.append(source.diagnostic(path + ("service",), "R010", f"unknown service '{service}' (see vocabulary/services.yaml)"))
    for region in scope.region or []:
        if region not in REGIONS:
            problems.append(source.diagnostic(path + ("region",), "R010", f"unknown region '{region}'"))


def build_rule_base(files: RuleFiles) -> RuleBase:
    """Check the meaning of loaded rule files; raise InputError listing every problem."""
    problems: list[Diagnostic] = []
    fields = fact_fields(files.vocabulary)
    labels = {r.label for lp in files.packs for r in lp.pack.rules if r.label}
    values = allowed_values(files.vocabulary, labels)
    rules: list[ParsedRule] = []
    scopes: dict[str, list[ParsedScope]] = {}
    seen_ids: dict[str, Diagnostic] = {}
    seen_packs: dict[str, Source] = {}

    for lp in files.packs:
        pack, source = lp.pack, lp.source
        if pack.pack in seen_packs:
            problems.append(source.diagnostic(("pack",), "R002", f"pack id '{pack.pack}' also used in {seen_packs[pack.pack].path}"))
        seen_packs[pack.pack] = source
        if pack.guideline == "MTUS" and not any(p.rank_of(pack) for p in files.profiles.values()):
            problems.append(source.diagnostic(("guideline",), "R011", "no jurisdiction profile ranks this pack; it can never govern"))
        scopes[pack.pack] = []
        for n, scope in enumerate(pack.addresses):
            _check_scope(scope.applies_to, source, ("addresses", n, "applies_to"), files.vocabulary, problems)
            when = _parse_condition(scope.when, source, ("addresses", n, "when"), fields, values, problems)
            scopes[pack.pack].append(ParsedScope(pack, scope.applies_to, when))
        for n, rule in enumerate(pack.rules):
            i = lp.index(n)  # the rule's position in the file (rules with schema errors may be left out)
            path = ("rules", i)
            if rule.id in seen_ids:
                first = seen_ids[rule.id]
                problems.append(source.diagnostic(path + ("id",), "R003", f"duplicate rule id '{rule.id}' (first at {first.path}:{first.line})"))
            else:
                seen_ids[rule.id] = source.diagnostic(path + ("id",), "", "")
            if pack.guideline == "MTUS" and rule.pages == "n/a" and "CCR" not in rule.section:
                problems.append(source.diagnostic(path + ("pages",), "R004", "an MTUS rule must cite pages (or, for a regulation without pages, a CCR subsection in `section`)"))
            scope = rule.applies_to or pack.addresses[0].applies_to
            if rule.applies_to:
                _check_scope(rule.applies_to, source, path + ("applies_to",), files.vocabulary, problems)
            when = _parse_condition(rule.when, source, path + ("when",), fields, values, problems)
            require = _parse_condition(rule.require, source, path + ("require",), fields, values, problems, require=True)
            templates = {}
            for status in _reachable(rule, when, require):
                text = getattr(rule.rationale, status)
                if text is None:
                    problems.append(source.diagnostic(path + ("rationale",), "R005", f"rationale.{status} is missing: the rule can end {status.replace('_', ' ')}"))
                    continue
                template_problems = check_template(text, fields)
                for tp in template_problems:
                    line, col = source.loc(path + ("rationale", status))
                    problems.append(Diagnostic(source.path, line + tp.line - 1, col, "T001", tp.message))
                if not template_problems:
                    templates[status] = compile_template(text)
            if rule.require is not None and not rule.documentation:
                problems.append(source.diagnostic(path, "R006", "a criterion needs `documentation`: what would change a not met outcome"))
            parsed = ParsedRule(rule, pack, source, i, when, require, scope, templates)
            if when is not None:
                t, _, _ = outcomes(when)
                if not t:
                    problems.append(source.diagnostic(path + ("when",), "R007", "condition can never be true: the rule can never fire"))
            rules.append(parsed)

    problems.extend(_overlapping_editions(files.packs))
    if problems:
        raise InputError(problems)
    return RuleBase(files=files, rules=rules, scopes=scopes, fields=fields)


def _overlapping_editions(packs: list[LoadedPack]) -> list[Diagnostic]:
    problems = []
    by_doc: dict[tuple, list[LoadedPack]] = {}
    for lp in packs:
        by_doc.setdefault((lp.pack.guideline, lp.pack.document, lp.pack.topic), []).append(lp)
    for group in by_doc.values():
        ordered = sorted(group, key=lambda lp: lp.pack.effective.from_)
        for a, b in zip(ordered, ordered[1:]):
            end = a.pack.effective.to
            if end is None or end >= b.pack.effective.from_:
                problems.append(b.source.diagnostic(("effective",), "R008",
                    f"effective dates overlap with {a.pack.pack} ({a.source.path}) for the same document and topic"))
    return problems


def load_rule_base(root=None) -> RuleBase:
    return build_rule_base(load_rule_files(root))


# ---------------------------------------------------------------- `imr validate`: every problem in one run

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
    from engine.durable.compile import compile_rules

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
    import re
    from pathlib import Path

    from engine.load.rules_folder import DEFAULT_RULES

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


def value_warnings(source, vocab) -> list[Diagnostic]:
    """Values a case may give but no rule can know (like a JSON Schema enum, from the vocabulary)."""
    data = source.data if isinstance(source.data, dict) else {}
    out = []

    def warn(path, kind, value, where):
        out.append(source.diagnostic(path, "W001", f"unknown {kind} '{value}': no rule can match it (see vocabulary/{where})"))

    for i, item in enumerate(data.get("requested_items") or []):
        if not isinstance(item, dict):
            continue
        if item.get("type") in ("therapy", "procedure") and isinstance(item.get("service"), str) and item["service"] not in vocab.services.services:
            warn(("requested_items", i, "service"), "service", item["service"], "services.yaml")
        for j, ing in enumerate(item.get("ingredients") or []):
            if isinstance(ing, dict) and isinstance(ing.get("drug"), str) and ing["drug"] not in vocab.drugs.drugs:
                warn(("requested_items", i, "ingredients", j, "drug"), "drug", ing["drug"], "drugs.yaml")
    for i, line in enumerate(data.get("treatment_history") or []):
        if isinstance(line, dict) and isinstance(line.get("service"), str) and line["service"] not in vocab.services.services:
            warn(("treatment_history", i, "service"), "service", line["service"], "services.yaml")
    for i, s in enumerate(data.get("surgeries") or []):
        if isinstance(s, dict) and isinstance(s.get("procedure"), str) and s["procedure"] not in vocab.procedures.procedures:
            warn(("surgeries", i, "procedure"), "procedure", s["procedure"], "procedures.yaml")
    return out


# `key: plain text #120`: YAML ends the value at " #", so "#120" (a quantity) silently disappears
_CUT_BY_COMMENT = re.compile(r"^\s*(?:-\s+)?[\w-]+:\s+[^\s\"'#|>{\[][^#]*?(\s#)\S")


def _cut_by_comment(text: str, path: str) -> list[Diagnostic]:
    return [Diagnostic(path, n, m.start(1) + 2, "W003", "text ends at ' #' (YAML reads the rest of the line as a comment): quote the value to keep it")
            for n, line in enumerate(text.splitlines(), start=1) if (m := _CUT_BY_COMMENT.match(line))]


def _expected_problems(source) -> list[Diagnostic]:
    """`expected:` naming an item that is not requested, at the line of that name."""
    data = source.data if isinstance(source.data, dict) else {}
    expected, items = data.get("expected"), data.get("requested_items")
    if not isinstance(expected, dict) or not isinstance(items, list):
        return []
    ids = {item.get("id") for item in items if isinstance(item, dict)}
    return [source.diagnostic(("expected", key), "E004", f"expected names item '{key}', which is not requested (requested: {', '.join(sorted(map(str, ids)))})")
            for key in expected if key not in ids]


def check_case_file(path, vocab=None) -> list[Diagnostic]:
    from pathlib import Path

    from engine.load.cases import case_from_source
    from engine.load.yaml_source import load_file

    try:
        source = load_file(path)
    except InputError as exc:
        return exc.diagnostics
    problems = _expected_problems(source)
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    problems.extend(_cut_by_comment(text, str(path)))
    if isinstance(source.data, dict) and "$schema=" not in text.split("\n", 1)[0]:
        problems.append(Diagnostic(str(path), 1, 1, "W002", "no `# yaml-language-server: $schema=` first line: editors cannot check this case (see schema/case.schema.json)"))
    try:
        case_from_source(source)
    except InputError as exc:
        # the model's own (unpositioned) report of the same mistake gives way to the positioned one
        problems.extend(d for d in exc.diagnostics if not (problems and "expected names items" in d.message))
    if vocab is not None:
        problems.extend(value_warnings(source, vocab))
    return problems


def validate_paths(paths) -> tuple[int, int, list[Diagnostic]]:
    """Rules folders, pack files and case files (or folders of them) in one run: (rules, cases, problems)."""
    from pathlib import Path

    from engine.load.cases import case_files, missing_path
    from engine.load.rules_folder import DEFAULT_RULES
    from engine.model.vocabulary import load_vocabulary

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
