"""The parts of an IMR determination letter: the clinical case summary and, per disputed item, its
heading (the request and its decision), the claims administrator's and the reviewer's guideline
basis and the decision rationale.

A letter that lacks a part is refused with one positioned line, never read half: not an IMR letter
(I001), no case summary (I002), no disputed item (I003), an item cut short or whose rationale
never concludes (I004: the letter is truncated), a rationale that concludes against its decision
(I005).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from engine.ingest.text import Sentence, Text

SUMMARY_HEADING = re.compile(r"\bCLINICAL CASE SUMMARY\b")
DECISIONS_HEADING = re.compile(r"\bIMR ISSUES,? DECISIONS,? AND RATIONALES?\b", re.I)
IMR_MARK = re.compile(r"\bIMR\b|Independent Medical Review|INDEPENDENT MEDICAL REVIEW")
ADMIN_LABEL = re.compile(r"Claims Administrator guideline\s*:", re.I)
REVIEWER_LABEL = re.compile(r"\b([A-Z][A-Za-z&]*(?: [A-Z][A-Za-z&]*){0,2}) guideline\s*:")
RATIONALE_LABEL = re.compile(r"Decision rationale\s*:", re.I)
HEADING_END = re.compile(r":\s*(Upheld|Overturned)\s*$", re.I)
INTRO = re.compile(r"(?i)(?:set forth below|disputed items?(?:/services?)?(?: are)?(?: as follows)?)\s*:\s*")
CONCLUSION = re.compile(r"\b(?:is|are)\s+(not\s+)?medically\s+necessary\b", re.I)
CAPS_HEADING = re.compile(r"^[A-Z][A-Z ,&/'-]{6,80}$")
SUMMARY_BOILERPLATE = re.compile(r"(?i)^[^.]*developed the following clinical case summary[^:]*:\s*")


@dataclass(frozen=True)
class Part:
    """A span of the flat text: [start, end)."""

    start: int
    end: int

    def text(self, text: Text) -> str:
        return text.flat[self.start:self.end].strip()


@dataclass(frozen=True)
class ItemSection:
    heading: Part
    """The request as the letter states it ("Physical therapy 2 times a week ..."), decision excluded."""
    decision: str
    """Upheld or Overturned."""
    decision_at: int
    admin_basis: Part
    reviewer_basis: Part
    reviewer_label: str
    """Who the reviewer's basis is under ("MAXIMUS")."""
    rationale: Part
    conclusion: Sentence
    """The rationale's sentence that concludes on medical necessity (the source's quote)."""


@dataclass(frozen=True)
class Letter:
    text: Text
    summary: list[Sentence]
    items: list[ItemSection]
    decided_at: Sentence | None
    """The sentence giving the determination's date, where the letter has one."""


def _heading_at(text: Text, pattern: re.Pattern) -> re.Match | None:
    """The first line of the file that is this heading (a heading is a line of its own)."""
    for m in pattern.finditer(text.flat):
        line, _ = text.loc(m.start())
        if pattern.search(text.lines[line - 1].strip()) and len(text.lines[line - 1].strip()) <= len(m.group(0)) + 4:
            return m
    return None


def _next_heading(text: Text, after: int) -> int:
    """Where the next all-capitals heading line after `after` starts (or the end of the letter)."""
    for start in text.starts[bisect_right(text.starts, after):]:
        line, _ = text.loc(start)
        if CAPS_HEADING.match(text.lines[line - 1].strip()):
            return start
    return len(text.flat)


def read_sections(text: Text) -> Letter:
    decisions = _heading_at(text, DECISIONS_HEADING)
    if decisions is None:
        if IMR_MARK.search(text.flat):
            last = max(len(text.flat) - 1, 0)
            raise text.error(last, "I001", f"the letter ends (line {text.loc(last)[0]}) without its 'IMR ISSUES, DECISIONS AND "
                                           f"RATIONALES' section: truncated, or not a determination")
        raise text.error(0, "I001", "not an IMR determination letter: no 'IMR ISSUES, DECISIONS AND RATIONALES' section")
    summary_heading = _heading_at(text, SUMMARY_HEADING)
    if summary_heading is None or summary_heading.start() > decisions.start():
        raise text.error(decisions.start(), "I002", "no 'CLINICAL CASE SUMMARY' section before the decisions: the facts of the case are missing")
    body = summary_heading.end()
    boilerplate = SUMMARY_BOILERPLATE.search(text.flat[body:].lstrip())
    if boilerplate:
        body += len(text.flat[body:]) - len(text.flat[body:].lstrip()) + boilerplate.end()
    summary = text.sentences(body, min(decisions.start(), _next_heading(text, summary_heading.end())))
    if not summary:
        raise text.error(summary_heading.start(), "I002", "the 'CLINICAL CASE SUMMARY' section is empty")
    end = _next_heading(text, decisions.end())
    items = _items(text, decisions.end(), end)
    return Letter(text, summary, items, _decided(text, summary_heading.start()))


