"""ICD-10-CM codes, checked against the real code set shipped by simple-icd-10-cm.

Importing the library builds a tree of every code from its tabular XML (about two seconds and
170 MB of a process's memory). What the engine reads of it on every start, which names are codes,
comes from the flat code list the library ships beside the XML (one name a line, undotted, in
tabular order: about 100,000 lines, a few hundredths of a second): chapters (`1`), blocks
(`M50-M54`), a block of a single category written twice (its name, then the category's), and the
codes. The billable codes (the leaves) follow from the order. Only the descriptions need the XML
(`describe`: the diagnosis table of `imr vocabulary --table`), read then and only then; a data
file that cannot be found falls back to the library itself. tests/test_worker_memory.py checks
that this says exactly what the library says.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def _data_file(constant: str) -> Path | None:
    """A data file of the library, named by its module's `constant`, found without importing it
    (the import builds the tree): None when the package or the name cannot be found."""
    from importlib.util import find_spec  # start-up cost: only when the code set is first read

    try:
        spec = find_spec("simple_icd_10_cm")  # a top-level package: found, not executed
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    try:
        source = (folder / "simple_icd_10_cm.py").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(rf"^{constant}\s*(?::\s*str\s*)?=\s*['\"]([^'\"]+)['\"]", source, re.M)
    path = folder / "data" / found.group(1) if found else None
    return path if path is not None and path.is_file() else None


def code_set_file() -> Path | None:
    """The flat code list read (its name carries the code set's release): part of what keys a cached rule base."""
    return _data_file("_all_codes_package_file_name")


def _names() -> list[str] | None:
    """Every name of the flat list, in tabular order (None where it cannot be read)."""
    path = code_set_file()
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None


@lru_cache(maxsize=1)
def _table() -> dict | None:
    """The code set from the flat list: `names`, every name (undotted), and `blocks`, the names of
    single-category blocks (`_is_code` tells the codes). None where the list cannot be read."""
    names = _names()
    if names is None:
        return None
    seen = set(names)
    # a block of a single category is written twice, the block's name and then the category's, on adjacent lines
    blocks = {a for a, b in zip(names, names[1:]) if a == b}
    if len(seen) + len(blocks) != len(names):  # repeated elsewhere: count them one by one
        counted: set[str] = set()
        blocks = {name for name in names if name in counted or counted.add(name)}
    return {"names": seen, "blocks": frozenset(blocks)} if seen else None


def _is_code(name: str, table: dict) -> bool:
    """A name of the code set that is a code: not a chapter (`13`), a range (`M50-M54`) or a block of one category."""
    return name in table["names"] and name not in table["blocks"] and "-" not in name and not name.isdigit()


@lru_cache(maxsize=1)
def _codes():
    import warnings  # start-up cost: the library only where its data files cannot be read, or for a description they lack

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm

    return simple_icd_10_cm


def _dotted(name: str) -> str:
    return name if len(name) < 4 else name[:3] + "." + name[3:]


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
    # as the library: a code dotted after its category (`M54.16`) or not (`M5416`); a category of three characters as is
    if _is_code(candidate, table):
        return _dotted(candidate)
    if len(candidate) >= 5 and candidate[3] == "." and _is_code(bare := candidate[:3] + candidate[4:], table):
        return _dotted(bare)
    raise ValueError(f"'{code}' is not an ICD-10-CM code")


def describe(code: str) -> str:
    """The code set's description of a code (or chapter or block), from the tabular XML."""
    text = _descriptions().get(_dotted(code.strip().upper().replace(".", "")) if "-" not in code else code)
    if text is None:  # a code the XML does not spell out (a seventh-character extension): the library builds it
        return _codes().get_description(code)
    return text


@lru_cache(maxsize=1)
def _descriptions() -> dict[str, str]:
    """Name -> description of every chapter, block and code the tabular XML spells out (a later
    element of the same name wins, as in the library: a single-category block's category)."""
    path = _data_file("_classification_data_package_file_name")
    if path is None:
        return {}
    from xml.etree import ElementTree  # start-up cost: only a description reads the XML

    out: dict[str, str] = {}
    try:
        for _, element in ElementTree.iterparse(str(path)):
            if element.tag in ("diag", "chapter"):
                name, desc = element.findtext("name"), element.findtext("desc")
                if name and desc is not None:
                    out[name] = desc
            elif element.tag == "section" and element.get("id"):
                desc = element.findtext("desc")
                if desc is not None:
                    out.setdefault(element.get("id"), desc)
            if element.tag in ("diag", "section", "chapter"):
                element.clear()
    except (OSError, ElementTree.ParseError):
        return {}
    return out


@lru_cache(maxsize=1)
def billable_codes() -> tuple[str, ...]:
    """Every billable code of the code set (a leaf of the tabular list), dotted, in tabular order."""
    table, names = _table(), _names()
    if table is not None and names is not None:
        names = list(dict.fromkeys(names))
        out = []
        for i, name in enumerate(names):
            after = names[i + 1] if i + 1 < len(names) else ""
            if _is_code(name, table) and not (len(after) > len(name) and after.startswith(name)):
                out.append(_dotted(name))
        return tuple(out)
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
