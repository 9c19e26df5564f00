"""`imr diff`: a rule edit moves exactly the cases it should, and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.decide.pipeline import Engine
from engine.load.cases import case_files, load_case
from engine.cli.main import main
from engine.tools.diff import governing_rules, impact

from .conftest import case_path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "guideline_rules"
PM = "packs/mtus-cpmtg-2009-physical-medicine.yaml"


def _edited_copy(tmp_path: Path) -> Path:
    """The rules with one visit allowance changed (myalgia: 9-10 -> 8 visits): one row of the table."""
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    text = (copy / PM).read_text()
    row = "- {group: myalgia_myositis, label: myalgia and myositis, visits_min: 9, visits: 10, weeks: 8}"
    assert text.count(row) == 1
    (copy / PM).write_text(text.replace(row, row.replace("visits_min: 9, visits: 10", "visits: 8")))
    return copy


MYALGIA = "cpmtg.pm.allowance[myalgia_myositis]"
EDITED = {MYALGIA: "changed", "cpmtg.aquatic.visit-allowance[myalgia_myositis]": "changed"}  # both read the row


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    return Engine(_edited_copy(tmp_path_factory.mktemp("diff")))


def test_a_visit_allowance_edit_moves_exactly_the_cases_it_should(engine, edited):
    result = impact(engine, edited, [ROOT / "cases"], "base", "head")
    assert result.edited_rules == EDITED
    # independently: every item of the corpus whose decision or governing rules differ
    moved = set()
    for path in case_files([ROOT / "cases"]):
        case = load_case(path)
        before = {i.item_id: i for i in engine.decide(case).items}
        for after in edited.decide(case).items:
            old = before[after.item_id]
            if (old.decision, governing_rules(old)) != (after.decision, governing_rules(after)):
                moved.add((case.case_id, after.item_id))
    assert moved, "the corpus must hold a case this allowance decides"
    assert {(c.case_id, c.item_id) for c in result.changes} == moved
    assert set(result.by_rule()) == set(EDITED)  # the myalgia PT and aquatic cases
    assert result.cases == len(case_files([ROOT / "cases"]))


def test_identical_rules_move_nothing(engine):
    result = impact(engine, engine, [case_path("000_seed_b27565c25da42ea0.yaml")], "a", "b")
    assert result.changes == [] and result.edited_rules == {} and result.items == 3


def test_cli_with_folders_text_and_json(tmp_path, capsys):
    head = _edited_copy(tmp_path)
    assert main(["diff", "--base", str(RULES), "--head", str(head)]) == 0
    out = capsys.readouterr().out
    assert f"{MYALGIA} (changed)" in out
    assert "002_flare_up_with_functional_improvement.yaml pt-neck: Overturned -> Upheld" in out
    assert main(["diff", "--base", str(RULES), "--head", str(head), "--format", "json", "--fail-on-change"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["changed"] == len(data["changes"]) > 0
    assert list(data["by_rule"]) == sorted(EDITED)


def test_cli_with_a_git_revision(tmp_path, capsys):
    """The base is a commit: its guideline_rules/ is materialised with git archive."""
    repo = tmp_path / "repo"
    shutil.copytree(RULES, repo / "guideline_rules")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "guideline_rules"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "rules"], check=True)
    edited = _edited_copy(tmp_path / "e")
    shutil.copy(edited / PM, repo / "guideline_rules" / PM)
    seed = case_path("002_flare_up_with_functional_improvement.yaml")
    assert main(["diff", "--repo", str(repo), "--base", "HEAD", str(seed)]) == 0
    out = capsys.readouterr().out
    assert "pt-neck: Overturned -> Upheld" in out and "1 case, 1 item; 1 changed" in out


def test_unknown_revision_is_bad_input(tmp_path, capsys):
    assert main(["diff", "--repo", str(ROOT), "--base", "no-such-revision-xyz"]) == 2
    assert "no-such-revision-xyz:1:1: D001" in capsys.readouterr().err
