"""Meaning checks of case files, beyond their schema: values no rule can know (W001), a first line
without the editor's schema (W002), text cut short by a YAML comment (W003), an `expected:` that
names an item not requested (E004)."""

from __future__ import annotations

import re
from pathlib import Path

from engine.load.cases import case_from_source
from engine.load.yaml_source import load_file
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
