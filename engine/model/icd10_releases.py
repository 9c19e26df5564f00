"""Which ICD-10-CM codes exist on a given day, and which of them are billable.

simple-icd-10-cm ships one release (FY2026). A request is checked against the release in force on
its date: codes created later (U07.1, 2020-04-01) or deleted earlier (M54.5 as a billable code,
2021-10-01) are told apart by a compact table (codesets/icd10cm_releases.tsv: the codes whose
validity changed after FY2016, with the day each entered and left the code set, derived from the
CMS and CDC/NCHS release files). A request before 2015-10-01 (ICD-9-CM then, but cases are often
recoded) is checked against the first ICD-10-CM release, FY2016. The table is read only for a
request dated before its last change: a current request reads the library's code set alone.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from functools import lru_cache
from pathlib import Path

from engine.model import icd10

FIRST_RELEASE = dt.date(2015, 10, 1)
"""ICD-10-CM replaced ICD-9-CM in the United States on this day (FY2016)."""
LAST_CHANGE = dt.date(2025, 10, 1)
"""The last day the table records a change (FY2026); from it on the library's code set is the release
in force (a test checks this against the table)."""
TABLE = Path(__file__).with_name("codesets") / "icd10cm_releases.tsv"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, str | None]]:
    """Undotted code -> (first day valid, first day no longer valid or None), as ISO text: compared
    as text (ISO dates sort as the days do), so reading the table parses no date."""
    out = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, start, end = line.split("\t")
            out[code.replace(".", "")] = (start, end or None)
    return out


@lru_cache(maxsize=1)
def _changes() -> tuple[dt.date, ...]:
    """Every day the code set changed (a release or a mid-year update), in order."""
    return tuple(sorted({dt.date.fromisoformat(d) for d in {d for pair in _table().values() for d in pair if d is not None}} | {FIRST_RELEASE}))


def _day(day: dt.date) -> dt.date:
    """The first day of the release in force on `day` (FY2016's before it): codes are the same all through a release."""
    if day >= LAST_CHANGE:
        return LAST_CHANGE
    if day <= FIRST_RELEASE:
        return FIRST_RELEASE
    changes = _changes()
    return changes[bisect_right(changes, day) - 1]


def _valid(name: str, day: dt.date) -> bool:
    """An undotted name of the code set valid on `day` (already moved to FIRST_RELEASE or later)."""
    if day < LAST_CHANGE:
        span = _table().get(name)
        if span is not None:
            iso = day.isoformat()
            return span[0] <= iso and (span[1] is None or iso < span[1])
    table = icd10._table()
    return table is not None and icd10._is_code(name, table)


def in_force(code: str, day: dt.date) -> bool:
    """Whether a code (dotted or not) is in the ICD-10-CM release in force on `day`."""
    return _valid(code.replace(".", "").upper(), _day(day))


def billable(code: str, day: dt.date) -> bool:
    """Whether a code in force on `day` is billable then: no code valid that day extends it."""
    return _billable(code.replace(".", "").upper(), _day(day))


@lru_cache(maxsize=65536)
def _billable(name: str, day: dt.date) -> bool:
    """A child adds one character, or a seventh after placeholder Xs (S33.5 -> S33.5XXA)."""
    for pad in range(0, max(0, 7 - len(name))):
        stem = name + "X" * pad
        if any(_valid(stem + ch, day) for ch in _ALNUM):
            return False
    return True


def span(code: str) -> tuple[dt.date, dt.date | None] | None:
    """The days a changed code was valid (first, first no longer), or None for a code of every release."""
    found = _table().get(code.replace(".", "").upper())
    return None if found is None else (dt.date.fromisoformat(found[0]), dt.date.fromisoformat(found[1]) if found[1] else None)


def release(day: dt.date) -> str:
    """The name of the release in force on `day`: 'FY2016', 'FY2020 (April 1, 2020 update)'."""
    last = _day(day)
    if last.month == 10 and last.day == 1:
        return f"FY{last.year + 1}"
    return f"FY{last.year if last.month < 10 else last.year + 1} ({last:%B} {last.day}, {last.year} update)"