def _items(text: Text, start: int, end: int) -> list[ItemSection]:
    flat = text.flat
    labels = [m for m in ADMIN_LABEL.finditer(flat, start, end)]
    if not labels:
        raise text.error(start, "I003", "no disputed item in the decisions section (no 'Claims Administrator guideline:'): the letter is truncated or not a determination")
    intro = INTRO.search(flat, start, labels[0].start())
    heading_starts = [_heading_start(text, intro.end() if intro else start, labels[0].start())]
    for label in labels[1:]:
        heading_starts.append(_heading_start(text, heading_starts[-1], label.start()))
    items = []
    for i, label in enumerate(labels):
        block_end = heading_starts[i + 1] if i + 1 < len(labels) else end
        items.append(_item(text, heading_starts[i], label, block_end))
    return items


def _heading_start(text: Text, floor: int, label_at: int) -> int:
    """Where the heading before a label begins: the first line after the last line that ends a
    sentence (the previous rationale's conclusion) or the decisions' introduction, never before `floor`."""
    flat, starts = text.flat, text.starts
    chosen = floor
    for s in starts[bisect_right(starts, floor):bisect_left(starts, label_at)]:
        previous = flat[max(floor, s - 61):s].rstrip()  # the end of the line before: lines are joined by one space
        if previous.endswith(".") or INTRO.search(previous + " "):
            chosen = s
    return chosen


def _item(text: Text, head_at: int, label: re.Match, block_end: int) -> ItemSection:
    flat = text.flat
    heading_text = flat[head_at:label.start()]
    decided = HEADING_END.search(heading_text.rstrip())
    if not decided:
        raise text.error(head_at, "I003", f"the disputed item '{_short(heading_text)}' has no decision (': Upheld' or ': Overturned') before its guideline basis")
    heading = Part(head_at, head_at + decided.start())
    reviewer = _reviewer_label(text, label.end(), block_end)
    rationale = RATIONALE_LABEL.search(flat, label.end(), block_end)
    name = _short(heading.text(text))
    if rationale is None:
        raise text.error(label.start(), "I004", f"item '{name}' has no 'Decision rationale:': the letter is truncated")
    if reviewer is not None and reviewer.start > rationale.start():
        reviewer = None
    admin = Part(label.end(), reviewer.start if reviewer else rationale.start())
    reviewer_basis = Part(reviewer.end, rationale.start()) if reviewer else Part(rationale.start(), rationale.start())
    body = Part(rationale.end(), block_end)
    sentences = text.sentences(body.start, body.end)
    concluding = [s for s in sentences if CONCLUSION.search(s.text)]
    if not sentences or not concluding or not sentences[-1].text.endswith("."):
        raise text.error(rationale.start(), "I004", f"the rationale of item '{name}' does not end in a conclusion on medical necessity ('... is (not) medically necessary'): the letter may be truncated")
    conclusion = concluding[-1]
    decision = decided.group(1).capitalize()
    says_not = bool(CONCLUSION.search(conclusion.text).group(1))
    if says_not != (decision == "Upheld"):
        raise text.error(conclusion.start, "I005", f"item '{name}' is {decision}, but its rationale concludes it "
                                                  f"{'is not' if says_not else 'is'} medically necessary")
    return ItemSection(heading, decision, head_at + decided.start(1), admin, reviewer_basis,
                       reviewer.label if reviewer else "", body, conclusion)


@dataclass(frozen=True)
class _Label:
    start: int
    end: int
    label: str


def _reviewer_label(text: Text, start: int, end: int) -> _Label | None:
    """The reviewer's "<NAME> guideline:" label: its name's words from the latest line start within
    it ("Low Back Chapter. MAXIMUS guideline:" is the reviewer MAXIMUS)."""
    starts = text.starts
    for m in REVIEWER_LABEL.finditer(text.flat, start, end):
        if m.group(1).lower().startswith("claims administrator"):
            continue
        inside = starts[bisect_left(starts, m.start(1)):bisect_left(starts, m.end(1))]
        begin = inside[-1] if inside else m.start(1)
        return _Label(begin, m.end(), text.flat[begin:m.start(1) + len(m.group(1))])
    return None


_DATED = re.compile(r"(?i)\b(?:date of (?:the )?(?:final )?determination|determination date|dated\s*:)\s*:?\s*"
                    r"(\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]+ \d{1,2}, \d{4})")


def _decided(text: Text, before: int) -> Sentence | None:
    m = _DATED.search(text.flat, 0, before)
    if not m:
        return None
    line, col = text.loc(m.start(1))
    return Sentence(m.group(1), line, col, m.start(1))


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
