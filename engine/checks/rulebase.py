"""Validate step: the meaning of rule files, beyond their schema.

Parses every condition and template, checks names and types against the fact vocabulary, and
looks for rules that cannot work: duplicate ids, a rule that can never fire, overlapping editions
of one document, scopes naming unknown services. A rule or scope written against a table is
expanded here into one per row (checks/tables.py), so what follows sees ordinary rules. Every
problem is a positioned diagnostic; all of them are collected in one run. The result, a
RuleBase, is what the compiler consumes.
"""

from __future__ import annotations

import datetime as dt
import re

from dataclasses import dataclass, field
from functools import partial

from engine.language.conditions import Compare, ConditionError, RefOperand, check, leaves, parse, refs
from engine.model.diagnostics import Diagnostic, InputError
from engine.facts.schema import ENTITY_ORDER, allowed_values, always_present, fact_fields
from engine.model.enums import REGIONS
from engine.language.kleene import TooComplex, _and, outcomes, possible
from engine.load.rules_folder import LoadedPack, RuleFiles, load_rule_files
from engine.model.rules import AppliesTo, Effective, Metadata, Pack, Profile, Row, Rule, Scope, Table
from engine.language.templates import FactView, attributes_read, check_template, compile_template, is_template, render_constant
from engine.checks.tables import (ALLOWANCE, COLUMNS, DERIVED, TABLES, condition_fields, missing, misuses, row_values,
                                  substitute, summary, template_names, to_text)
from engine.load.yaml_source import Source

STATUTE_CITATION = re.compile(r"^(?P<code>[A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)* Code) (?:section |§ ?)?(?P<section>\d+(?:\.\d+)*)(?:\([0-9A-Za-z]{1,4}\))*(?:[ ,:;].*)?$")
"""A statute citation: the code and the section with its subdivisions ("Labor Code 4604.5(c)(1)")."""

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
    row: tuple[str, int] | None = None
    """For a rule expanded from a table: (table name, row index)."""

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
    expanded: dict[str, Pack] = field(default_factory=dict)
    """Packs with tables as the engine runs them: a rule and a scope per row (pack id -> pack)."""

    @property
    def packs(self) -> list[Pack]:
        return [self.expanded.get(lp.pack.pack, lp.pack) for lp in self.files.packs]

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


def _parse_condition(text, source, path, fields, values, problems, *, require=False, table=False):
    """Parse and check a condition; `table`: of a rule or scope written against a table, which may
    read the row as `allowance.COLUMN` (elsewhere that is an error at the reference)."""
    if text is None:
        return None
    try:
        expr = parse(text)
    except ConditionError as exc:
        problems.extend(_condition_diag(source, path, e, e.code or "C001") for e in exc.errors)
        return None
    row_refs = [r for r in refs(expr) if r.entity == ALLOWANCE]
    if row_refs and not table:
        for ref in row_refs:
            problems.append(_condition_diag(source, path, ConditionError(f"{ref} reads a table row: only a rule or scope with `table:` has one", ref.line, ref.col), "C006"))
        return None
    if table:
        fields = {**fields, ALLOWANCE: condition_fields()}
        misused = misuses(expr)
        for exc in misused:
            problems.append(_condition_diag(source, path, exc, "C006"))
        if misused:
            return None
    type_problems = check(expr, fields, values)
    for exc in type_problems:
        problems.append(_condition_diag(source, path, exc, "C002"))
    for ref in refs(expr):
        if ref.entity not in ENTITY_ORDER:
            continue
        if require and ref.entity not in _SINGULAR_IN_REQUIRE:
            problems.append(_condition_diag(source, path, ConditionError(f"'{ref.entity}' may appear in `when` only: `require` must read facts that exist once per item", ref.line, ref.col), "C003"))
    for node in (n for n in leaves(expr) if isinstance(n, Compare)):
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


def _check_scope(scope: AppliesTo, source: Source, path: tuple, vocab, problems: list[Diagnostic]) -> None:
    for service in scope.service or []:
        if service not in vocab.services.services:
            problems.append(source.diagnostic(path + ("service",), "R010", f"unknown service '{service}' (see vocabulary/services.yaml)"))
    for region in scope.region or []:
        if region not in REGIONS:
            problems.append(source.diagnostic(path + ("region",), "R010", f"unknown region '{region}'"))


