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
