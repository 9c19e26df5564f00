"""ICD-10-CM look-up for the page: by code (a prefix) or by words, from the real code set.

The code set is engine.model.icd10's (simple-icd-10-cm's data files): billable codes with their
descriptions, indexed once per process on the first look-up (the descriptions are read from the
tabular XML then, about two seconds). Answers are bounded: a query of at most MAX_QUERY
characters, at most MAX_MATCHES matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.model import icd10

MAX_QUERY = 100
MAX_MATCHES = 20
CODE_LIKE = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z.]{0,6}$")


@lru_cache(maxsize=1)
def _index() -> tuple[tuple[str, str, str], ...]:
    """(dotted code, description, lower-case description) of every billable code."""
    names = icd10._descriptions()  # the module's reader of the tabular XML, read once
    out = []
    for code in icd10.billable_codes():
        text = names.get(code, "")
        out.append((code, text, text.lower()))
    return tuple(out)


def lookup(query: str) -> list[tuple[str, str]]:
    """(code, description) of up to MAX_MATCHES billable codes: those whose code starts with the
    query (dots ignored), or whose description holds every word of it."""
    query = query.strip()[:MAX_QUERY]
    if len(query) < 2:
        return []
    out: list[tuple[str, str]] = []
    if CODE_LIKE.match(query):
        bare = query.upper().replace(".", "")
        for code, text, _lower in _index():
            if code.replace(".", "").startswith(bare):
                out.append((code, text))
                if len(out) == MAX_MATCHES:
                    break
    if not out:
        words = [w for w in re.split(r"\W+", query.lower()) if len(w) >= 2][:8]
        for code, text, lower in _index() if words else ():
            if all(w in lower for w in words):
                out.append((code, text))
                if len(out) == MAX_MATCHES:
                    break
    return [(code, text or icd10.describe(code)) for code, text in out]


def description(code: str) -> str | None:
    """The code set's text for a code the reviewer typed without one (None when it is no code)."""
    try:
        return icd10.describe(icd10.normalise_icd10(code))
    except (ValueError, KeyError, AttributeError):
        return None