def build_rule_base(files: RuleFiles) -> RuleBase:
    """Check the meaning of loaded rule files; raise InputError listing every problem. A rule or a
    scope written against a table is expanded here into one per row (checks/tables.py)."""
    problems: list[Diagnostic] = []
    fields = fact_fields(files.vocabulary)
    labels = {r.label for lp in files.packs for r in lp.pack.rules if r.label}
    values = allowed_values(files.vocabulary, labels, set(files.profiles))
    rules: list[ParsedRule] = []
    scopes: dict[str, list[ParsedScope]] = {}
    expanded: dict[str, Pack] = {}
    seen_ids: dict[str, Diagnostic] = {}
    seen_packs: dict[str, Source] = {}

    def unique(rule_id: str, source: Source, path: tuple) -> None:
        if rule_id in seen_ids:
            first = seen_ids[rule_id]
            problems.append(source.diagnostic(path + ("id",), "R003", f"duplicate rule id '{rule_id}' (first at {first.path}:{first.line})"))
        else:
            seen_ids[rule_id] = source.diagnostic(path + ("id",), "", "")

    for lp in files.packs:
        pack, source = lp.pack, lp.source
        if pack.pack in seen_packs:
            problems.append(source.diagnostic(("pack",), "R002", f"pack id '{pack.pack}' also used in {seen_packs[pack.pack].path}"))
        seen_packs[pack.pack] = source
        if not any(p.rank_of(pack) is not None for p in files.profiles.values()):
            problems.append(source.diagnostic(("guideline",), "R011", "no jurisdiction profile ranks this pack; it can never govern"))
        tables = _table_rows(pack, source, fields, values, problems)
        constants = {TABLES: {name: summary([r.values for r in rows]) for name, rows in tables.items()}} if tables else {}
        scopes[pack.pack] = []
        addresses = []
        for n, scope in enumerate(pack.addresses):
            path = ("addresses", n)
            _check_scope(scope.applies_to, source, path + ("applies_to",), files.vocabulary, problems)
            rows = _rows_of(scope.table, tables, source, path, problems)
            when = _parse_condition(scope.when, source, path + ("when",), fields, values, problems, table=rows is not None)
            if rows is None:
                scopes[pack.pack].append(ParsedScope(pack, scope.applies_to, when))
                addresses.append(scope)
                continue
            if scope.when is not None and when is None:
                continue  # its condition has problems (reported)
            read = {r.field for r in refs(when) if r.entity == ALLOWANCE} if when is not None else set()
            for row in rows:
                lacking = missing(row.values, read)
                if lacking:
                    problems.append(source.diagnostic(row.path, "R013", f"row '{row.key}' of table '{row.table}' has no {', '.join(f'`{c}`' for c in lacking)}, which `addresses` {n + 1} reads"))
                    continue
                row_when = _expand(when, row, f"scope {n}", source, path + ("when",), values, problems)
                scopes[pack.pack].append(ParsedScope(pack, scope.applies_to, row_when))
                addresses.append(Scope(applies_to=scope.applies_to, when=to_text(row_when) if row_when is not None else None))
        parsed_rules: list[ParsedRule] = []
        for n, rule in enumerate(pack.rules):
            i = lp.index(n)  # the rule's position in the file (rules with schema errors may be left out)
            path = ("rules", i)
            unique(rule.id, source, path)
            if pack.guideline == "MTUS" and rule.pages == "n/a" and "CCR" not in rule.section:
                problems.append(source.diagnostic(path + ("pages",), "R004", "an MTUS rule must cite pages (or, for a regulation without pages, a CCR subsection in `section`)"))
            if pack.role == "statute" and not STATUTE_CITATION.match(rule.section):
                problems.append(source.diagnostic(path + ("section",), "R017", f"a statute rule cites its code and section (\"Labor Code 4604.5(c)(1)\"), not '{rule.section}'"))
            scope = rule.applies_to or pack.addresses[0].applies_to
            if rule.applies_to:
                _check_scope(rule.applies_to, source, path + ("applies_to",), files.vocabulary, problems)
            rows = _rows_of(rule.table, tables, source, path, problems)
            when = _parse_condition(rule.when, source, path + ("when",), fields, values, problems, table=rows is not None)
            require = _parse_condition(rule.require, source, path + ("require",), fields, values, problems, require=True, table=rows is not None)
            if rule.silence is None:
                problems.append(source.diagnostic(path, "R014", f"rule '{rule.id}' does not say what silence means: add `silence: requirement` (the record must show it), "
                                                  "`silence: exclusion` (only a documented finding counts against) or `silence: supporting` (counts for when documented, never against)"))
            if rule.require is not None and not rule.documentation:
                problems.append(source.diagnostic(path, "R006", "a criterion needs `documentation`: what would change a not met outcome"))
            names = template_names(pack.tables, rule.table)
            if rows is None:
                documentation = [_constant_text(d, {}, names, constants, source, path + ("documentation", k), problems) for k, d in enumerate(rule.documentation)]
                if documentation != rule.documentation:
                    rule = rule.model_copy(update={"documentation": documentation})
                # a condition reading a row it does not have (C006): what the rule can reach is unknown
                misread = _reads_row(rule.when) or _reads_row(rule.require)
                templates = {} if misread else _templates(rule, when, require, source, path, fields, names, constants, problems)
                parsed_rules.append(ParsedRule(rule, pack, source, i, when, require, scope, templates))
                _never_fires(when, source, path, "", problems)
                continue
            if (rule.when is not None and when is None) or (rule.require is not None and require is None):
                continue  # its condition has problems (reported): there is nothing to expand
            read = _columns_read(rule, when, require)
            for row in rows:
                label = f"row '{row.key}'"
                lacking = missing(row.values, read)
                if lacking:
                    problems.append(source.diagnostic(row.path, "R013", f"{label} of table '{row.table}' has no {', '.join(f'`{c}`' for c in lacking)}, which rule '{rule.id}' reads"))
                    continue
                row_when = _expand(when, row, f"rule '{rule.id}'", source, path + ("when",), values, problems)
                row_require = _expand(require, row, f"rule '{rule.id}'", source, path + ("require",), values, problems)
                text = partial(_constant_text, fields={}, names=names, constants={**constants, ALLOWANCE: row.values}, source=source, problems=problems)
                row_rule = rule.model_copy(update={
                    "id": f"{rule.id}[{row.key}]",
                    "title": text(rule.title, path=path + ("title",)),
                    "section": text(rule.section, path=path + ("section",)),
                    "when": to_text(row_when) if row_when is not None else None,
                    "require": to_text(row_require) if row_require is not None else None,
                    "allowance": row.row.model_copy(update={"id": row.key, "text": row.values["text"]}),
                    "table": None,
                    "documentation": [text(d, path=path + ("documentation", k)) for k, d in enumerate(rule.documentation)],
                    "metadata": _merged_metadata(rule.metadata, path, row, text),
                })
                unique(row_rule.id, source, path)
                templates = _templates(row_rule, row_when, row_require, source, path, fields, names, constants, problems)
                parsed_rules.append(ParsedRule(row_rule, pack, source, i, row_when, row_require, scope, templates, row=(row.table, row.index)))
                _never_fires(row_when, source, path, f" for {label}", problems)
        rules.extend(parsed_rules)
        if tables or addresses != list(pack.addresses):
            # the pack as the rest of the engine sees it: one rule and one scope per row
            expanded[pack.pack] = full = pack.model_copy(update={"rules": [p.rule for p in parsed_rules], "addresses": addresses})
            for item in parsed_rules + scopes[pack.pack]:
                item.pack = full

    problems.extend(_overlapping_editions(files.packs))
    problems.extend(_postsurgical_links(files))
    for lp in files.packs:
        problems.extend(_carried_over(lp, files.profiles))
    if problems:
        raise InputError(problems)
    return RuleBase(files=files, rules=rules, scopes=scopes, fields=fields, expanded=expanded)


