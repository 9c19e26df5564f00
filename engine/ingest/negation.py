"""Whether a sentence asserts a concept, denies it or only raises it: a small NegEx-style rule set.

After Chapman et al., "A simple algorithm for identifying negated findings and diseases in
discharge summaries" (J Biomed Inform 2001): a trigger phrase before the concept ("no", "denies",
"without", "no evidence of") or after it ("was ruled out", "is absent") negates it, unless a
pseudo-trigger ("no increase", "not only") stands there instead; the trigger's scope ends at a
termination term ("but", "however", "although") or after a few words. Uncertainty ("rule out",
"possible", "suspected") is kept apart: a possibility is not a fact either.

Why not a library: medspaCy's ConText (and negspacy) work with a blank spaCy pipeline and no model
download, but measured here they add spaCy, thinc and numpy (288 MB installed), 2.5 s of import
and pipeline start and 113 MB of memory to a command that otherwise starts in half a second, and
they log every sentence on standard error. The letters are short and their negations plain.
"""

from __future__ import annotations

import re
from typing import Literal

Assertion = Literal["affirmed", "negated", "possible"]

PRE_NEGATION = (
    "no evidence of", "no clear evidence of", "no clear measurable evidence of", "no objective evidence of",
    "no documentation of", "no documented", "no report of", "no reports of", "no sign of", "no signs of",
    "no history of", "no complaints of", "negative for", "absence of", "free of", "lack of", "lacks",
    "has not had", "have not had", "has not", "have not", "had not", "did not", "does not", "do not",
    "is not", "are not", "was not", "were not", "not", "no", "denies", "denied", "deny", "without", "never",
    "none", "neither", "nor", "failed to show", "fails to show", "unable to demonstrate", "not documented",
)
POST_NEGATION = ("was ruled out", "were ruled out", "is ruled out", "has been ruled out", "is absent", "was absent",
                 "were absent", "was negative", "were negative", "is negative", "not documented", "was not documented",
                 "is not documented", "not noted", "was denied", "were denied", "is denied")
PSEUDO = ("no increase", "no change in medication", "not only", "not necessarily", "without difficulty",
          "no further", "not certain if", "gram negative", "no suspicious change")
UNCERTAIN_PRE = ("rule out", "r/o", "ruled out for", "possible", "possibly", "probable", "suspected", "suspect",
                 "questionable", "question of", "concern for", "evaluate for", "consider", "if", "whether")
UNCERTAIN_POST = ("cannot be excluded", "cannot be ruled out", "is suspected", "was suspected", "is questioned")
TERMINATION = ("but", "however", "although", "though", "except", "yet", "aside from", "apart from", "which", "who",
               "whereas", "while", "since", "because", "as of", "other than", "still")
WINDOW = 8
"""Words a trigger reaches (NegEx's later versions use five to six; the letters' phrases are longer)."""


def _pattern(phrases) -> re.Pattern:
    alternatives = sorted(phrases, key=len, reverse=True)
    return re.compile(r"(?<![\w/])(?:" + "|".join(re.escape(p) for p in alternatives) + r")(?![\w/])", re.I)


_PRE, _POST, _PSEUDO = _pattern(PRE_NEGATION), _pattern(POST_NEGATION), _pattern(PSEUDO)
_UNCERTAIN_PRE, _UNCERTAIN_POST, _TERMINATION = _pattern(UNCERTAIN_PRE), _pattern(UNCERTAIN_POST), _pattern(TERMINATION)
_CLAUSE = re.compile(r"[;:]|,\s+(?:and|but|or)\b|\.\s")
_WORD = re.compile(r"[\w'/-]+")


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _masked(sentence: str) -> str:
    """The sentence with pseudo-triggers blanked (same length), so "no increase" negates nothing."""
    return _PSEUDO.sub(lambda m: " " * len(m.group(0)), sentence)


def _reaches_forward(sentence: str, trigger_end: int, concept_start: int) -> bool:
    between = sentence[trigger_end:concept_start]
    return _words(between) <= WINDOW and not _TERMINATION.search(between) and not _CLAUSE.search(between)


def _reaches_back(sentence: str, concept_end: int, trigger_start: int) -> bool:
    between = sentence[concept_end:trigger_start]
    return _words(between) <= WINDOW // 2 and not _TERMINATION.search(between) and not _CLAUSE.search(between)


def assertion(sentence: str, start: int, end: int) -> Assertion:
    """How `sentence` speaks of the concept at sentence[start:end]: affirmed, negated or possible."""
    reach = 400  # characters either side: far more than WINDOW words, and a bound on a sentence of a megabyte
    offset = max(0, start - reach)
    sentence, start, end = sentence[offset:end + reach], start - offset, end - offset
    text = _masked(sentence)
    before, after = text[:start], text[end:]
    for m in _PRE.finditer(before):
        if _reaches_forward(text, m.end(), start):
            return "negated"
    for m in _POST.finditer(after):
        if _reaches_back(text, end, end + m.start()):
            return "negated"
    for m in _UNCERTAIN_PRE.finditer(before):
        if _reaches_forward(text, m.end(), start):
            return "possible"
    for m in _UNCERTAIN_POST.finditer(after):
        if _reaches_back(text, end, end + m.start()):
            return "possible"
    return "affirmed"


def find(sentence: str, pattern: re.Pattern) -> list[tuple[re.Match, Assertion]]:
    """Every match of `pattern` in the sentence with how the sentence asserts it."""
    return [(m, assertion(sentence, m.start(), m.end())) for m in pattern.finditer(sentence)]
