"""`imr formulary import`: the published MTUS Drug List layout (CSV and XLSX) into a version file of
the drug list data, then decided with; a bad row is reported at its row and column and nothing is
written."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from engine.load.paths import DEFAULT_RULES
from tests.conftest import run

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "mtus-drug-list-sample.csv"

CASE = """\
case_id: imported-list-probe
jurisdiction: CA
request_date: 2021-01-12
injured_worker: {age: 41, sex: male, date_of_injury: 2021-01-09}
diagnoses:
- {code: S33.5XXA, text: 'Sprain of ligaments of lumbar spine, initial encounter'}
requested_items:
- {type: medication, id: tramadol, description: Tramadol 50 mg 4-day supply, form: oral, ingredients: [{drug: tramadol}],
   brand_or_generic: generic, prescribed_on: 2021-01-12, initial_visit: true, days_supply: 4, dispensed_by: pharmacy}
- {type: medication, id: gabapentin, description: Gabapentin 300 mg, form: oral, ingredients: [{drug: gabapentin}],
   brand_or_generic: generic, prescribed_on: 2021-01-12, initial_visit: true, days_supply: 4, dispensed_by: pharmacy}
"""


@pytest.fixture
def rules(tmp_path):
    """A copy of the project's rules folder to import into."""
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES, target)
    return target


def _as_xlsx(csv_path, out):
    """The fixture as a workbook (what the DWC publishes), cell for cell."""
    import csv

    book = openpyxl.Workbook()
    sheet = book.active
    for row in csv.reader(csv_path.open(encoding="utf-8")):
        sheet.append(row)
    book.save(out)
    return out


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_import_round_trips_into_a_decision(capsys, tmp_path, rules, kind):
    source = SAMPLE if kind == "csv" else _as_xlsx(SAMPLE, tmp_path / "sample.xlsx")
    code, out, err = run(capsys, "formulary", "import", source, "--version", "v.7", "--effective-from", "2020-11-01",
                         "--rules", rules)
    assert (code, err) == (0, ""), err
    assert "4 ingredients" in out  # tramadol's two forms are one ingredient
    written = (rules / "vocabulary" / "mtus-drug-list-v-7.yaml").read_text()
    assert "drug: tramadol" in written and "special_fill_days: 4" in written and "drug: naproxen" in written
    case = tmp_path / "case.yaml"
    case.write_text(CASE)
    code, out, err = run(capsys, "decide", case, "--format", "json", "--rules", rules)
    assert code == 0, err
    import json

    items = {i["item_id"]: i for i in json.loads(out)["items"]}
    assert items["tramadol"]["prospective_review"]["status"] == "not_needed"
    assert "formulary.pr.special-fill" in items["tramadol"]["prospective_review"]["rules"]
    # the imported list is complete: a drug it does not hold is Unlisted, and needs prospective review
    assert items["gabapentin"]["prospective_review"]["status"] == "needed"
    assert "Unlisted" in items["gabapentin"]["prospective_review"]["reason"]


def test_a_bad_row_is_reported_at_its_row_and_column_and_nothing_is_written(capsys, rules):
    before = sorted(p.name for p in (rules / "vocabulary").iterdir())
    code, out, err = run(capsys, "formulary", "import", FIXTURES / "mtus-drug-list-bad-row.csv", "--version", "v.7",
                         "--effective-from", "2020-11-01", "--rules", rules)
    assert code == 2 and out == ""
    assert err.strip() == (f"{FIXTURES / 'mtus-drug-list-bad-row.csv'}:4:2: F001 Exempt / Non-Exempt: "
                           "'Non Exemptt' is neither Exempt nor Non-Exempt")
    assert sorted(p.name for p in (rules / "vocabulary").iterdir()) == before


def test_a_version_overlapping_another_is_refused(capsys, rules):
    code, _, err = run(capsys, "formulary", "import", SAMPLE, "--version", "v.4", "--effective-from", "2019-06-01", "--rules", rules)
    assert code == 2 and " V006 " in err and "mtus-drug-list-v3.yaml" in err
    assert not (rules / "vocabulary" / "mtus-drug-list-v-4.yaml").exists()


def test_a_header_without_the_published_columns_is_refused(capsys, tmp_path, rules):
    bad = tmp_path / "list.csv"
    bad.write_text("Drug Ingredient,Status\nIbuprofen,Exempt\n")
    code, _, err = run(capsys, "formulary", "import", bad, "--version", "v.7", "--effective-from", "2020-11-01", "--rules", rules)
    assert code == 2 and f"{bad}:1:1: F001 the header row lacks 'Exempt / Non-Exempt'" in err
