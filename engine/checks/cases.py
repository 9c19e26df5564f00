"""Meaning checks of case files, beyond their schema: values no rule can know (W001), a first line
without the editor's schema (W002), text cut short by a YAML comment (W003), control characters
in a value (W004, checks/text.py), a requested item whose diagnoses fall in no group of its topic
(W005), a current medication the drug vocabulary does not know (W006), an `expected:` that
names an item not requested (E004), an expectation naming a rule the rule base does not have (E006)
or naming one rule both as governing and as not fired (E007)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from engine.checks.diagnoses import PM_GROUP, place
from engine.checks.text import control_warnings
from engine.facts.build import item_diagnoses
from engine.facts.crosswalk import resolve_items
from engine.load.cases import JsonSource, case_from_source, load_source
from engine.model.case import BOTH_LISTS, slug
from engine.model import icd9
from engine.model.codes import resolve as resolve_codes
from engine.model.diagnostics import Diagnostic, InputError


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
    out.extend(_medication_warnings(source, data, vocab))
    return out


def _medication_warnings(source, data: dict, vocab) -> list[Diagnostic]:
    """W006: a current medication whose drug key (`drug`, else the slug of `name`) the drug
    vocabulary does not have: the rules that count current medications (an NSAID or an opioid
    taken now, GI-risk co-therapy, the morphine equivalents of the regimen) do not see it."""
    out = []
    drugs = vocab.drugs.drugs
    for i, med in enumerate(data.get("medications") or []):
        if not isinstance(med, dict) or med.get("status", "current") != "current":
            continue
        if isinstance(med.get("drug"), str):
            key, path, shown = med["drug"], ("medications", i, "drug"), f"drug '{med['drug']}'"
        elif isinstance(med.get("name"), str):
            key, path = slug(med["name"]), ("medications", i, "name")
            shown = f"'{med['name']}' (no `drug:`; read as '{key}')"
        else:
            continue
        if not key or key in drugs:
            continue
        close = difflib.get_close_matches(key, sorted(drugs), n=1, cutoff=0.8)
        hint = f"; did you mean '{close[0]}'?" if close else "; give its `drug:` key"
        out.append(source.diagnostic(path, "W006", f"current medication {shown} is not in vocabulary/drugs.yaml: the rules that count "
                                                   f"current medications (NSAID, opioid, GI-risk co-therapy, morphine equivalents) do not see it{hint}"))
    return out


def crosswalk_problems(source, case, vocab) -> list[Diagnostic]:
    """E011: a request code (CPT, HCPCS, RxNorm) the crosswalks cannot read as a key, at its line."""
    return [source.diagnostic(path, code, message) for path, code, message in resolve_items(case, vocab)[1]]


def code_warnings(source, case) -> list[Diagnostic]:
    """W007: a diagnosis code that is a non-billable header in the release in force on the request
    date (engine/model/codes.py; the errors of the same check stop the case when it is loaded)."""
    return [source.diagnostic(path, code, message) for path, code, message in resolve_codes(case)[2]]


def diagnosis_warnings(source, case, vocab, topics) -> list[Diagnostic]:
    """W005: a requested item of a topic whose rules read diagnosis groups (`topics`: the
    checks/diagnoses.py `topic_groups` of the rule base, or a function returning them), when none
    of the case's diagnoses of the item's region falls in one of them: for a topic whose tables
    select by diagnosis, no table row can fire; for one that reads groups as indications, none of
    the diagnoses is placed by vocabulary/diagnoses.yaml, so every group reads false without a
    diagnosis behind it (unknown, not false). Each diagnosis is named with the reason it does not count."""
    out = code_warnings(source, case)
    if not case.diagnoses:  # nothing to place: the determination itself says no diagnosis is documented
        return out
    topics = topics() if callable(topics) else topics
    if not topics:
        return out
    for i, item in enumerate(case.requested_items):
        topic_name, dx = item_diagnoses(case, item, vocab)
        topic = topics.get(topic_name)
        if topic is None:
            continue
        if topic.selects:
            found = any(dx.get(g) is True for g in topic.selecting if g != PM_GROUP) or (PM_GROUP in topic.selecting and PM_GROUP in dx)
        else:
            found = dx.get("count", 0) > 0
        if found:
            continue
        where = "" if item.region in ("multiple", "other") else f" of the {item.region} region"
        groups = ", ".join(sorted(topic.selecting if topic.selects else topic.groups))
        notes = [_why_icd9(d.code, item.region) if d.system == "icd9cm" else _why(vocab, d.code, topic, item.region) for d in case.diagnoses]
        if topic.selects:
            head = f"item '{item.id}' ({topic_name}): no diagnosis{where} falls in a group its tables select by ({groups})"
        else:
            head = f"item '{item.id}' ({topic_name}): no diagnosis{where} is placed by vocabulary/diagnoses.yaml, so its rules read {groups} as false"
        out.append(source.diagnostic(("requested_items", i), "W005", f"{head}: {'; '.join(notes)}"))
    return out


def _why_icd9(code: str, region: str) -> str:
    """An ICD-9-CM diagnosis is read through its GEM equivalents (facts/icd9_groups.py)."""
    found = sorted({c for reading in icd9.readings(code) for c in reading})
    if not found:
        return f"ICD-9-CM {code} has no ICD-10-CM equivalent in the GEM"
    shown = ", ".join(found[:6]) + (", ..." if len(found) > 6 else "")
    return f"ICD-9-CM {code} (GEM: {shown}) is read as what all its equivalents of the {region} region share, which is in none of these groups"


def _why(vocab, code: str, topic, region: str) -> str:
    """Why one diagnosis does not count for an item: its region, its deliberate ungrouping, or the vocabulary not knowing it."""
    p = place(vocab, code, topic)
    if p.status == "unknown":
        return f"{code} is not in vocabulary/diagnoses.yaml"
    if p.status == "ungrouped":
        return f"{code} is deliberately ungrouped ({p.prefix}: {p.reason})"
    if not (region in ("multiple", "other") or p.region in ("multiple", "other") or p.region == region):
        return f"{code} is of the {p.region} region"
    return f"{code} ({p.prefix}) is in none of these groups"


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


RULE_LISTS = ("governing", "not_fired", "review_rules")
_RULE_REF = re.compile(r"^[a-z0-9][a-z0-9.-]{2,99}(\[[a-z][a-z0-9_]{0,63}\])?$")


def expectation_problems(source, rule_ids=None) -> list[Diagnostic]:
    """Rule ids of long-form expectations, each at its line: one the rule base does not have (E006;
    `rule_ids` is the set of ids, or a function returning it, called only when some rule is named),
    one named both as governing and as not fired (E007)."""
    data = source.data if isinstance(source.data, dict) else {}
    expected = data.get("expected")
    named = []  # (item, list, index, rule id)
    for item, value in (expected.items() if isinstance(expected, dict) else ()):
        if isinstance(value, dict):
            for kind in RULE_LISTS:
                ids = value.get(kind)
                named.extend((item, kind, i, r) for i, r in enumerate(ids if isinstance(ids, list) else []) if isinstance(r, str))
    out = []
    for item, kind, i, rule in named:
        if kind == "not_fired" and rule in (expected[item].get("governing") or []):
            out.append(source.diagnostic(("expected", item, kind, i), "E007", f"expected.{item}: rule '{rule}' is named both in governing and in not_fired"))
    known = rule_ids() if callable(rule_ids) and named else rule_ids
    if known:
        for item, kind, i, rule in named:
            if rule not in known and _RULE_REF.match(rule):  # else the schema reports it
                close = difflib.get_close_matches(rule, sorted(known), n=1, cutoff=0.75)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                out.append(source.diagnostic(("expected", item, kind, i), "E006", f"expected.{item}.{kind}: unknown rule '{rule}'{hint}"))
    return out


def _superseded(d: Diagnostic, positioned: list[Diagnostic]) -> bool:
    """The model's own (unpositioned) report of a mistake a positioned check already reported."""
    codes = {p.code for p in positioned}
    return ("E004" in codes and "expected names items" in d.message) or ("E007" in codes and BOTH_LISTS in d.message)


