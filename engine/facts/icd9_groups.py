"""Where an ICD-9-CM diagnosis stands for one requested item: what its ICD-10-CM equivalents under the
GEM (engine/model/icd9.py) say in vocabulary/diagnoses.yaml, read so that nothing is claimed that
the GEM leaves open.

The GEM gives alternatives (724.4 is M54.14, M54.15, M54.16 or M54.17: thoracic to lumbosacral
radiculitis). For an item, the alternatives of its region count (the request's region says which of
them the record means); a group holds when every one of those has it, and the physical-medicine
group when they all agree. An alternative the vocabulary cannot place at all (unknown or deliberately
ungrouped) leaves the whole code unplaced, as an unplaced ICD-10-CM code is: no group is read from it.
"""

from __future__ import annotations

from engine.model import icd9
from engine.model.vocabulary import DxPrefix, Vocabulary

_PM_PRIORITY = {"crps": 3, "neuritis_radiculitis": 2, "myalgia_myositis": 1}
_ANY = ("multiple", "other")


def relevant(entry: DxPrefix, region: str) -> bool:
    """A diagnosis of this region, or one that any region sees (unspecified or multiple sites)."""
    return region in _ANY or entry.region in _ANY or entry.region == region


def icd9_entry(vocab: Vocabulary, code: str, region: str) -> DxPrefix | None:
    """The vocabulary entry an ICD-9-CM code amounts to for an item of `region`, or None when it is
    not placed or concerns another region."""
    readings = icd9.readings(code)
    if not readings:
        return None
    groups: set[str] | None = None
    pm: set = set()
    for reading in readings:
        entries = [vocab.dx_entry(c) for c in reading]
        if not any(entries):
            return None  # an alternative no prefix places: nothing is certain of the code
        here = [e for e in entries if e is not None and relevant(e, region)]
        if not here:
            continue  # this alternative is of another region
        these = {g for e in here for g in e.groups}
        groups = these if groups is None else groups & these
        best = max((e.pm_group for e in here if e.pm_group), key=_PM_PRIORITY.get, default=None)
        pm.add(best)
    if groups is None:
        return None
    return DxPrefix(region=region if region not in _ANY else "multiple", groups=sorted(groups),
                    pm_group=next(iter(pm)) if len(pm) == 1 else None)


def diagnosis_entry(vocab: Vocabulary, diagnosis, region: str) -> DxPrefix | None:
    """The entry of one case diagnosis for an item of `region` (an ICD-10-CM code: its longest prefix)."""
    if diagnosis.system == "icd9cm":
        return icd9_entry(vocab, diagnosis.code, region)
    return vocab.dx_entry(diagnosis.code)