def _reads_row(text: str | None) -> bool:
    try:
        return text is not None and any(r.entity == ALLOWANCE for r in refs(parse(text)))
    except ConditionError:
        return False


def _never_fires(when, source: Source, path: tuple, detail: str, problems: list[Diagnostic]) -> None:
    if when is not None:
        t, _, _ = outcomes(when)
        if not t:
            problems.append(source.diagnostic(path + ("when",), "R007", f"condition can never be true{detail}: the rule can never fire"))


def _templates(rule: Rule, when, require, source: Source, path: tuple, fields, names, constants, problems) -> dict:
    """The rule's rationale templates for the outcomes it can reach, checked and compiled."""
    templates = {}
    broken = (rule.when is not None and when is None) or (rule.require is not None and require is None)
    for status in _reachable(rule, when, require):
        text = getattr(rule.rationale, status)
        if text is None:
            if broken:  # its condition has problems (reported): what it can reach is unknown
                continue
            problems.append(source.diagnostic(path + ("rationale",), "R005", f"rationale.{status} is missing: the rule can end {status.replace('_', ' ')}"))
            continue
        template_problems = check_template(text, fields, names)
        line, col = source.loc(path + ("rationale", status))
        for tp in template_problems:
            problems.append(Diagnostic(source.path, line + tp.line - 1, col, tp.code, tp.message))
        if not template_problems:
            used = {name: value for name, value in constants.items() if attributes_read(text, name)}
            templates[status] = compile_template(text, used, origin=(source.path, line, col))
            # rendered once as the letter would, with no fact documented: a rule whose own values
            # (a long title read many times) overflow the rendering limit is refused here, not per case
            trial = templates[status].trial(_undocumented(fields) | {
                "rule": {"id": rule.id, "title": rule.title, "section": rule.section, "pages": rule.pages},
                "allowance": rule.allowance.model_dump() if rule.allowance else {}, "subject": "", "subjects": []})
            if trial is not None:
                problems.append(Diagnostic(source.path, line, col, trial.code, trial.message))
    return templates


