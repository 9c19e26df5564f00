"""`imr formulary import FILE`: the MTUS Drug List (8 CCR 9792.27.15) as the DWC publishes it,
exported as CSV or XLSX, into one version file of the rule base's drug list data
(`vocabulary/mtus-drug-list-<version>.yaml`, read by the facts by request date).

The published layout: title lines, then a header row naming the columns (matched without case,
spaces or the list's footnote asterisks), then one row per drug ingredient and dosage form. The
columns read are PUBLISHED_COLUMNS; others (dosage form, strength, unit) are ignored. Every row is
checked, every problem reported at its row and column (`FILE:row:col: F001 ...`, rows and columns
counted from 1 as a spreadsheet shows them), and nothing is written unless every row is good.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import tempfile
from pathlib import Path

import yaml

from engine.load.files import read_bounded
from engine.load.vocabulary import DRUG_LIST_FILES
from engine.model.case import slug
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.vocabulary import DrugListEntry, DrugListVersion

MAX_BYTES = 20 * 2**20
PUBLISHED_COLUMNS = {
    "ingredient": "Drug Ingredient",
    "status": "Exempt / Non-Exempt",
    "special_fill": "Special Fill",
    "perioperative_fill": "Perioperative Fill",
    "drug_class": "Drug Class",
    "reference": "Reference in ACOEM Guidelines",
}
"""The columns read, by the header the published list prints (the reference column's header goes on
with the recommendation key; a header that starts with the name is taken)."""
REQUIRED = ("ingredient", "status", "special_fill", "perioperative_fill", "drug_class")
SALTS = {"hcl", "hydrochloride", "hbr", "hydrobromide", "sodium", "potassium", "calcium", "sulfate", "bitartrate",
         "tartrate", "citrate", "maleate", "mesylate", "acetate", "phosphate", "succinate", "besylate", "fumarate", "er", "ir"}
"""Salt and release words left out of an ingredient's vocabulary key ("Tramadol HCl" -> tramadol)."""
_STATUS = {"exempt": "exempt", "nonexempt": "non_exempt"}
_DAYS = re.compile(r"(\d{1,3})\s*-?\s*days?\b", re.IGNORECASE)
_NONE = {"", "no", "n/a", "na", "-", "none"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def drug_key(ingredient: str) -> str:
    """The vocabulary key of a listed ingredient: its words without salts, combinations joined by _."""
    words = [w for w in slug(ingredient).split("_") if w and w not in SALTS]
    return "_".join(words)[:64] or slug(ingredient)[:64]


def _rows(path: Path) -> list[list[str]]:
    """The file's cells as text, row by row (CSV by its text, XLSX by openpyxl; the first sheet)."""
    raw = read_bounded(path, MAX_BYTES, "F001", "F001")
    if raw[:2] == b"PK":  # an XLSX is a zip
        import openpyxl  # start-up cost: only this command reads spreadsheets

        try:
            book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except Exception as exc:  # a damaged or foreign zip: one positioned line
            raise InputError([Diagnostic(str(path), 1, 1, "F001", f"not a readable XLSX workbook: {exc}")]) from None
        sheet = book.worksheets[0]
        return [["" if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v)) for v in row]
                for row in sheet.iter_rows(values_only=True)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Diagnostic(str(path), 1, 1, "F001", f"not UTF-8 text (CSV) nor an XLSX workbook: {exc.reason}")]) from None
    return list(csv.reader(io.StringIO(text)))


def _header(rows: list[list[str]], path: Path) -> tuple[int, dict[str, int]]:
    """The header row (index) and the column index of each column read."""
    wanted = {k: _norm(v) for k, v in PUBLISHED_COLUMNS.items()}
    for r, row in enumerate(rows[:50]):
        cells = [_norm(c) for c in row]
        if wanted["ingredient"] not in cells:
            continue
        found = {}
        for key, name in wanted.items():
            at = next((c for c, cell in enumerate(cells) if cell == name or (key == "reference" and cell.startswith(name))), None)
            if at is not None:
                found[key] = at
        lacking = [PUBLISHED_COLUMNS[k] for k in REQUIRED if k not in found]
        if lacking:
            raise InputError([Diagnostic(str(path), r + 1, 1, "F001", f"the header row lacks {', '.join(repr(x) for x in lacking)} "
                                         f"(the published columns: {', '.join(PUBLISHED_COLUMNS.values())})")])
        return r, found
    raise InputError([Diagnostic(str(path), 1, 1, "F001", f"no header row naming '{PUBLISHED_COLUMNS['ingredient']}' in the first 50 rows")])


def _days(cell: str) -> int | None | str:
    """A fill column's supply limit in days; None when the drug is not such a fill drug; a str: the problem."""
    text = cell.strip()
    if text.lower() in _NONE:
        return None
    found = _DAYS.search(text) or (re.fullmatch(r"\d{1,3}", text) and re.match(r"(\d+)", text))
    if not found:
        return f"'{text}' gives no supply limit in days (write '4-day supply', '4 days' or 4; blank when none)"
    days = int(found.group(1))
    return days if 1 <= days <= 365 else f"a supply limit of {days} days is outside 1..365"


