"""ICD-10-CM codes, checked against the real code set shipped by simple-icd-10-cm.

The library builds a tree of every code on import (about two seconds and 170 MB of a process's
memory, most of a worker's). What the engine reads of it (which names are codes, which are
chapters or blocks, the billable leaves in tabular order, descriptions) is extracted once per
version of the library, in a child process, into a compact table cached on disk
(`$XDG_CACHE_HOME/imr-rules-engine/`, else `~/.cache/...`); each process loads that table (about
10 MB) on first use. Where no cache can be written the library itself is used, as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

_EXTRACT = """
import json, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import simple_icd_10_cm as lib
codes = lib.get_all_codes(True)
seen, billable = set(), []
for code in codes:
    if code not in seen and not lib.is_chapter_or_block(code) and lib.is_leaf(code):
        billable.append(code)
    seen.add(code)
table = {"codes": sorted(seen), "blocks": sorted(c for c in seen if lib.is_chapter_or_block(c)), "billable": billable,
         "descriptions": {c: lib.get_description(c) for c in seen}}
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump(table, f)
"""


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("simple-icd-10-cm")
    except metadata.PackageNotFoundError:
        return "unknown"


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imr-rules-engine" / f"icd10cm-{_version()}.json"


@lru_cache(maxsize=1)
def _table() -> dict | None:
    """The compact code set (extracted on first use ever), or None where it cannot be cached."""
    path = _cache_file()
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", _EXTRACT, str(path)], check=True, timeout=300, capture_output=True)
            os.replace(str(path) + ".tmp", path)
        with open(path) as f:
            data = json.load(f)
        return {"codes": frozenset(data["codes"]), "blocks": frozenset(data["blocks"]), "billable": tuple(data["billable"]),
                "path": path}
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None


@lru_cache(maxsize=1)
def _codes():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm

    return simple_icd_10_cm


@lru_cache(maxsize=4096)
def normalise_icd10(code: str) -> str:
    """Return the dotted form of a valid ICD-10-CM code, or raise ValueError naming the code."""
    candidate = code.strip().upper()
    table = _table()
    if table is None:
        lib = _codes()
        if not lib.is_valid_item(candidate) or lib.is_chapter_or_block(candidate):
            raise ValueError(f"'{code}' is not an ICD-10-CM code")
        return lib.add_dot(candidate)
    names = table["codes"]
    # as the library: a name of the code set, dotted or not (`M5416` is `M54.16`)
    dotted = candidate if candidate in names else (candidate[:3] + "." + candidate[3:] if len(candidate) >= 4 else candidate)
    if dotted not in names or dotted in table["blocks"]:
        raise ValueError(f"'{code}' is not an ICD-10-CM code")
    return dotted


def describe(code: str) -> str:
    table = _table()
    if table is None:
        return _codes().get_description(code)
    return _descriptions()[normalise_icd10(code) if code not in _descriptions() else code]


@lru_cache(maxsize=1)
def _descriptions() -> dict:
    with open(_table()["path"]) as f:
        return json.load(f)["descriptions"]


@lru_cache(maxsize=1)
def billable_codes() -> tuple[str, ...]:
    """Every billable code of the code set (a leaf of the tabular list), dotted, in tabular order."""
    table = _table()
    if table is not None:
        return table["billable"]
    lib = _codes()
    seen: dict[str, None] = {}
    for code in lib.get_all_codes(True):
        if code not in seen and not lib.is_chapter_or_block(code) and lib.is_leaf(code):
            seen[code] = None
    return tuple(seen)


def code_set_version() -> str:
    """The package that ships the code set, with its version: 'simple-icd-10-cm 1.5.0'."""
    from importlib import metadata  # start-up cost: only the diagnosis table quotes it

    try:
        version = metadata.version("simple-icd-10-cm")
    except metadata.PackageNotFoundError:  # an unusual install: the table still renders
        version = "unknown version"
    return f"simple-icd-10-cm {version}"
