"""Issue 16, item 4: diagnosis codes by date. ICD-9-CM before 2015-10-01, mapped to the diagnosis
groups through the CMS GEMs; ICD-10-CM checked against the release in force on the request date
(FY2016 before it); a non-billable header is a warning; ambiguous forms are never guessed."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from engine.model import icd9, icd10_releases
from engine.model.icd10 import code_set_file

from .conftest import case_path, run

ICD9_SEED = case_path("021_seed_coded_in_icd9.yaml")


def _variant(tmp_path, old: str, new: str, name: str = "case.yaml", text: str | None = None) -> str:
    text = (text or ICD9_SEED.read_text())
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return str(path)


def _line_of(path: str, needle: str) -> int:
    return next(n for n, line in enumerate(open(path).read().splitlines(), 1) if needle in line and not line.startswith("#"))


def test_a_june_2015_case_coded_in_icd9_decides_as_its_gem_equivalent(capsys, tmp_path):
    twin = _variant(tmp_path, '"724.4"', "M54.16")
    twin = _variant(tmp_path, '"723.1"', "M54.2", "twin.yaml", open(twin).read())
    code9, out9, _ = run(capsys, "decide", ICD9_SEED, "--format", "json")
    code10, out10, _ = run(capsys, "decide", twin, "--format", "json")
    assert code9 == code10 == 0
    nine, ten = json.loads(out9), json.loads(out10)
    assert nine == ten  # every decision, rationale, governing rule and citation
    assert {i["item_id"]: i["decision"] for i in nine["items"]} == {"pt-lumbar": "Upheld", "pt-cervical": "Upheld", "compound-topical": "Upheld"}


def test_the_gem_alternatives_of_the_items_region_count(engine):
    from engine.facts.icd9_groups import icd9_entry

    vocab = engine.base.vocabulary
    assert icd9.readings("724.4") == (("M54.14",), ("M54.15",), ("M54.16",), ("M54.17",))
    lumbar = icd9_entry(vocab, "724.4", "lumbar")
    assert set(lumbar.groups) >= {"radiculopathy", "neuropathic"} and lumbar.pm_group == "neuritis_radiculitis"
    assert icd9_entry(vocab, "724.4", "cervical") is None  # thoracic to lumbosacral: not the neck
    assert icd9_entry(vocab, "847.2", "lumbar").groups == vocab.dx_entry("S33.5XXA").groups  # one equivalent: the same
    # 729.1 myalgia and myositis is M60.9, M79.1 or M79.7: only what all three share is read
    shared = set.intersection(*(set(vocab.dx_entry(c).groups) for (c,) in icd9.readings("729.1")))
    assert set(icd9_entry(vocab, "729.1", "lumbar").groups) == shared


def test_a_2014_case_with_u07_1_is_rejected_at_its_line(capsys, tmp_path):
    path = _variant(tmp_path, '"724.4"', "U07.1")
    path = _variant(tmp_path, "request_date: 2015-06-10", "request_date: 2014-06-10", "u071.yaml", open(path).read())
    for command in ("decide", "validate"):
        code, out, err = run(capsys, command, path)
        lines = [x for x in (out + err).splitlines() if " E009 " in x]
        assert code == (2 if command == "decide" else 1) and len(lines) == 1, out + err
        assert lines[0].startswith(f"{path}:{_line_of(path, 'U07.1')}:")
        assert "U07.1 did not exist on 2014-06-10: it was created on 2020-04-01" in lines[0] and "FY2016" in lines[0]
    assert "Traceback" not in err


def test_an_icd9_code_from_2015_10_01_is_an_error_at_its_line(capsys, tmp_path):
    path = _variant(tmp_path, "request_date: 2015-06-10", "request_date: 2015-10-01")
    code, _, err = run(capsys, "decide", path)
    assert code == 2 and f"{path}:{_line_of(path, '724.4')}:" in err and "E009 ICD-9-CM code 724.4 on 2015-10-01" in err
    ok = _variant(tmp_path, "request_date: 2015-06-10", "request_date: 2015-09-30", "day-before.yaml")
    assert run(capsys, "decide", ok)[0] == 0


def test_a_code_both_systems_have_needs_its_system_before_2015_10_01(capsys, tmp_path):
    # V54.1: ICD-9-CM aftercare for a healing traumatic fracture; ICD-10-CM a car-driver injury header
    path = _variant(tmp_path, '"723.1"', "V54.1")
    code, _, err = run(capsys, "decide", path)
    assert code == 2 and f"{path}:{_line_of(path, 'V54.1')}:" in err and " E010 " in err and "system: icd9cm" in err
    explicit = _variant(tmp_path, 'code: "723.1"', "system: icd9cm\n    code: V54.1", "explicit.yaml")
    assert run(capsys, "decide", explicit)[0] == 0
    # from 2015-10-01 only ICD-10-CM is in use: the same code is read as ICD-10-CM (a header: W007)
    later = _variant(tmp_path, "request_date: 2015-06-10", "request_date: 2016-06-10", "later.yaml", open(path).read().replace('"724.4"', "M54.16"))
    code, _, err = run(capsys, "decide", later)
    assert code == 0 and "W007 ICD-10-CM V54.1 is a non-billable header" in err
    wrong = _variant(tmp_path, 'code: "723.1"', "system: icd10cm\n    code: \"723.1\"", "wrong.yaml")
    code, _, err = run(capsys, "decide", wrong)
    assert code == 2 and "'723.1' is not an ICD-10-CM code" in err


def test_icd10_before_2015_is_checked_against_fy2016_and_headers_warn(capsys, tmp_path):
    # M54.5 was billable until FY2022 split it (M54.50, M54.51, M54.59)
    old = _variant(tmp_path, '"724.4"', "M54.5")
    code, _, err = run(capsys, "decide", old)
    assert code == 0 and " W007 " not in err
    recent = _variant(tmp_path, "request_date: 2015-06-10", "request_date: 2022-06-10", "recent.yaml", open(old).read().replace('"723.1"', "M54.2"))
    code, _, err = run(capsys, "validate", recent)
    assert code == 0 and f"{recent}:{_line_of(recent, 'M54.5')}:" in err + run(capsys, "validate", recent)[1]
    _, out, _ = run(capsys, "validate", recent)
    assert "W007 ICD-10-CM M54.5 is a non-billable header in FY2022" in out
    created = _variant(tmp_path, '"724.4"', "M54.50", "created.yaml")
    code, _, err = run(capsys, "decide", created)
    assert code == 2 and "M54.50 did not exist on 2015-06-10: it was created on 2021-10-01" in err


def test_the_release_table_agrees_with_the_code_set_it_amends():
    table = {code: icd10_releases.span(code) for code in icd10_releases._table()}
    days = {d for pair in table.values() for d in pair if d is not None}
    assert max(days) == icd10_releases.LAST_CHANGE and min(days) >= icd10_releases.FIRST_RELEASE
    names = set(code_set_file().read_text().split())
    # a code still in the latest release is in the library's code set; a deleted one is not
    assert all((end is None) == (code in names) for code, (_, end) in table.items())
    assert len(table) > 7000
    day = dt.date
    assert not icd10_releases.in_force("U07.1", day(2020, 3, 31)) and icd10_releases.in_force("U07.1", day(2020, 4, 1))
    assert icd10_releases.in_force("M54.5", day(2014, 1, 1)) and icd10_releases.billable("M54.5", day(2021, 9, 30))
    assert not icd10_releases.billable("M54.5", day(2021, 10, 1))
    assert icd10_releases.release(day(2021, 2, 1)) == "FY2021 (January 1, 2021 update)"


@pytest.mark.parametrize("code, dotted", [("7244", "724.4"), ("724.4", "724.4"), ("E8809", "E880.9"), ("V541", "V54.1")])
def test_icd9_forms(code, dotted):
    assert icd9.normalise_icd9(code) == dotted
    with pytest.raises(ValueError):
        icd9.normalise_icd9("72.44")


def test_w005_names_the_gem_equivalents_of_an_icd9_code(capsys, tmp_path):
    path = _variant(tmp_path, "region: cervical\n    frequency", "region: knee\n    frequency")
    _, out, _ = run(capsys, "validate", path)
    [warned] = [x for x in out.splitlines() if " W005 " in x]
    assert "ICD-9-CM 724.4 (GEM: M54.14, M54.15, M54.16, M54.17)" in warned and "of the knee region" in warned
