"""ICD-10-CM codes, checked against the real code set shipped by simple-icd-10-cm.

The library parses its XML on import (about two seconds), so it is imported on first use only:
commands that never read a case (validate rules, schema, docs) do not pay for it.
"""

from __future__ import annotations

from functools import lru_cache


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
    lib = _codes()
    candidate = code.strip().upper()
    if not lib.is_valid_item(candidate) or lib.is_chapter_or_block(candidate):
        raise ValueError(f"'{code}' is not an ICD-10-CM code")
    return lib.add_dot(candidate)


def describe(code: str) -> str:
    return _codes().get_description(code)


@lru_cache(maxsize=1)
def billable_codes() -> tuple[str, ...]:
    """Every billable code of the code set (a leaf of the tabular list), dotted, in tabular order."""
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
