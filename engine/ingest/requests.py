"""A request line ("Physical therapy 2 times a week for 4 weeks for the lumbar spine", "Compounded
medication: Ketoprofen 10%, ... 300g with 3 refills", "12 sessions", "80 hours", "x 6") as the
fields of a requested item of the case model, with a note for each field that is read rather
than stated outright (a form told by its strengths, sessions counted from hours)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from engine.ingest.names import Names, regions_in

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "twice": 2, "once": 1, "thrice": 3}
_N = r"(\d+|" + "|".join(_NUMBER_WORDS) + r")"
FREQUENCY = re.compile(rf"(?i)\b{_N}\s*(?:times|x|visits?|sessions?)?\s*(?:a|per|/)\s*(?:week|wk)\b|\b(twice|once|thrice)\s+(?:a|per)\s+week\b")
WEEKS = re.compile(rf"(?i)\b(?:for|x|times|over)\s*{_N}\s*(?:weeks?|wks?)\b")
BY = re.compile(r"(?i)\b(\d+)\s*x\s*(\d+)\b(?!\s*(?:mg|mcg|g|ml|%|hours?|days?))")
SESSIONS = re.compile(rf"(?i)\b{_N}\s*(?:additional\s+)?(?:sessions?|visits?|treatments?)\b")
TIMES = re.compile(r"(?i)(?:\bx|\bquantity:?|\bqty:?|#)\s*(\d+)\b(?!\s*(?:weeks?|wks?|hours?|days?|mg|mcg|g|ml|%|refills?))")
HOURS = re.compile(rf"(?i)\b{_N}\s*(?:hours?|hrs?)\b")
LEVELS = re.compile(rf"(?i)\b{_N}\s*levels?\b")
REFILLS = re.compile(rf"(?i)\b{_N}\s*refills?\b")
NO_REFILL = re.compile(r"(?i)\bno refills?\b|\bwithout refills?\b")
QUANTITY = re.compile(r"(?i)\b(\d+(?:\.\d+)?)\s*(g|gm|grams?|ml)\b(?!\s*%)")
STRENGTH = re.compile(r"(?i)^\s*(\d+(?:\.\d+)?)\s*(%|(?:mg|mcg|g)\b)")
TOPICAL = re.compile(r"(?i)\b(?:topical|cream|gel|ointment|lotion|liniment|compound(?:ed)? (?:cream|gel))\b")
PATCH = re.compile(r"(?i)\bpatch(?:es)?\b")
ORAL = re.compile(r"(?i)\b(?:tablets?|tabs?|capsules?|caps?|oral|po|by mouth|ER|XR|CR|SR|#\s*\d+)\b|\d\s*mg\b")
COMPOUND = re.compile(r"(?i)\bcompound(?:ed)?\b")
RENTAL = re.compile(r"(?i)\brent(?:al|ed)?\b")
PURCHASE = re.compile(r"(?i)\bpurchase\b|\bbuy\b")
APPROACH = re.compile(r"(?i)\b(transforaminal|interlaminar|caudal)\b")
HOURS_PER_SESSION = 8
"""A program session is one day of 8 hours (odg-tx-pain-chronic-pain-programs: 10 sessions = 80 hours)."""


def _int(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBER_WORDS[text.lower()]


@dataclass
class ParsedItem:
    fields: dict
    notes: dict = field(default_factory=dict)
    """Field name -> how the value was read, where it is not stated outright."""
    problem: str | None = None
    """Why the line cannot be an item of the case model (the letter is then refused: I006)."""


def parse_request(heading: str, names: Names) -> ParsedItem:
    text = " ".join(heading.split())
    service = names.service(text)
    drugs = names.drugs(text)
    if service is None and (drugs or COMPOUND.search(text) or PATCH.search(text) or TOPICAL.search(text)
                            or re.search(r"(?i)\bmedications?\b", text)):
        return _medication(text, names)
    if service is None:
        return _unknown(text)
    kind = names.vocab.services.services[service.key].type
    return _therapy(text, service.key) if kind == "therapy" else _procedure(text, service.key)


def _region(text: str, notes: dict) -> str:
    found = regions_in(text)
    if len(found) > 1:
        return "multiple"
    if not found:
        notes["region"] = "no body region named in the request line"
        return "other"
    return found[0]


def _therapy(text: str, service: str) -> ParsedItem:
    fields: dict = {"type": "therapy", "service": service}
    notes: dict = {}
    fields["region"] = _region(text, notes)
    frequency, weeks = FREQUENCY.search(text), WEEKS.search(text)
    by = BY.search(text)
    if frequency and weeks:
        fields["frequency_per_week"] = _int(frequency.group(1) or frequency.group(2))
        fields["duration_weeks"] = _int(weeks.group(1))
    elif by:  # "2x4": two a week for four weeks
        fields["frequency_per_week"], fields["duration_weeks"] = int(by.group(1)), int(by.group(2))
        notes["frequency_per_week"] = f"'{by.group(0)}' read as visits a week x weeks"
    sessions, times, hours = SESSIONS.search(text), TIMES.search(text), HOURS.search(text)
    if hours:
        fields["hours"] = _int(hours.group(1))
    count = sessions or times
    if count and not (frequency and weeks):
        fields["visits"] = _int(count.group(1))
        if weeks and not frequency:
            fields["duration_weeks"] = _int(weeks.group(1))
            if fields["visits"] % fields["duration_weeks"] == 0:
                fields["frequency_per_week"] = fields["visits"] // fields["duration_weeks"]
            else:
                del fields["duration_weeks"]  # the model asks visits = frequency x weeks: keep the visits stated
    if "visits" not in fields and "frequency_per_week" not in fields and hours:
        fields["visits"] = math.ceil(fields["hours"] / HOURS_PER_SESSION)
        notes["visits"] = (f"sessions not stated: {fields['hours']} hours at {HOURS_PER_SESSION} hours a program day "
                           f"(odg-tx-pain-chronic-pain-programs: 10 sessions = 80 hours)")
    if "visits" not in fields and "frequency_per_week" not in fields:
        return ParsedItem(fields, notes, "no number of visits, sessions, hours or weeks in the request")
    return ParsedItem(fields, notes)


def _procedure(text: str, service: str) -> ParsedItem:
    fields: dict = {"type": "procedure", "service": service}
    notes: dict = {}
    fields["region"] = _region(text, notes)
    levels = LEVELS.search(text)
    if levels:
        fields["levels"] = _int(levels.group(1))
    times = TIMES.search(text)
    if times:
        fields["quantity"] = int(times.group(1))
    if RENTAL.search(text):
        fields["acquisition"] = "rental"
    elif PURCHASE.search(text):
        fields["acquisition"] = "purchase"
    approach = APPROACH.search(text)
    if approach:
        fields["approach"] = approach.group(1).lower()
    weeks = WEEKS.search(text)
    if weeks:
        fields["duration_weeks"] = _int(weeks.group(1))
    return ParsedItem(fields, notes)


def _unknown(text: str) -> ParsedItem:
    """A service the vocabulary does not know (imaging, surgery, a consultation): a procedure item
    under its own name, which no rule reads, so the engine answers "No rule applies" for it."""
    name = re.split(r"[:,(]|\bfor\b|\bof the\b|\bx\s*\d", text, maxsplit=1)[0].strip() or text
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:64] or "unknown_service"
    if not key[0].isalpha():
        key = "service_" + key[:56]
    fields = {"type": "procedure", "service": key}
    notes = {"service": "not in the service vocabulary: no rule reads it"}
    fields["region"] = _region(text, notes)
    return ParsedItem(fields, notes)


def _medication(text: str, names: Names) -> ParsedItem:
    fields: dict = {"type": "medication"}
    notes: dict = {}
    body = text.split(":", 1)[1] if COMPOUND.search(text.split(":", 1)[0]) and ":" in text else text
    ingredients, unknown = [], []
    for m in names.drugs(body):
        ingredient = {"drug": m.key}
        strength = STRENGTH.match(body[m.end:])
        if strength:
            unit = strength.group(2).lower()
            ingredient["strength"] = f"{strength.group(1)}{'%' if unit == '%' else ' ' + unit}"
        ingredients.append(ingredient)
    covered = [(m.start, m.end) for m in names.drugs(body)]
    for piece in re.finditer(r"([A-Za-z][A-Za-z -]{2,40}?)\s+\d+(?:\.\d+)?\s*%", body):
        if not any(s <= piece.start(1) < e for s, e in covered):
            unknown.append(piece.group(1).strip())
    for name in unknown:  # an ingredient the drug vocabulary does not know: kept by its name (W001 says so)
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        if key and key[0].isalpha():
            ingredients.append({"drug": key[:64]})
            notes.setdefault("ingredients", f"not in the drug vocabulary: {', '.join(unknown)}")
    if not ingredients:
        return ParsedItem(fields, notes, "no drug of the vocabulary named in the medication request")
    fields["compounded"] = bool(COMPOUND.search(text)) or len(ingredients) > 1
    if PATCH.search(text):
        fields["form"] = "patch"
    elif TOPICAL.search(text):
        fields["form"] = "topical"
    elif fields["compounded"] and any(str(i.get("strength", "")).endswith("%") for i in ingredients):
        fields["form"] = "topical"
        notes["form"] = "not stated: a compound whose strengths are percentages is a topical preparation"
    elif ORAL.search(text):
        fields["form"] = "oral"
        notes["form"] = "not stated: a dose in mg or a count of tablets is taken by mouth"
    else:
        return ParsedItem(fields, notes, "the medication's form (oral, topical, patch) cannot be told from the request")
    fields["ingredients"] = ingredients
    quantity = QUANTITY.search(body)
    if quantity:
        unit = "g" if quantity.group(2).lower().startswith("g") else "ml"
        fields["quantity"] = f"{quantity.group(1)} {unit}"
    elif (count := re.search(r"(?i)(?:#|qty:?\s*|quantity:?\s*)(\d+)\b", body)):
        fields["quantity"] = count.group(1)
    refills = REFILLS.search(text)
    if refills:
        fields["refills"] = _int(refills.group(1))
    elif NO_REFILL.search(text):
        fields["refills"] = 0
    if fields["compounded"] and len(ingredients) < 2:
        return ParsedItem(fields, notes, "a compounded medication must list at least two ingredients")
    return ParsedItem(fields, notes)
