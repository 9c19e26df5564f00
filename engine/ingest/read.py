"""`imr ingest`: one letter in, its structured record and its draft case out, or one positioned
line saying why the letter cannot be read (never a half-filled case)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.ingest.basis import Basis, cited_text, parse_basis
from engine.ingest.draft import Draft, case_of, item_id, render, schema_line
from engine.ingest.names import Names
from engine.ingest.requests import parse_request
from engine.ingest.sections import Letter, read_sections
from engine.ingest.summary import SummaryReader, dates
from engine.ingest.text import Sentence, read_letter
from engine.model.case import Case
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.vocabulary import Vocabulary

LETTER_SUFFIXES = (".txt", ".pdf")
_REPORT = re.compile(r"(?i)\b(?:report|visit|evaluation|examination|exam|note|progress|office|follow[- ]up|consultation|re-?evaluation)\b")
_UR = re.compile(r"(?i)\butilization review\b|\bUR\b|\bnon-?certif|\bdenied\b")


@dataclass
class Ingested:
    record: dict
    """The structured record (`imr ingest --format json`)."""
    text: str
    """The draft case file."""
    case: Case


def _request_date(letter: Letter) -> tuple[object, Sentence]:
    """The date of the request: a date in the sentence stating the request, else the latest date of
    the last dated report at or before it (the report whose treatment plan made the request)."""
    summary = letter.summary
    asks = [i for i, s in enumerate(summary) if re.search(r"(?i)\brequest", s.text) and not _UR.search(s.text)]
    last = asks[-1] if asks else len(summary) - 1
    for i in range(last, -1, -1):
        s = summary[i]
        found = dates(s.text)
        if found and (i == last and asks or _REPORT.search(s.text)):
            return max(d for d, _ in found), s
    raise letter.text.error(summary[0].start, "I008", "the summary states no date of the request (no dated report before the request): "
                                                      "the guideline edition in force cannot be known")


def _basis_json(bases: list[Basis]) -> list[dict]:
    return [{"text": b.text, "guideline": b.guideline, "document": b.document, "section": b.section, "pages": b.pages} for b in bases]


def ingest_letter(path: str | Path, vocab: Vocabulary, output: str | Path | None = None, schema_file: Path | None = None) -> Ingested:
    text = read_letter(path)
    letter = read_sections(text)
    names = Names(vocab)
    label = str(path)
    parsed, problems = [], []
    for section in letter.items:
        heading = section.heading.text(text)
        item = parse_request(heading, names)
        if item.problem:
            problems.append(text.diagnostic(section.heading.start, "I006", f"request '{heading[:60]}': {item.problem}"))
        parsed.append((section, heading, item))
    if problems:
        raise InputError(problems)
    reader = SummaryReader(names).read(letter.summary)
    request_date, request_sentence = _request_date(letter)
    draft = Draft(label)
    for fact in reader.facts:
        draft.put(fact, "  ")
    taken: set[str] = set()
    items, source_items, record_items = [], {}, []
    for section, heading, item in parsed:
        fields = dict(item.fields)
        iid = item_id(fields, taken)
        ordered = {"type": fields.pop("type"), "id": iid, "description": heading, **fields}
        where = f"{label}:{text.loc(section.heading.start)[0]}:{text.loc(section.heading.start)[1]}"
        notes = "; ".join(f"{k}: {v}" for k, v in item.notes.items())
        trace = [f"  # {where}: the disputed item as the letter states it" + (f" ({notes})" if notes else "")]
        items.append((ordered, trace))
        reviewer = parse_basis(section.reviewer_basis.text(text))
        admin = parse_basis(section.admin_basis.text(text))
        entry = {"outcome": section.decision}
        if reviewer:
            entry["cited_guideline"] = reviewer[0].guideline
            entry["cited"] = cited_text(reviewer)
        entry["quote"] = section.conclusion.text
        source_items[iid] = entry
        record_items.append({
            "id": iid, "request": heading, "line": text.loc(section.heading.start)[0], "col": text.loc(section.heading.start)[1],
            "decision": section.decision, "claims_administrator_basis": _basis_json(admin),
            "reviewer": section.reviewer_label or None, "reviewer_basis": _basis_json(reviewer),
            "rationale": section.rationale.text(text), "conclusion": section.conclusion.text,
            "item": ordered, "notes": item.notes,
        })
    source = {"address": label, "level": "IMR"}
    decided = dates(letter.decided_at.text) if letter.decided_at else []
    if decided:
        source["decided"] = decided[0][0]
    source["items"] = source_items
    head = [schema_line(output, schema_file) if schema_file else "# yaml-language-server: $schema=case.schema.json",
            f"# Draft case ingested from {label} by `imr ingest`. Each fact is traced to the letter's line and column",
            "# and the sentence it came from; what the clinical case summary does not state is left out (not",
            "# documented). The rationale is not read for facts: it is the reviewer's judgement the engine is measured",
            "# against (`source:`). Review the draft before adding it to a corpus."]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(label).stem).strip("-.") or "letter"
    case_id = ("ingest-" + stem)[:100]
    case_text = render(draft, head, case_id, "CA", (request_date, draft.trace(request_sentence, "the date of the request")),
                       items, source)
    try:
        case = case_of(case_text, label)
    except InputError as exc:  # a draft the model refuses is the ingester's gap for this letter: say so, write nothing
        first = exc.diagnostics[0]
        raise InputError([Diagnostic(label, 1, 1, "I009", f"the draft case does not validate ({first.code} {first.message}); nothing written")]) from None
    record = {
        "letter": label, "level": "IMR", "decided": source.get("decided"),
        "request_date": {"value": request_date, **_at(request_sentence)},
        "items": record_items,
        "summary": [_at(s) for s in letter.summary],
        "facts": [{"path": [p for p in f.path if p is not None], "value": f.value, "note": f.note, **_at(f.sentence)} for f in reader.facts],
        "not_facts": [{"what": m.what, "text": m.text, **_at(m.sentence)} for m in reader.mentions],
    }
    return Ingested(record, case_text, case)


def _at(s: Sentence) -> dict:
    return {"line": s.line, "col": s.col, "sentence": s.text}


def letter_files(folder: Path) -> list[Path]:
    """The letters of a folder (`.txt`, `.pdf`), in a stable order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in LETTER_SUFFIXES)
