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