def _undocumented(fields: dict[str, dict[str, str]]) -> dict:
    """Every fact as a template sees it when nothing is documented."""
    if _UNDOCUMENTED.get("fields") is not fields:  # one build of the rule base: one schema
        _UNDOCUMENTED.update(fields=fields, views={entity: FactView.of(None, fs) for entity, fs in fields.items()})
    return dict(_UNDOCUMENTED["views"])


_UNDOCUMENTED: dict = {}


def _constant_text(text: str, fields, names, constants, source: Source, path: tuple, problems: list[Diagnostic]) -> str:
    """A title, section, documentation line or note that may read the row or the tables, rendered once."""
    if not is_template(text):
        return text
    template_problems = check_template(text, {}, names)
    for tp in template_problems:
        line, col = source.loc(path)
        problems.append(Diagnostic(source.path, line + tp.line - 1, col, tp.code, tp.message))
    if template_problems:
        return text
    try:
        return render_constant(text, constants)
    except Exception as exc:  # a filter applied to the wrong kind of value, say
        problems.append(source.diagnostic(path, "T001", f"template cannot be rendered: {exc}"))
        return text


def _merged_metadata(metadata, path: tuple, row: "_Row", text) -> "Metadata":
    """The rule's notes and the row's (or, when the row gives none, the table's), each rendered for the row."""
    extra, where = (row.row.metadata, row.path + ("metadata",)) if row.row.metadata is not None else (row.table_model.metadata, ("tables", row.table, "metadata"))
    own = {k: [text(t, path=path + ("metadata", k, j)) for j, t in enumerate(getattr(metadata, k))] for k in ("unverified", "sources")}
    more = {k: [text(t, path=where + (k, j)) for j, t in enumerate(getattr(extra, k))] for k in ("unverified", "sources")}
    notes = [text(n, path=p) for n, p in ((metadata.notes, path + ("metadata", "notes")), (extra.notes, where + ("notes",))) if n]
    return Metadata(unverified=list(dict.fromkeys(own["unverified"] + more["unverified"])),
                    sources=list(dict.fromkeys(own["sources"] + more["sources"])), notes=" ".join(notes) or None)