def load_checked_case(path, rule_ids=None):
    """A case file as a Case, its expectations checked against the rule ids (`imr test`): every
    problem, positioned, in one InputError."""
    source = load_source(path)
    problems = expectation_problems(source, rule_ids)
    try:
        case = case_from_source(source)
    except InputError as exc:
        raise InputError(problems + [d for d in exc.diagnostics if not _superseded(d, problems)]) from None
    if problems:
        raise InputError(problems)
    return case


def check_case_file(path, vocab=None, rule_ids=None, topics=None) -> list[Diagnostic]:
    """Every problem of one case file; with `vocab`, the W-code value checks too, and with `topics`
    (the diagnosis groups each topic reads, or a function returning them) the diagnosis check W005."""
    try:
        source = load_source(path)
    except InputError as exc:
        return exc.diagnostics
    problems = _expected_problems(source) + expectation_problems(source, rule_ids) + control_warnings(source)
    yaml_text = None if isinstance(source, JsonSource) else Path(path).read_text(encoding="utf-8", errors="replace")
    if yaml_text is not None:  # a comment cutting text short and the editor's schema line are YAML's alone
        problems.extend(_cut_by_comment(yaml_text, str(path)))
    if yaml_text is not None and isinstance(source.data, dict) and "$schema=" not in yaml_text.split("\n", 1)[0]:
        problems.append(Diagnostic(str(path), 1, 1, "W002", "no `# yaml-language-server: $schema=` first line: editors cannot check this case (see schema/case.schema.json)"))
    case = None
    try:
        case = case_from_source(source)
    except InputError as exc:
        # the model's own (unpositioned) report of the same mistake gives way to the positioned one
        problems.extend(d for d in exc.diagnostics if not _superseded(d, problems))
    if vocab is not None:
        problems.extend(value_warnings(source, vocab))
        if case is not None:
            problems.extend(crosswalk_problems(source, case, vocab))
        if case is not None and topics is not None:
            problems.extend(diagnosis_warnings(source, case, vocab, topics))
    return problems
