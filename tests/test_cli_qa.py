"""Command-line fixes from a QA pass: warnings where a reviewer looks, bad arguments as bad input,
defaults that do not depend on the current folder, and summaries that read right."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from engine.cli.main import main
from engine.tools.diff import Impact, ItemChange

from .conftest import SEED, case_path, run

LINE = re.compile(r"^[^:]+:\d+:\d+: [A-Z]\d{3} .+$")
DICLOFENAC = case_path("003_topical_diclofenac_knee_oa.yaml")


def misspelt(tmp_path, name="case.yaml"):
    path = tmp_path / name
    path.write_text(DICLOFENAC.read_text().replace("drug: diclofenac", "drug: diclofenak"))
    return path


# ---------------------------------------------------------------- 1. unknown values warned at decide time

def test_decide_warns_about_a_value_no_rule_knows_and_still_decides(tmp_path, capsys):
    path = misspelt(tmp_path)
    line = next(n for n, x in enumerate(path.read_text().splitlines(), 1) if "diclofenak" in x and "drug:" in x)
    code, out, err = run(capsys, "decide", str(path))
    assert code == 0 and "topical-diclofenac-knee-oa" in out
    assert err.splitlines() == [f"{path}:{line}:20: W001 unknown drug 'diclofenak': no rule can match it (see vocabulary/drugs.yaml)"]


def test_decide_prints_no_warning_for_a_known_case(capsys):
    code, out, err = run(capsys, "decide", str(DICLOFENAC))
    assert code == 0 and out and err == ""


def test_batch_warns_per_line_with_its_number(tmp_path, capsys):
    good = {"case_id": "a", "request_date": "2015-06-10", "requested_items": [
        {"type": "therapy", "id": "pt", "description": "PT 2x4", "service": "physical_therapy", "region": "lumbar",
         "frequency_per_week": 2, "duration_weeks": 4}]}
    bad = json.loads(json.dumps(good))
    bad["case_id"], bad["requested_items"][0]["service"] = "b", "physical_therapie"
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    code, out, err = run(capsys, "batch", str(path), "--no-progress")
    assert code == 0 and len(out.splitlines()) == 2
    col = json.dumps(bad).index('"service"') + 1  # the record's own column: positions come from the JSON
    assert f"{path}:2:{col}: W001 unknown service 'physical_therapie'" in err
    assert "batch: 2 cases decided (2 items), 0 bad lines, 1 warning, 0 engine faults" in err


# ---------------------------------------------------------------- 2. --update-golden keeps to the golden files kept

def test_update_golden_rewrites_existing_files_and_creates_only_for_named_files(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    kept, other = folder / "seed.yaml", folder / "diclofenac.yaml"
    shutil.copy(SEED, kept)
    shutil.copy(DICLOFENAC, other)
    (folder / "golden").mkdir()
    (folder / "golden" / "seed.txt").write_text("stale letter\n")
    code, out, _ = run(capsys, "test", str(folder), "--update-golden")
    assert code == 0 and "1 golden file rewritten, 0 created" in out
    assert sorted(p.name for p in (folder / "golden").iterdir()) == ["seed.txt"]
    assert "Physical therapy 2 times a week" in (folder / "golden" / "seed.txt").read_text()
    code, out, _ = run(capsys, "test", str(other), "--update-golden")
    assert code == 0 and "0 golden files rewritten, 1 created" in out
    assert (folder / "golden" / "diclofenac.txt").is_file()


# ---------------------------------------------------------------- 3. explain --item with an unknown id

def test_explain_unknown_item_is_bad_input(capsys):
    code, out, err = run(capsys, "explain", str(SEED), "--item", "nope", "--no-counterfactuals")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"{SEED}:1:1: E005 unknown item 'nope' (items: pt-lumbar, pt-cervical, compound-topical)"]


# ---------------------------------------------------------------- 4. bad numeric arguments and folders

@pytest.mark.parametrize("argv", [
    ["bench", "--cases", "0"], ["bench", "--cases", "-5"], ["bench", "--workers", "0"], ["bench", "--cases", "many"],
    ["soak", "--cases", "10", "--every", "0"], ["soak", "--cases", "0"], ["batch", "x.jsonl", "--workers", "0"],
])
def test_counts_below_one_are_bad_input(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "must be 1 or more" in err or "not a whole number" in err


def test_a_short_soak_is_not_a_memory_failure(capsys):
    code, out, err = run(capsys, "soak", str(SEED), "--cases", "10", "--every", "5")
    assert code == 0 and "decisions=10" in out and "too few to judge" in err, err


def test_schema_dir_that_is_a_file_is_bad_input(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("")
    for argv in (["schema", "--write", "--dir", str(path)], ["schema", "--check", "--dir", str(path)],
                 ["schema", "--write", "--dir", str(path / "sub")]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and LINE.match(err.strip()) and " S002 " in err, err


# ---------------------------------------------------------------- 5. defaults and missing paths

def test_defaults_are_the_project_folders_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate")
    assert code == 0, out
    assert "0 problems" in err and "E000" not in out
    code, out, err = run(capsys, "test")
    assert code == 0, out + err
    assert re.search(r"^\d+ passed, 0 failed", out, re.M) and err == ""


def test_a_missing_path_is_reported_alike_by_validate_and_test(tmp_path, capsys):
    missing = str(tmp_path / "nope.yaml")
    want = f"{missing}:1:1: E000 no such file or folder"
    code, out, _ = run(capsys, "validate", missing)
    assert code == 1 and want in out.splitlines()  # validate reports every problem on stdout, exit 1
    code, out, err = run(capsys, "test", missing)
    assert code == 2 and err.splitlines() == [want]


# ---------------------------------------------------------------- 6. every invalid case file

def test_test_reports_every_invalid_file_and_runs_the_valid_ones(tmp_path, capsys):
    shutil.copy(SEED, tmp_path / "a_seed.yaml")
    (tmp_path / "b_bad.yaml").write_text("case_id: x\n")
    (tmp_path / "c_bad.yaml").write_text("case_id: [\n")
    code, out, err = run(capsys, "test", str(tmp_path))
    assert code == 2
    problems = err.strip().splitlines()
    assert {p.split(":", 1)[0] for p in problems} == {str(tmp_path / "b_bad.yaml"), str(tmp_path / "c_bad.yaml")}
    assert all(LINE.match(p) for p in problems)
    assert "3 passed, 0 failed, 2 invalid case files" in out


def test_a_mismatch_alone_still_exits_1(tmp_path, capsys):
    case = tmp_path / "seed.yaml"
    case.write_text(SEED.read_text().replace("  pt-lumbar: Upheld", "  pt-lumbar: Overturned"))
    assert run(capsys, "test", str(case))[0] == 1


# ---------------------------------------------------------------- 7. batch on a directory

def test_batch_on_a_directory_says_so(tmp_path, capsys):
    code, out, err = run(capsys, "batch", str(tmp_path))
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"{tmp_path}:1:1: E000 is a directory, not a JSON Lines file"


# ---------------------------------------------------------------- 8. coverage list only for the whole corpus

def test_a_few_cases_print_the_coverage_count_not_the_unfired_list(tmp_path, capsys):
    case = tmp_path / "no_expected.yaml"
    case.write_text(SEED.read_text().split("\nexpected:", 1)[0] + "\n")
    code, out, _ = run(capsys, "test", str(case))
    assert code == 0
    assert "fired in no case" not in out
    assert re.search(r"^rule coverage: 0 of \d+ rules fired$", out, re.M), out


# ---------------------------------------------------------------- 9. diff totals

def _change(base, head, base_rules, head_rules):
    return ItemChange("c.yaml", "c", "i", base, head, base_rules, head_rules, "MTUS", "MTUS", [])


def test_diff_counts_a_kept_decision_as_a_governing_rules_change():
    result = Impact("a", "b", cases=2, items=2, changes=[
        _change("Upheld", "Upheld", ["r1"], ["r2"]), _change("Overturned", "Upheld", ["r1"], ["r1"])])
    assert result.transitions() == {"governing rules changed (decision unchanged)": 1, "Overturned -> Upheld": 1}


# ---------------------------------------------------------------- 10. plurals

def test_validate_summary_counts_read_right(tmp_path, capsys):
    code, _, err = run(capsys, "validate", str(misspelt(tmp_path)))
    assert code == 0
    assert err.strip().splitlines()[-1] == "0 rules, 1 case file valid; 0 problems, 1 warning"
    bad = tmp_path / "bad.yaml"
    bad.write_text(DICLOFENAC.read_text().replace("request_date: 2015-03-02", "request_date: someday"))
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 1 and err.strip() == "0 rules, 0 case files valid; 1 problem", out


@pytest.mark.parametrize("command", [["docs", "-o"], ["generate", "--cases", "2", "-o"]])
def test_output_path_that_is_a_folder_is_bad_input(tmp_path, capsys, command):
    code, out, err = run(capsys, *command, str(tmp_path))
    assert code == 2 and out == ""
    assert err.strip() == f"{tmp_path}:1:1: E000 cannot write: Is a directory"


def test_generate_refuses_a_negative_count(capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--cases", "-5"])
    assert info.value.code == 2