@dataclass
class _Row:
    table: str
    table_model: Table
    index: int
    row: Row
    values: dict
    diagnosis: object | None
    path: tuple

    @property
    def key(self) -> str:
        return self.values["id"]


def _table_rows(pack: Pack, source: Source, fields, values, problems: list[Diagnostic]) -> dict[str, list[_Row]]:
    """Each table's rows with their values (and letter text) and parsed `diagnosis` conditions."""
    out: dict[str, list[_Row]] = {}
    names = {ALLOWANCE: set(COLUMNS) | set(DERIVED)}
    for name, table in pack.tables.items():
        tpath = ("tables", name)
        for where, text in [(("text",), table.text)] + [(("metadata", k, j), t) for k in ("unverified", "sources") for j, t in enumerate(getattr(table.metadata, k))] + [(("metadata", "notes"), table.metadata.notes)]:
            if text is not None:
                for tp in check_template(text, {}, names):
                    line, col = source.loc(tpath + where)
                    problems.append(Diagnostic(source.path, line + tp.line - 1, col, tp.code, tp.message))
        rows, keys = [], {}
        for r, row in enumerate(table.rows):
            rpath = tpath + ("rows", r)
            row_values_ = row_values(row)
            if row.key in keys:
                problems.append(source.diagnostic(rpath, "R012", f"row key '{row.key}' also used by row {keys[row.key] + 1} of table '{name}': give `id`"))
                continue
            keys[row.key] = r
            diagnosis = None
            if row.diagnosis is not None:
                diagnosis = _parse_condition(row.diagnosis, source, rpath + ("diagnosis",), fields, values, problems)
                if diagnosis is None:
                    continue
            template = row.text or table.text
            if template is None:
                row_values_["text"] = row_values_["course"]
            else:
                where = rpath + ("text",) if row.text else tpath + ("text",)
                lacking = missing(row_values_, attributes_read(template, ALLOWANCE))
                if lacking:
                    problems.append(source.diagnostic(rpath, "R013", f"row '{row.key}' of table '{name}' has no {', '.join(f'`{c}`' for c in lacking)}, which its `text` reads"))
                    continue
                row_values_["text"] = _constant_text(template, {}, names, {ALLOWANCE: row_values_}, source, where, problems)
            rows.append(_Row(name, table, r, row, row_values_, diagnosis, rpath))
        out[name] = rows
    return out


def _rows_of(table: str | None, tables: dict[str, list[_Row]], source: Source, path: tuple, problems) -> list[_Row] | None:
    """The rows a rule or scope is expanded over (None: it names no table)."""
    if table is None:
        return None
    if table not in tables:
        known = ", ".join(sorted(tables)) or "none"
        problems.append(source.diagnostic(path + ("table",), "R012", f"unknown table '{table}' (tables of this pack: {known})"))
        return []
    return tables[table]


def _columns_read(rule: Rule, when, require) -> set[str]:
    """The row's columns a table rule reads, in its conditions and in its texts."""
    read = {r.field for expr in (when, require) if expr is not None for r in refs(expr) if r.entity == ALLOWANCE}
    texts = [rule.title, rule.section, *rule.documentation, *rule.metadata.unverified, *rule.metadata.sources, rule.metadata.notes,
             rule.rationale.met, rule.rationale.not_met, rule.rationale.not_documented]
    for text in texts:
        if text:
            read |= attributes_read(text, ALLOWANCE)
    return read


def _expand(expr, row: _Row, owner: str, source: Source, path: tuple, values, problems: list[Diagnostic]):
    """A condition for one row: the row's values substituted as literals, checked like any literal."""
    if expr is None:
        return None
    uses: list = []
    out = substitute(expr, row.values, row.diagnosis, uses)
    for ref, column, value in uses:
        known = values.get(str(ref))
        if isinstance(value, str) and known is not None and value not in known:
            problems.append(source.diagnostic(row.path + (column,), "C002", f"'{value}' is not a known value of {ref} (known: {', '.join(sorted(known))}), which {owner} compares it with"))
    try:
        outcomes(out)
    except TooComplex as exc:
        problems.append(_condition_diag(source, path, ConditionError(f"{exc} (row '{row.key}')"), "C005"))
    return out


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


