"""Names in a letter to the engine's vocabulary keys: services, drugs, surgical procedures and
regions. The spellings are derived from the vocabulary files themselves (each key and title), never
copied, so a service or drug an analyst adds there is recognised here too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from engine.model.case import slug
from engine.model.vocabulary import Vocabulary

REGIONS = (
    ("cervical", r"cervical|neck|c-spine"),
    ("thoracic", r"thoracic|mid[- ]back|t-spine"),
    ("lumbar", r"lumbar|lumbosacral|low(?:er)? back|l-spine"),
    ("shoulder", r"shoulders?"),
    ("elbow", r"elbows?"),
    ("wrist_hand", r"wrists?|hands?|fingers?|thumbs?"),
    ("hip", r"hips?"),
    ("knee", r"knees?"),
    ("ankle_foot", r"ankles?|feet|foot"),
)
"""Body words to the case model's regions (engine.model.enums.Region)."""
_REGION = [(key, re.compile(rf"(?i)\b(?:{words})\b")) for key, words in REGIONS]


def regions_in(text: str) -> list[str]:
    """The regions a phrase names, in order of first mention."""
    found = sorted((m.start(), key) for key, pattern in _REGION for m in [pattern.search(text)] if m)
    out = []
    for _, key in found:
        if key not in out:
            out.append(key)
    return out


def _phrase(words: str) -> str:
    return r"\b" + r"[\s-]+".join(re.escape(w) for w in words.split()) + r"s?\b"


@dataclass(frozen=True)
class Match:
    key: str
    start: int
    end: int


class Names:
    """Patterns built once from a vocabulary."""

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab

    @cached_property
    def _services(self) -> list[tuple[int, str, re.Pattern]]:
        """(rank, key, pattern): the key's own words rank before the title's and the aliases (the
        title "Work conditioning / work hardening" must not take "work hardening" from its key)."""
        out = []
        for key, service in self.vocab.services.services.items():
            if service.type == "medication":
                continue
            words = key.split("_")
            own = [_phrase(key.replace("_", " "))]
            if len(words) > 1:  # the initialism, in capitals only: PT, OT, ESI, UDS
                own.append(r"(?-i:\b" + "".join(w[0].upper() for w in words) + r"\b)")
            other = {p.strip() for p in service.title.lower().split("/") if p.strip()}
            capitals = [a for a in service.aliases if a.isupper()]
            other |= {a.lower() for a in service.aliases if not a.isupper()}
            out.append((0, key, re.compile("(?i)" + "|".join(own))))
            alternatives = [_phrase(s) for s in sorted(other, key=len, reverse=True)] + [rf"(?-i:\b{re.escape(a)}\b)" for a in capitals]
            out.append((1, key, re.compile("(?i)" + "|".join(alternatives))))
        return out

    def service(self, text: str) -> Match | None:
        """The service a request names (the earliest, the longest at one place, the key's words first)."""
        found = [(m.start(), -(m.end() - m.start()), rank, Match(key, m.start(), m.end()))
                 for rank, key, p in self._services for m in [p.search(text)] if m]
        return min(found, key=lambda f: f[:3])[3] if found else None

    @cached_property
    def _drugs(self) -> re.Pattern:
        keys = sorted(self.vocab.drugs.drugs, key=len, reverse=True)
        return re.compile(r"(?i)\b(" + "|".join(r"[\s_-]+".join(map(re.escape, k.split("_"))) for k in keys) + r")\b")

    def drugs(self, text: str) -> list[Match]:
        """Every drug of the vocabulary a phrase names, in order."""
        return [Match(slug(m.group(1)), m.start(), m.end()) for m in self._drugs.finditer(text)]

    def drug(self, name: str) -> str | None:
        key = slug(name)
        return key if key in self.vocab.drugs.drugs else None

    @cached_property
    def _procedures(self) -> list[tuple[str, list[set[str]]]]:
        out = []
        for key, procedure in self.vocab.procedures.procedures.items():
            title = procedure.title.lower()
            own = [set(p.split()) for p in re.findall(r"\(([^)]*)\)", title)]  # "(ACDF)": a name of its own
            parts = [p.split() for p in re.sub(r"\([^)]*\)", "", title).split("/") if p.strip()]
            head = parts[0][:-1] if len(parts[0]) > 1 else []  # "lumbar" of "lumbar discectomy": the later parts share it
            alternatives = [set(parts[0])] + [set(head + p) if len(p) == 1 else set(p) for p in parts[1:]] + own
            out.append((key, alternatives))
        return out

    def procedure(self, phrase: str) -> str | None:
        """The surgical procedure a phrase names: every word of one spelling of its title present."""
        words = set(re.findall(r"[a-z]+", phrase.lower()))
        words |= {w[:-1] for w in words if w.endswith("s")}
        for key, alternatives in self._procedures:
            if any(alt <= words for alt in alternatives):
                return key
        return None
