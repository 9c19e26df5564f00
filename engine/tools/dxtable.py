"""`imr vocabulary`: where every ICD-10-CM code of the treated chapters stands, as data and as the
generated table docs/diagnosis-groups.md.

The treated chapters are the musculoskeletal chapter (M00-M99), the injuries of S00-S99 and
T07-T14, and the pain and nerve codes G56-G59, G89 and G90.5. For each topic whose rules read
diagnosis groups (checks/diagnoses.py finds them in the rule base), every billable code must be in
one of its groups (for a topic whose tables select by diagnosis, in a group that selects a row),
be placed outside the groups of a topic that reads them only as indications, or be listed under
`ungrouped:` in vocabulary/diagnoses.yaml with a reason. `coverage` counts it; `render` writes the
table, per prefix, of the region and the groups of each topic.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine.checks.diagnoses import TopicGroups, place, topic_groups
from engine.load.paths import PROJECT
from engine.model.icd10 import billable_codes, code_set_version, describe
from engine.model.vocabulary import DxPrefix, Vocabulary

TABLE_PATH = PROJECT / "docs" / "diagnosis-groups.md"

CHAPTERS: tuple[tuple[str, str, str], ...] = (
    ("M00-M99", "Diseases of the musculoskeletal system and connective tissue", r"M"),
    ("S00-S09", "Injuries to the head (not a treated region: ungrouped)", r"S0\d"),
    ("S10-S19", "Injuries to the neck", r"S1\d"),
    ("S20-S29", "Injuries to the thorax", r"S2\d"),
    ("S30-S39", "Injuries to the abdomen, lower back, lumbar spine, pelvis", r"S3\d"),
    ("S40-S49", "Injuries to the shoulder and upper arm", r"S4\d"),
    ("S50-S59", "Injuries to the elbow and forearm", r"S5\d"),
    ("S60-S69", "Injuries to the wrist, hand and fingers", r"S6\d"),
    ("S70-S79", "Injuries to the hip and thigh", r"S7\d"),
    ("S80-S89", "Injuries to the knee and lower leg", r"S8\d"),
    ("S90-S99", "Injuries to the ankle and foot", r"S9\d"),
    ("T07-T14", "Injuries of multiple or unspecified body regions", r"T0[7-9]|T1[0-4]"),
    ("G56-G59", "Mononeuropathies", r"G5[6-9]"),
    ("G89", "Pain, not elsewhere classified", r"G89"),
    ("G90.5", "Complex regional pain syndrome I", r"G90\.5"),
)
"""The treated chapters: (range, title, pattern of the code's start)."""
_CHAPTER = [(name, re.compile(pattern)) for name, _, pattern in CHAPTERS]


def chapter_of(code: str) -> str | None:
    for name, pattern in _CHAPTER:
        if pattern.match(code):
            return name
    return None


def treated_codes() -> list[tuple[str, str]]:
    """(chapter, code) for every billable code of the treated chapters, in tabular order."""
    return [(chapter, code) for code in billable_codes() if (chapter := chapter_of(code))]


@dataclass
class Coverage:
    """Counts of the treated codes; `missing` lists every code not accounted for, by topic."""

    topics: dict[str, TopicGroups]
    chapters: dict[str, Counter] = field(default_factory=dict)
    """Per chapter: `codes`, `placed` (a region and groups, accounted for in every topic),
    `ungrouped` (deliberately), `unaccounted`."""
    by_topic: dict[str, Counter] = field(default_factory=dict)
    """Per topic: `grouped`, `outside` (placed, in none of its indication groups), `ungrouped`, `unaccounted`."""
    missing: dict[str, list[str]] = field(default_factory=dict)
    """Per topic, the codes in none of its groups and not ungrouped (the check fails on any)."""

    def total(self, key: str) -> int:
        return sum(c[key] for c in self.chapters.values())


def coverage(vocab: Vocabulary, topics: dict[str, TopicGroups]) -> Coverage:
    out = Coverage(topics, {name: Counter() for name, _, _ in CHAPTERS}, {t: Counter() for t in topics}, {t: [] for t in topics})
    for chapter, code in treated_codes():
        counts = out.chapters[chapter]
        counts["codes"] += 1
        found = vocab.dx_lookup(code)
        ok = True
        for name, topic in topics.items():
            p = place(vocab, code, topic, found)
            out.by_topic[name][p.status if p.accounted else "unaccounted"] += 1
            if not p.accounted:
                out.missing[name].append(code)
                ok = False
        if found is not None and not isinstance(found[1], DxPrefix):
            counts["ungrouped"] += 1
        elif ok and found is not None:
            counts["placed"] += 1
        else:
            counts["unaccounted"] += 1
    return out


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _codes_by_prefix(vocab: Vocabulary) -> Counter:
    """How many billable codes of the whole code set each prefix (grouped or ungrouped) decides."""
    counts: Counter = Counter()
    for code in billable_codes():
        found = vocab.dx_lookup(code)
        if found is not None:
            counts[found[0]] += 1
    return counts


def _order(prefix: str) -> tuple:
    return (prefix[0], prefix[1:3], prefix[3:])


def render(vocab: Vocabulary, topics: dict[str, TopicGroups]) -> str:
    """docs/diagnosis-groups.md: the counts, then per prefix its region and the groups of each topic."""
    cov = coverage(vocab, topics)
    per_prefix = _codes_by_prefix(vocab)
    names = list(topics)
    dx = vocab.diagnoses
    out = ["# Diagnosis groups by ICD-10-CM prefix", "",
           "Generated by `imr vocabulary --table --write` from `guideline_rules/vocabulary/diagnoses.yaml` and the",
           f"rule packs, against the code set of {code_set_version()}; do not edit by hand",
           "(`tests/test_diagnosis_vocabulary.py` fails when it is out of date).", "",
           "A code's entry is its longest prefix in `prefixes` or `ungrouped`. A topic *uses groups* when its rules",
           "read `dx.<group>` or `dx.pm_group`; where a table rule reads them the diagnosis selects the table's row,",
           "so every code must fall in one of those groups; elsewhere a group is an indication or an exclusion, and a",
           "code placed outside it is read as not having it (a considered `false`, shown as -). A code in no group is",
           "listed under `ungrouped:` with its reason: it gets no region, no rule sees it, and `imr validate` warns",
           "(W005) when an item's diagnoses fall in no group of its topic.", "",
           "## Counts", "",
           "Billable codes of the treated chapters: placed (a region and groups, in a group of every topic whose",
           "tables select by diagnosis), deliberately ungrouped, and not accounted for (must be 0).", "",
           "| chapter | title | codes | placed | ungrouped | not accounted for |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, title, _ in CHAPTERS:
        c = cov.chapters[name]
        out.append(f"| {name} | {title} | {c['codes']} | {c['placed']} | {c['ungrouped']} | {c['unaccounted']} |")
    out.append(f"| **all** | | **{cov.total('codes')}** | **{cov.total('placed')}** | **{cov.total('ungrouped')}** | **{cov.total('unaccounted')}** |")
    out += ["", "## Topics that use groups", "",
            "| topic | groups its rules read | groups that select a table row | rules | in a group | placed outside (read as false) | ungrouped | not accounted for |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for name, topic in topics.items():
        c = cov.by_topic[name]
        rules = topic.rules
        out.append(f"| {name} | {', '.join(sorted(topic.groups))} | {', '.join(sorted(topic.selecting)) or '-'} | "
                   f"{', '.join(f'`{r}`' for r in rules)} | {c['grouped']} | {c['outside']} | {c['ungrouped']} | {c['unaccounted']} |")
    out += ["", "## Prefixes", "",
            "Per prefix: how many billable codes it decides (those under it that no longer prefix takes), the region,",
            "and per topic the groups its codes fall in (`pm_group` as its value; - none; **none** where a topic whose",
            "tables select by diagnosis has no row for them).", "",
            "| prefix | description | codes | region | " + " | ".join(names) + " |",
            "| --- | --- | ---: | --- | " + " | ".join("---" for _ in names) + " |"]
    for prefix in sorted(dx.prefixes, key=_order):
        entry = dx.prefixes[prefix]
        cells = []
        for name in names:
            topic = topics[name]
            groups = topic.of(entry)
            if topic.selects and not topic.selected(entry):
                cells.append("**none**")
            else:
                cells.append(", ".join(groups) or "-")
        out.append(f"| `{prefix}` | {_cell(describe(prefix))} | {per_prefix[prefix]} | {entry.region} | " + " | ".join(cells) + " |")
    out += ["", "## Deliberately ungrouped", "",
            "| prefix | description | codes | reason |", "| --- | --- | ---: | --- |"]
    for prefix in sorted(dx.ungrouped, key=_order):
        reason = dx.ungrouped[prefix]
        out.append(f"| `{prefix}` | {_cell(describe(prefix))} | {per_prefix[prefix]} | {reason}: {_cell(dx.reasons.get(reason, ''))} |")
    return "\n".join(out) + "\n"


def render_for(base) -> str:
    """The table for a rule base (its vocabulary and the topics its rules make use groups)."""
    return render(base.vocabulary, topic_groups(base))


def stale(base, path: Path = TABLE_PATH) -> bool:
    """Whether the committed table differs from what the rules and the vocabulary give now."""
    try:
        return path.read_text(encoding="utf-8") != render_for(base)
    except OSError:
        return True


def summary(cov: Coverage) -> list[str]:
    """Lines of text: the counts per chapter and per topic, then the codes not accounted for."""
    lines = [f"{cov.total('codes')} billable codes in the treated chapters: {cov.total('placed')} placed, "
             f"{cov.total('ungrouped')} deliberately ungrouped, {cov.total('unaccounted')} not accounted for"]
    for name, _, _ in CHAPTERS:
        c = cov.chapters[name]
        lines.append(f"  {name:8} {c['codes']:6} codes: {c['placed']:6} placed, {c['ungrouped']:6} ungrouped, {c['unaccounted']} not accounted for")
    for name, c in cov.by_topic.items():
        lines.append(f"  topic {name}: {c['grouped']} in a group, {c['outside']} placed outside its groups, "
                     f"{c['ungrouped']} ungrouped, {c['unaccounted']} not accounted for")
    for name, codes in cov.missing.items():
        if codes:
            lines.append(f"  topic {name}: {len(codes)} codes in none of its groups and not ungrouped, e.g. {', '.join(codes[:8])}")
    return lines