def _postsurgical_links(files: RuleFiles) -> list[Diagnostic]:
    """A table row naming a surgery (`procedure:`) and the surgery's `postsurgical:` packs in
    vocabulary/procedures.yaml must name each other, so either side lists a surgery's courses."""
    problems = []
    procedures = files.vocabulary.procedures.procedures
    rows_of: dict[str, set[str]] = {}
    misspelt: set[str] = set()
    for lp in files.packs:
        named = rows_of.setdefault(lp.pack.pack, set())
        for name, table in lp.pack.tables.items():
            for r, row in enumerate(table.rows):
                if row.procedure is None:
                    continue
                if row.procedure not in procedures:
                    misspelt.add(lp.pack.pack)  # reported once, by the condition checks
                    continue
                named.add(row.procedure)
                if lp.pack.pack not in procedures[row.procedure].postsurgical:
                    problems.append(lp.source.diagnostic(("tables", name, "rows", r, "procedure"), "R015",
                        f"surgery '{row.procedure}' has a course in this table, but vocabulary/procedures.yaml does not list '{lp.pack.pack}' under its `postsurgical:`"))
    for lp in files.packs:
        for key, procedure in procedures.items():
            if lp.pack.pack in procedure.postsurgical and key not in rows_of[lp.pack.pack] and lp.pack.pack not in misspelt:
                problems.append(lp.source.diagnostic(("pack",), "R015",
                    f"vocabulary/procedures.yaml lists this pack under `postsurgical:` of '{key}', but no table row of the pack has `procedure: {key}`"))
    return problems


def _within(inner: Effective, outer: Effective) -> bool:
    return inner.from_ >= outer.from_ and (outer.to is None or (inner.to is not None and inner.to <= outer.to))


def _span(e: Effective) -> str:
    return f"{e.from_}..{e.to or ''}"


def _carried_over(lp: LoadedPack, profiles: dict[str, Profile]) -> list[Diagnostic]:
    """R016: a carried-over declaration (of the pack, or of one rule) lies inside the pack's
    effective dates and inside the history period it names, of a jurisdiction that ranks the pack,
    and overlaps no other declaration of its owner: else the letter would name an edition's values
    for days they were not applied, or under an edition that does not exist."""
    pack, source = lp.pack, lp.source
    periods = {e.name: e.effective for p in profiles.values() if p.rank_of(pack) for e in p.history}
    owners = [(("carried_over",), pack.carried_over)]
    owners += [(("rules", lp.index(n), "carried_over"), r.carried_over) for n, r in enumerate(pack.rules)]
    problems = []
    for base, declarations in owners:
        for n, c in enumerate(declarations):
            path = base + (n,)
            if not _within(c.applied, pack.effective):
                problems.append(source.diagnostic(path + ("applied",), "R016",
                    f"values carried over on {_span(c.applied)}, outside the pack's effective dates {_span(pack.effective)}"))
            if c.into not in periods:
                known = "; ".join(f"'{name}'" for name in periods) or "none: no profile that ranks the pack has a history"
                problems.append(source.diagnostic(path + ("into",), "R016",
                    f"'{c.into}' names no period of the guideline history of a jurisdiction that ranks this pack (known: {known})"))
            elif not _within(c.applied, periods[c.into]):
                problems.append(source.diagnostic(path + ("applied",), "R016",
                    f"values carried over on {_span(c.applied)}, outside the period '{c.into}' ({_span(periods[c.into])})"))
            for m, earlier in enumerate(declarations[:n]):
                if c.applied.from_ <= (earlier.applied.to or dt.date.max) and earlier.applied.from_ <= (c.applied.to or dt.date.max):
                    problems.append(source.diagnostic(path + ("applied",), "R016",
                        f"values carried over on {_span(c.applied)} overlap declaration {m + 1} ({_span(earlier.applied)}): one edition's values a day"))
    return problems


def load_rule_base(root=None) -> RuleBase:
    return build_rule_base(load_rule_files(root))
