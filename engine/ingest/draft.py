"""The draft case file: YAML valid against the case model, a comment above each fact naming the
letter's line and column and quoting the sentence it came from, and a `source:` block with the real
outcome, the reviewer's guideline basis and the rationale's conclusion per item.

The draft is written as text (comments are the trace), then read back by the project's own case
loader, so what `imr ingest` writes is exactly what `imr decide` and `imr test` will read.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import yaml

from engine.load.cases import case_from_source
from engine.load.yaml_source import parse_text
from engine.model.case import Case

_SCALAR_LAST = {("clinical_findings", "pain_score"), ("clinical_findings", "work_status")}
"""Scalars where the last statement wins (a summary runs in time order: the latest report); any
other scalar keeps the first statement."""
MAX_QUOTE = 300


def scalar(value) -> str:
    """One YAML scalar or flow collection on one line, quoted where YAML needs it."""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True, sort_keys=False).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").rstrip()


def _comment(where: str, sentence: str, note: str | None = None, indent: str = "") -> str:
    quote = " ".join(sentence.split())
    if len(quote) > MAX_QUOTE:
        quote = quote[: MAX_QUOTE - 3] + "..."
    return f"{indent}# {where}: \"{quote}\"" + (f" ({note})" if note else "")


def schema_line(output: str | Path | None, schema_file: Path) -> str:
    """The editor's schema line, relative to where the draft is written (the current folder for stdout)."""
    base = Path(output).resolve().parent if output else Path.cwd()
    try:
        ref = os.path.relpath(schema_file.resolve(), base)
    except ValueError:  # another drive
        ref = str(schema_file.resolve())
    return f"# yaml-language-server: $schema={ref}"


class Draft:
    """Facts placed into the case's shape, each with its trace lines, written in the model's field order."""

    def __init__(self, letter_path: str):
        self.letter_path = letter_path
        self.scalars: dict[tuple, tuple[object, list[str]]] = {}
        self.lists: dict[str, list[tuple[object, list[str]]]] = {}
        self.history: dict[tuple[str, str], tuple[dict, list[str]]] = {}

    def trace(self, sentence, note=None, indent="") -> str:
        return _comment(f"{self.letter_path}:{sentence.where()}", sentence.text, note, indent)

    def put(self, fact, indent: str) -> None:
        path, value = fact.path, fact.value
        line = self.trace(fact.sentence, fact.note, indent)
        if path[0] == "treatment_history":
            key = (path[1], path[2])
            entry, lines = self.history.setdefault(key, ({"service": path[1], "region": path[2]}, []))
            if len(path) > 3:
                if path[3] in entry:
                    return
                entry[path[3]] = value
            if line not in lines:
                lines.append(line)
        elif path[1] is None:
            entries = self.lists.setdefault(path[0], [])
            same = next((e for e in entries if e[0] == value), None)
            if same is None:
                entries.append((value, [line]))
        elif path not in self.scalars or path in _SCALAR_LAST:
            self.scalars[path] = (value, [line])

    def mapping(self, name: str) -> list[str]:
        out = []
        fields = [(p[1], v) for p, v in self.scalars.items() if p[0] == name]
        if not fields:
            return out
        out.append(f"{name}:")
        previous: list[str] = []
        for field, (value, lines) in fields:
            out.extend(line for line in lines if line not in previous)  # one comment for the facts of one sentence
            previous = lines
            out.append(f"  {field}: {scalar(value)}")
        return out

    def listing(self, name: str, entries) -> list[str]:
        entries = list(entries)
        if not entries:
            return []
        out = [f"{name}:"]
        previous: list[str] = []
        for value, lines in entries:
            out.extend(line for line in lines if line not in previous)
            previous = lines
            out.append(f"  - {scalar(value)}")
        return out


def render(draft: Draft, head: list[str], case_id: str, jurisdiction: str, request, items: list[tuple[dict, list[str]]],
           source: dict) -> str:
    lines = list(head)
    lines.append(f"case_id: {scalar(case_id)}")
    lines.append(f"jurisdiction: {jurisdiction}")
    date, trace = request
    lines.append(trace)
    lines.append(f"request_date: {date.isoformat()}")
    lines += draft.mapping("injured_worker")
    lines += draft.listing("diagnoses", draft.lists.get("diagnoses", []))
    lines += draft.listing("surgeries", draft.lists.get("surgeries", []))
    lines += draft.listing("treatment_history", draft.history.values())
    lines += draft.mapping("clinical_findings")
    lines += draft.listing("medications", draft.lists.get("medications", []))
    lines.append("requested_items:")
    for fields, trace_lines in items:
        lines.extend(trace_lines)
        lines.append(f"  - {scalar(fields)}")
    lines.append("source:")
    for key, value in source.items():
        if key != "items":
            lines.append(f"  {key}: {scalar(value)}")
    lines.append("  items:")
    for item_id, entry in source["items"].items():
        lines.append(f"    {item_id}:")
        for key, value in entry.items():
            lines.append(f"      {key}: {scalar(value)}")
    return "\n".join(lines) + "\n"


def item_id(fields: dict, taken: set[str]) -> str:
    """A short, stable id: pt-lumbar, chiropractic-cervical, compound-topical, tramadol-oral."""
    if fields["type"] == "medication":
        base = f"{'compound' if fields.get('compounded') else fields['ingredients'][0]['drug'].replace('_', '-')}-{fields['form']}"
    else:
        words = fields["service"].split("_")
        short = "".join(w[0] for w in words) if len(words) > 1 and len(words) <= 4 else fields["service"].replace("_", "-")
        base = f"{short}-{fields['region'].replace('_', '-')}"
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", base)[:60] or "item"
    chosen, n = base, 2
    while chosen in taken:
        chosen, n = f"{base}-{n}", n + 1
    taken.add(chosen)
    return chosen


def case_of(text: str, label: str) -> Case:
    """The draft read back as `imr decide` reads a case file (its diagnostics name `label`)."""
    return case_from_source(parse_text(text, label))
