"""`imr validate` and `imr test`: every mistake reported at its file and line, in one run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.tools.validate import validate_paths

from .conftest import case_path

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "fixtures" / "bad_rules"
PACK_A = str(BAD / "packs" / "fixture-a.yaml")
PACK_B = str(BAD / "packs" / "fixture-b.yaml")
CASE = str(BAD / "cases" / "expected-not-requested.yaml")

# (file, line, code, words of the message): one per mistake planted in tests/fixtures/bad_rules
EXPECTED = [
    (PACK_A, 11, "R010", "unknown service 'physical_therapyy'"),
    (PACK_A, 21, "R003", "duplicate rule id 'fx.duplicate'"),
    (PACK_A, 34, "C002", "unknown field 'history.visits_sofar'"),
    (PACK_A, 42, "C002", "type mismatch"),
    (PACK_A, 53, "T001", "history.sessions_done"),
    (PACK_A, 61, "R007", "never"),
    (PACK_A, 65, "R001", "section: required field is missing"),
    (PACK_A, 77, "C001", "unexpected"),
    (PACK_A, 85, "C002", "'lumbarr' is not a known value"),
    (PACK_A, 95, "R005", "rationale.not_documented is missing"),
    (PACK_A, 97, "R006", "documentation"),
    (PACK_A, 109, "R001", "requires: unknown field"),
    (PACK_A, 116, "R004", "must cite pages"),
    (PACK_A, 120, "R014", "does not say what silence means"),
    (PACK_B, 8, "R008", "overlap"),
    (CASE, 8, "E004", "'pt-back', which is not requested"),
]


@pytest.fixture(scope="module")
def bad_run():
    return validate_paths([str(BAD), str(BAD / "cases")])


@pytest.mark.parametrize("path,line,code,words", EXPECTED, ids=[f"{c}@{Path(p).name}:{n}" for p, n, c, _ in EXPECTED])
def test_each_mistake_is_reported_at_its_line(bad_run, path, line, code, words):
    _, _, problems = bad_run
    hits = [p for p in problems if p.path == path and p.line == line and p.code == code]
    assert hits, f"no {code} at {path}:{line}; got:\n" + "\n".join(map(str, problems))
    assert any(words in p.message for p in hits), [p.message for p in hits]


def test_nothing_but_the_planted_mistakes(bad_run):
    _, _, problems = bad_run
    assert len(problems) == len(EXPECTED), "\n".join(map(str, problems))


def test_conditions_point_inside_the_condition(bad_run):
    """The column of a condition problem is where the bad name starts, not where the key starts."""
    _, _, problems = bad_run
    unknown = next(p for p in problems if "visits_sofar" in p.message)
    line = Path(PACK_A).read_text().splitlines()[unknown.line - 1]
    assert line[unknown.col - 1:].startswith("history.visits_sofar")


def test_cli_prints_one_line_per_problem_and_exits_1(capsys):
    assert main(["validate", str(BAD), str(BAD / "cases")]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == len(EXPECTED)
    assert all(line.count(":") >= 3 and line.split(": ", 1)[1][:1] in "RCTEW" for line in out)


def test_the_project_rules_and_cases_are_valid(capsys):
    assert main(["validate"]) == 0, capsys.readouterr().out


def test_one_pack_file_inside_a_rules_folder():
    rules, _, problems = validate_paths([str(ROOT / "guideline_rules" / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml")])
    assert rules > 0 and problems == []


def test_one_edited_pack_file_outside_a_rules_folder(tmp_path):
    """Validated against the project's vocabulary and profiles, replacing the pack of the same id."""
    source = ROOT / "guideline_rules" / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml"
    edited = tmp_path / "draft.yaml"
    edited.write_text(source.read_text().replace("require: history.visits_total <= allowance.visits", "require: history.visits_totl <= allowance.visits", 1))
    _, _, problems = validate_paths([str(edited)])
    assert [(p.path, p.code) for p in problems] == [(str(edited), "C002")]
    line = edited.read_text().splitlines()[problems[0].line - 1]
    assert "visits_totl" in line


def test_a_folder_of_packs_alone_is_checked_as_a_layer_over_the_project_rules(tmp_path):
    """Packs kept outside the project (licensed content) use its vocabulary and profiles, and are
    checked beside its packs: a copy of a shipped pack is a duplicate, not a second valid pack."""
    (tmp_path / "packs").mkdir()
    shutil.copy(ROOT / "guideline_rules" / "packs" / "odg-neck-physical-therapy.yaml", tmp_path / "packs")
    rules, _, problems = validate_paths([str(tmp_path)])
    assert rules > 0 and [p.code for p in problems] == ["L003"]
    (tmp_path / "packs" / "odg-neck-physical-therapy.yaml").rename(tmp_path / "packs" / "neck-copy.yaml")
    _, _, problems = validate_paths([str(tmp_path)])
    assert "R002" in {p.code for p in problems} and all(p.path.startswith(str(tmp_path)) for p in problems)


def test_unknown_values_in_a_case_are_warnings(tmp_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_text("case_id: w\nrequest_date: 2015-06-10\nrequested_items:\n"
                    "  - {type: therapy, id: x, description: d, service: physical_therapyy, region: lumbar, visits: 6}\n")
    assert main(["validate", str(case)]) == 0
    out = capsys.readouterr().out
    assert f"{case}:4:" in out and "W001 unknown service 'physical_therapyy'" in out


def test_text_cut_by_a_comment_is_a_warning(tmp_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_text("case_id: w\nrequest_date: 2015-06-10\nrequested_items:\n  - type: medication\n    id: oxy\n"
                    "    description: Oxycodone 10 mg every 8 hours, #90\n    form: oral\n"
                    "    ingredients: [{drug: oxycodone, strength: 10 mg}]  # a comment is fine\n")
    assert main(["validate", str(case)]) == 0
    out = capsys.readouterr().out
    assert f"{case}:6:49: W003 text ends at ' #'" in out
    assert out.count("W003") == 1


def test_missing_path_is_a_problem(capsys):
    assert main(["validate", "no/such/path.yaml"]) == 1
    assert "no/such/path.yaml:1:1: E000" in capsys.readouterr().out


# ---------------------------------------------------------------- imr test

SEED = case_path("000_seed_b27565c25da42ea0.yaml")


def test_a_mismatch_shows_the_case_item_decisions_and_rules(tmp_path, capsys):
    case = tmp_path / "seed.yaml"
    case.write_text(SEED.read_text().replace("  pt-lumbar: Upheld", "  pt-lumbar: Overturned"))
    assert main(["test", str(case)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {case} [seed-000-b27565c25da42ea0] item pt-lumbar: expected Overturned, got Upheld" in out
    assert "* cpmtg.pm.functional-improvement: not documented" in out
    assert "2 passed, 1 failed" in out
    assert "rule coverage:" in out


def test_golden_rationale_is_written_then_compared(tmp_path, capsys):
    case = tmp_path / "seed.yaml"
    shutil.copy(SEED, case)
    assert main(["test", str(case), "--update-golden"]) == 0
    golden = tmp_path / "golden" / "seed.txt"
    assert "Physical therapy 2 times a week for 4 weeks for the lumbar spine" in golden.read_text()
    assert main(["test", str(case)]) == 0
    golden.write_text(golden.read_text().replace("Upheld", "Overturned", 1))
    capsys.readouterr()
    assert main(["test", str(case)]) == 1
    out = capsys.readouterr().out
    assert "GOLDEN" in out and "-" in out and "1 golden text differs" in out