def read_drug_list(path: str | Path, version: str, effective_from: dt.date, effective_to: dt.date | None,
                   source: str, complete: bool = True) -> DrugListVersion:
    """The published list in `path` as a DrugListVersion; InputError with every bad cell's position."""
    path = Path(path)
    rows = _rows(path)
    head, cols = _header(rows, path)
    problems: list[Diagnostic] = []
    entries: dict[str, tuple[int, dict]] = {}
    for r in range(head + 1, len(rows)):
        row = rows[r]
        cell = {k: (row[c].strip() if c < len(row) and row[c] is not None else "") for k, c in cols.items()}
        if not any(cell.values()):
            continue  # a blank line between sections
        line = r + 1

        def bad(key: str, message: str) -> None:
            problems.append(Diagnostic(str(path), line, cols[key] + 1, "F001", f"{PUBLISHED_COLUMNS[key]}: {message}"))

        if not cell["ingredient"]:
            bad("ingredient", "empty")
            continue
        status = _STATUS.get(_norm(cell["status"]))
        if status is None:
            bad("status", f"'{cell['status']}' is neither Exempt nor Non-Exempt")
        if not cell["drug_class"]:
            bad("drug_class", "empty")
        fills = {}
        for key in ("special_fill", "perioperative_fill"):
            days = _days(cell[key])
            if isinstance(days, str):
                bad(key, days)
            else:
                fills[key] = days
        if status is None or len(fills) < 2 or not cell["drug_class"]:
            continue
        if status == "exempt" and any(fills.values()):
            bad("special_fill" if fills["special_fill"] else "perioperative_fill", "an Exempt drug has no fill limit: fills are for Non-Exempt drugs (9792.27.12, 9792.27.13)")
            continue
        entry = {"drug": drug_key(cell["ingredient"]), "ingredient": cell["ingredient"], "drug_class": cell["drug_class"],
                 "status": status, "special_fill_days": fills["special_fill"], "perioperative_fill_days": fills["perioperative_fill"],
                 "reference": cell.get("reference") or None, "source": f"{source}, row {line}"}
        earlier = entries.get(entry["drug"])
        if earlier is None:
            entries[entry["drug"]] = (line, entry)
            continue
        for key in ("status", "special_fill_days", "perioperative_fill_days"):
            if earlier[1][key] != entry[key]:  # one ingredient, one status: a form that differs is refused
                column = {"status": "status", "special_fill_days": "special_fill", "perioperative_fill_days": "perioperative_fill"}[key]
                bad(column, f"{cell['ingredient']} ({entry['drug']}) has {earlier[1][key]} at row {earlier[0]} and {entry[key]} here: "
                            f"the data holds one status and limit per ingredient")
                break
    if not entries and not problems:
        problems.append(Diagnostic(str(path), head + 2, 1, "F001", "no drug rows after the header"))
    if problems:
        raise InputError(problems)
    try:
        return DrugListVersion(version=version, effective_from=effective_from, effective_to=effective_to, source=source,
                               complete=complete, entries=[DrugListEntry(**{k: v for k, v in e.items() if v is not None})
                                                           for _, e in entries.values()])
    except ValueError as exc:  # pydantic: a cell past a bound the row checks do not know
        raise InputError([Diagnostic(str(path), 1, 1, "F001", str(exc).splitlines()[0])]) from None


def version_file(folder: Path, version: str) -> Path:
    return folder / f"mtus-drug-list-{slug(version).replace('_', '-')}.yaml"


def write_version(folder: Path, data: DrugListVersion) -> Path:
    """Write the version's file atomically, after checking its dates against the folder's other
    versions (V006): an import that would overlap one is refused and writes nothing."""
    target = version_file(folder, data.version)
    problems = []
    for other_path in sorted(folder.glob(DRUG_LIST_FILES)):
        if other_path.resolve() == target.resolve():
            continue
        other = DrugListVersion.model_validate(yaml.safe_load(other_path.read_text()), strict=False)
        starts_before_other_ends = other.effective_to is None or data.effective_from <= other.effective_to
        other_starts_before_ends = data.effective_to is None or other.effective_from <= data.effective_to
        if starts_before_other_ends and other_starts_before_ends:
            problems.append(Diagnostic(str(other_path), 1, 1, "V006", f"MTUS Drug List {other.version} ({other.effective_from}.."
                                       f"{other.effective_to or ''}) overlaps {data.version} from {data.effective_from}: "
                                       f"give one an effective_to before the other starts"))
    if problems:
        raise InputError(problems)
    body = data.model_dump(exclude_none=True, by_alias=True, exclude={"schema_"})  # dates stay dates (YAML dates)
    text = (f"# MTUS Drug List {data.version} (8 CCR 9792.27.15), written by `imr formulary import` on "
            f"{dt.date.today().isoformat()}: edit the published list and import it again rather than this file.\n"
            + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".import-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, target)
    return target
