"""A guideline basis as the letter words it ("Decision based on MTUS Chronic Pain Treatment
Guidelines Physical Therapy, pages 98-99."), read into guideline family, document, section and pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLAUSE = re.compile(r"(?i)decision based on\s+")
_PAGES = re.compile(r"(?i),?\s*(?:pages?|page\(s\)|pp?\.)\s*:?\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*(?:,|and)\s*\d+(?:\s*[-–]\s*\d+)?)*)")
_DOCUMENTS = (
    ("Chronic Pain Medical Treatment Guidelines", re.compile(r"(?i)chronic pain(?: medical)? treatment guidelines?(?: \(\d{4}\))?")),
    ("Postsurgical Treatment Guidelines", re.compile(r"(?i)post-?surgical treatment guidelines?")),
    ("Acupuncture Medical Treatment Guidelines", re.compile(r"(?i)acupuncture medical treatment guidelines?")),
    ("Official Disability Guidelines", re.compile(r"(?i)official disability guidelines?(?: \(ODG\))?,?")),
    ("ACOEM", re.compile(r"(?i)(?:MTUS\s+)?\(?ACOEM\)?(?: practice guidelines?)?(?:,? \d+(?:st|nd|rd|th) ed(?:ition|\.)?)?,?")),
)


@dataclass(frozen=True)
class Basis:
    text: str
    """The clause as the letter gives it, "Decision based on" left off."""
    guideline: str
    """MTUS, ODG, ACOEM or other (source.CitedGuideline)."""
    document: str | None
    section: str | None
    pages: str | None

    def short(self) -> str:
        parts = [self.guideline if self.guideline != "other" else "", self.document or ""]
        head = " ".join(p for p in parts if p and not (self.guideline == "ODG" and p == "Official Disability Guidelines"))
        if self.guideline == "ODG" and self.document:
            head = "ODG"
        tail = ", ".join(p for p in (self.section, (f"pp. {self.pages}" if re.search(r"[-,]", self.pages) else f"p. {self.pages}") if self.pages else None) if p)
        return ", ".join(p for p in (head or self.text, tail) if p)


def family(clause: str) -> str:
    if re.search(r"(?i)non-mtus", clause):
        return "ODG" if re.search(r"\bODG\b|(?i:official disability)", clause) else "other"
    if re.search(r"\bMTUS\b", clause):
        return "MTUS"
    if re.search(r"\bACOEM\b", clause):
        return "ACOEM"
    if re.search(r"\bODG\b|(?i:official disability)", clause):
        return "ODG"
    return "other"


def parse_basis(text: str) -> list[Basis]:
    """Each "Decision based on ..." clause of a basis paragraph (the whole paragraph when it has none)."""
    pieces = [p.strip(" .;") for p in _CLAUSE.split(" ".join(text.split())) if p.strip(" .;")]
    out = []
    for piece in pieces:
        rest = re.sub(r"(?i)^non-mtus citation\s+", "", piece)
        rest = re.sub(r"^MTUS\s+", "", rest)
        document = None
        for name, pattern in _DOCUMENTS:
            m = pattern.search(rest)
            if m:
                document, rest = name, (rest[:m.start()] + rest[m.end():]).strip(" ,.")
                break
        pages = _PAGES.search(rest)
        section = (rest[:pages.start()] if pages else rest).strip(" ,.:") or None
        out.append(Basis(piece, family(piece), document, section, re.sub(r"\s+", "", pages.group(1)).replace("–", "-") if pages else None))
    return out


def cited_text(bases: list[Basis]) -> str | None:
    """The reviewer's basis in short form for `source.items.<id>.cited`: "MTUS Chronic Pain ..., pp. 98-99"."""
    return "; ".join(b.short() for b in bases) or None
