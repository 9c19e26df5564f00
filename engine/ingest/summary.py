"""The facts a clinical case summary states, each with the sentence it came from.

Only what a sentence asserts becomes a fact: a negated mention ("denies", "no evidence of
functional benefit", "without") gives a documented `false` where the case model has a yes/no field
and nothing otherwise; a possibility ("rule out", "possible") gives nothing. A fact the summary
does not state is left out, which the case model reads as not documented.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from engine.ingest.names import Names, regions_in
from engine.ingest.negation import assertion, find
from engine.ingest.text import Sentence
from engine.model.icd10 import normalise_icd10

_MONTHS = {m: i for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august",
                                         "september", "october", "november", "december"], start=1)}
DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b|\b(" + "|".join(m.capitalize() for m in _MONTHS) + r")\s+(\d{1,2}),?\s+(\d{4})\b")


@dataclass(frozen=True)
class Fact:
    path: tuple
    """Where the value goes in the case (("injured_worker", "age"), ("diagnoses", 0))."""
    value: object
    sentence: Sentence
    note: str | None = None


@dataclass(frozen=True)
class Mention:
    """Something the summary says that is not a fact of the case model (kept in the record)."""

    what: str
    text: str
    sentence: Sentence


def dates(text: str) -> list[tuple[dt.date, re.Match]]:
    out = []
    for m in DATE.finditer(text):
        try:
            if m.group(1):
                out.append((dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2))), m))
            else:
                out.append((dt.date(int(m.group(6)), _MONTHS[m.group(4).lower()], int(m.group(5))), m))
        except ValueError:
            continue
    return out


# Named conditions whose ICD-10-CM code is unambiguous from the words alone (region and kind); any
# other named condition is kept by its words, uncoded.
CONDITIONS = (
    (re.compile(r"(?i)\blumbar\b.*\bdis[ck]\b.*\b(?:protrusion|herniation|displacement|bulge)s?\b.*\bradiculopathy\b"), "M51.16",
     "Intervertebral disc disorders with radiculopathy, lumbar region"),
    (re.compile(r"(?i)\bcervical\b.*\bdis[ck]\b.*\b(?:protrusion|herniation|displacement|bulge)s?\b.*\bradiculopathy\b"), "M50.10",
     "Cervical disc disorder with radiculopathy, unspecified cervical region"),
    (re.compile(r"(?i)^(?:chronic )?(?:cervicalgia|neck pain|cervical pain)$"), "M54.2", "Cervicalgia"),
    (re.compile(r"(?i)^(?:lumbar|cervical) radiculopathy$"), None, None),
)
_RADICULOPATHY = {"lumbar": ("M54.16", "Radiculopathy, lumbar region"), "cervical": ("M54.12", "Radiculopathy, cervical region")}
ICD10 = re.compile(r"\b([A-TV-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b")


def _code(phrase: str) -> tuple[str, str] | None:
    for pattern, code, title in CONDITIONS:
        if pattern.search(phrase):
            if code is None:
                return _RADICULOPATHY[phrase.split()[0].lower()]
            return code, title
    return None


def _items(listing: str) -> list[str]:
    listing = re.sub(r"(?i)\s*\(([^)]*)\)", r" (\1)", listing)
    parts = re.split(r",\s*(?:and\s+)?|;\s*|\s+and\s+(?=(?:rule out|r/o|a |an |the |history of |status post |chronic |[a-z]+ (?:pain|strain|sprain|syndrome|radiculopathy)))", listing)
    return [p.strip(" .") for p in parts if p.strip(" .")]


class SummaryReader:
    def __init__(self, names: Names):
        self.names = names
        self.facts: list[Fact] = []
        self.mentions: list[Mention] = []

    def read(self, sentences: list[Sentence]) -> "SummaryReader":
        for s in sentences:
            for step in (self._worker, self._injury, self._diagnoses, self._surgery, self._therapy, self._medications,
                         self._pain, self._work, self._flare):
                step(s)
        return self

    def _add(self, path: tuple, value, s: Sentence, note: str | None = None) -> None:
        self.facts.append(Fact(path, value, s, note))

    def _worker(self, s: Sentence) -> None:
        m = re.search(r"(?i)\b(\d{2,3})[- ]year[- ]old\s+(female|male|woman|man|gentleman|lady)\b", s.text)
        if m:
            self._add(("injured_worker", "age"), int(m.group(1)), s)
            self._add(("injured_worker", "sex"), "female" if m.group(2).lower() in ("female", "woman", "lady") else "male", s)

    def _injury(self, s: Sentence) -> None:
        for day, m in dates(s.text):
            if re.search(r"(?i)(?:injury|injured|hurt)(?: \w+){0,3} on\s*$|date of injury(?: of| on| was|:)?\s*$|\bDOI:?\s*$", s.text[:m.start()].rstrip()[-60:] + " "):
                self._add(("injured_worker", "date_of_injury"), day, s)
                return

    def _diagnoses(self, s: Sentence) -> None:
        m = re.search(r"(?i)\b(?:was|were|has been|is|had been) diagnosed with\b|\bdiagnoses (?:include|included|are|were|consist of)\b:?|\bdiagnosis(?: is| was|:)", s.text)
        if not m:
            return
        seen = set()
        for code in ICD10.findall(s.text):
            try:
                code = normalise_icd10(code)
            except ValueError:
                continue
            if code not in seen:
                seen.add(code)
                self._add(("diagnoses", None), {"code": code, "text": code}, s)
        for phrase in _items(s.text[m.end():]):
            if ICD10.search(phrase):
                continue
            start = s.text.find(phrase)
            stated = assertion(s.text, start, start + len(phrase)) if start >= 0 else "affirmed"
            if re.match(r"(?i)(rule out|r/o|possible|probable|suspected)\b", phrase) or stated != "affirmed":
                self.mentions.append(Mention("diagnosis not asserted (a possibility or negated): not coded", phrase, s))
                continue
            coded = _code(phrase)
            if coded is None:
                self.mentions.append(Mention("diagnosis named without an unambiguous ICD-10-CM code: not coded", phrase, s))
                continue
            if coded[0] not in seen:
                seen.add(coded[0])
                self._add(("diagnoses", None), {"code": coded[0], "text": phrase[:1].upper() + phrase[1:]}, s,
                          f"named '{phrase}': ICD-10-CM {coded[0]} ({coded[1]})")

    def _surgery(self, s: Sentence) -> None:
        for m in re.finditer(r"(?i)\b(?:status post|s/p|underwent|had undergone|has undergone|had an?|history of)\s+([^.;]+)", s.text):
            phrase = m.group(1)
            key = self.names.procedure(phrase)
            if key is None:
                continue
            if assertion(s.text, m.start(1), m.end(1)) != "affirmed" or assertion(s.text, m.start(), m.end()) == "negated":
                self.mentions.append(Mention(f"surgery {key} not asserted", phrase, s))
                continue
            surgery = {"procedure": key, "description": phrase.split(" (")[0].strip()[:1].upper() + phrase.split(" (")[0].strip()[1:],
                       "region": self.names.vocab.procedures.procedures[key].region}
            found = dates(phrase)
            if found:
                surgery["date"] = found[0][0]
            self._add(("surgeries", None), surgery, s)
            return

    def _therapy(self, s: Sentence) -> None:
        """Prior therapy: a service in "treatment to date", a request for *additional* therapy for a
        region, a count of visits completed, a statement of functional improvement (or its denial).
        A sentence that states the request gives only the *additional* lines: its counts are the
        visits requested, not those completed."""
        text = s.text
        services = self._services_in(text)
        if not services:
            return
        requesting = bool(re.search(r"(?i)\brequest", text))
        past = re.search(r"(?i)treatment to date|\bha(?:s|ve|d) (?:had|received|completed|undergone|attended|tried)|\bcompleted\b|"
                         r"\breceived\b|\bunderwent\b|\bprior\b|\bprevious(?:ly)?\b|\bpast\b", text)
        for key, m in services:
            clause = _clause_of(text, m.start(), m.end())
            for region in self._regions_of(text, m):
                line = ("treatment_history", key, region)
                additional = re.search(r"(?i)\b(?:additional|continued|further|more|ongoing)\s+(?:\w+\s+){0,2}$", text[:m.start()])
                if additional:
                    self._add(line, {}, s, f"'{additional.group(0).strip()} {m.group(0)}' for the {region.replace('_', ' ')}: "
                                           f"prior {key.replace('_', ' ')} there")
                if requesting or not past:
                    continue
                if region == "other":
                    self.mentions.append(Mention(f"prior {key.replace('_', ' ')}, body region not stated", m.group(0), s))
                    continue
                if assertion(text, m.start(), m.end()) == "negated":
                    self.mentions.append(Mention(f"{key.replace('_', ' ')} mentioned as not done", m.group(0), s))
                    continue
                self._add(line, {}, s)
                count = re.search(r"(?i)\b(\d{1,3})\s+(?:sessions?|visits?|treatments?)\b", text[clause[0]:clause[1]])
                if count and assertion(text, clause[0] + count.start(), clause[0] + count.end()) == "affirmed":
                    self._add(line + ("visits_completed",), int(count.group(1)), s)
                for fi, stated in find(text, FUNCTIONAL):
                    if stated != "possible":
                        self._add(line + ("functional_improvement",), stated == "affirmed", s,
                                  None if stated == "affirmed" else f"'{fi.group(0)}' negated: documented absent")
                        break
                for _, stated in find(text, HOME_PROGRAM):
                    if stated == "affirmed":
                        self._add(line + ("home_exercise_program",), True, s)
                        break

    def _services_in(self, text: str):
        out, pos = [], 0
        while True:
            match = self.names.service(text[pos:])
            if match is None:
                return out
            if self.names.vocab.services.services[match.key].type == "therapy":
                out.append((match.key, _Span(text, pos + match.start, pos + match.end)))
            pos += match.end

    def _regions_of(self, text: str, m: "_Span") -> list[str]:
        """The regions a mention of therapy is for: those named just after it ("for the lumbar
        spine"), else "other" (the region is not stated; no history line is made for it)."""
        after = re.match(r"(?i)(?:[^,;.]{0,60}?)\bfor the\s+([^,;.]+)", text[m.end():])
        named = regions_in(after.group(1)) if after else []
        if named:
            return named
        return ["other"]

    def _medications(self, s: Sentence) -> None:
        m = re.search(r"(?i)\b(?:current )?medications?\s+(?:are|is|were|include[sd]?|consist of|listed as)(?:\s+listed as)?\s*:?\s*(.+)", s.text)
        if not m or re.search(r"(?i)\bno (?:current )?medications?\b", s.text):
            return
        status = "past" if re.search(r"(?i)\b(?:previous|prior|past) medications?\b", s.text) else "current"
        for piece in re.split(r",\s*(?:and\s+)?|;\s*|\s+and\s+", m.group(1)):
            piece = piece.strip(" .")
            if not piece:
                continue
            found = self.names.drugs(piece)
            if not found:
                self.mentions.append(Mention("medication not in the drug vocabulary: left out", piece, s))
                continue
            name = piece.strip()
            med = {"name": name[:1].upper() + name[1:], "drug": found[0].key, "status": status}
            dose = re.search(r"(\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?)\s*(mg|mcg|g)\b", piece, re.I)
            if dose:
                med["dose"] = f"{dose.group(1)} {dose.group(2).lower()}"
            self._add(("medications", None), med, s)

    def _pain(self, s: Sentence) -> None:
        scores = list(re.finditer(r"(?i)\b(\d{1,2}(?:\.\d)?)\s*(?:/|out of)\s*10\b", s.text))
        if len(scores) == 1 and re.search(r"(?i)\bpain\b", s.text):
            value = float(scores[0].group(1))
            if 0 <= value <= 10:
                self._add(("clinical_findings", "pain_score"), int(value) if value.is_integer() else value, s)
        elif len(scores) > 1:
            self.mentions.append(Mention("several pain scores in one sentence (with and without medication?): left out", s.text, s))

    def _work(self, s: Sentence) -> None:
        text = s.text
        rules = (
            (r"\b(?:temporarily )?totally disabled\b|\boff work\b|\bnot (?:currently )?working\b|\bhas not returned to work\b|\bTTD\b", "off work", False),
            (r"\bmodified (?:duty|work)\b|\blight duty\b|\bwork(?:ing)? with restrictions\b", "modified duty", True),
            (r"\bfull duty\b|\bregular duty\b|\breturned to (?:full |regular )?work without restrictions\b", "full duty", True),
        )
        for pattern, status, check in rules:
            m = re.search("(?i)" + pattern, text)
            if m and (not check or assertion(text, m.start(), m.end()) == "affirmed"):
                self._add(("clinical_findings", "work_status"), status, s)
                return

    def _flare(self, s: Sentence) -> None:
        for field, pattern in (("acute_flare_up", FLARE), ("new_injury", NEW_INJURY)):
            for m, stated in find(s.text, pattern):
                if stated != "possible":
                    self._add(("clinical_findings", field), stated == "affirmed", s,
                              None if stated == "affirmed" else f"'{m.group(0)}' negated: documented absent")
                    break


def _clause_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around a mention: from the previous to the next ';' or ', and' (or the sentence's ends)."""
    before = max((m.end() for m in re.finditer(r";|,\s+(?:and|but)\b", text[:start])), default=0)
    after = re.search(r";|,\s+(?:and|but)\b", text[end:])
    return before, end + after.start() if after else len(text)


@dataclass(frozen=True)
class _Span:
    text: str
    s: int
    e: int

    def start(self) -> int:
        return self.s

    def end(self) -> int:
        return self.e

    def group(self, _: int = 0) -> str:
        return self.text[self.s:self.e]


FUNCTIONAL = re.compile(r"(?i)\bfunctional (?:improvement|benefit|gains?|progress)s?\b|\bimprove(?:d|ment) (?:in )?function(?:al status|ing)?\b")
HOME_PROGRAM = re.compile(r"(?i)\bhome exercise program\b|\bhome program\b|\bHEP\b")
FLARE = re.compile(r"(?i)\b(?:acute )?flare[- ]?ups?\b|\bexacerbations?\b")
NEW_INJURY = re.compile(r"(?i)\bnew injur(?:y|ies)\b")
