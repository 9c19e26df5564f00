"""`imr explain`: the display evaluation agrees with what durable-rules fired, and the
counterfactuals are real (re-deciding the modified case with the engine gives the new decision)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.model.case import Case
from engine.load.cases import case_files, load_case
from engine.cli.main import main
from engine.tools.counterfactual import _apply
from engine.tools.explain import explain_case

from .conftest import case_path

ROOT = Path(__file__).resolve().parent.parent
SEED = case_path("000_seed_b27565c25da42ea0.yaml")


@pytest.mark.parametrize("path", case_files([ROOT / "cases"]), ids=lambda p: p.stem)
def test_explained_outcome_of_every_rule_agrees_with_what_fired(engine, path):
    case = load_case(path)
    for item in explain_case(engine, case, counterfactuals=False):
        shown = {(r.rule, r.subject, r.status) for r in item.rules if r.status}
        fired = {(f["rule"], f["subject"], f["status"]) for f in item.findings}
        assert shown == fired, f"{item.item_id}: explained only {shown - fired}; fired only {fired - shown}"


@pytest.fixture(scope="module")
def seed_lumbar(engine):
    case = load_case(SEED)
    return case, next(i for i in explain_case(engine, case) if i.item_id == "pt-lumbar")


def test_seed_lumbar_shows_the_failed_conditions(seed_lumbar):
    _, item = seed_lumbar
    assert item.decision == "Upheld" and item.decision_rule == "decide:not_documented"
    by_rule = {r.rule: r for r in item.rules}
    fi = by_rule["cpmtg.pm.functional-improvement"]
    assert fi.status == "not_documented" and fi.when.result is True and fi.require.result is None
    assert fi.require.leaves[0].values == "history.functional_improvement = not documented"
    allowance = by_rule["cpmtg.pm.allowance[neuritis_radiculitis]"]
    assert allowance.status == "not_documented"
    assert allowance.when.leaves[0].values == 'dx.pm_group = "neuritis_radiculitis"'
    assert by_rule["cpmtg.pm.frequency-fading"].status == "met"
    assert [s["state"] for s in item.sequence][1] == "governs"
    assert "functional_improvement" not in item.facts["history"]  # absent: not documented


def test_seed_lumbar_counterfactuals_are_smallest_and_real(engine, seed_lumbar):
    case, item = seed_lumbar
    assert item.counterfactuals, "some documentation must change the lumbar item"
    sizes = {len(c["set"]) for c in item.counterfactuals}
    assert len(sizes) == 1  # only the smallest size is reported
    data = case.model_dump(mode="python", exclude={"expected"})
    for found in item.counterfactuals:
        assert found["decision"] != "Upheld"
        for change in found["set"]:  # only facts the record left undocumented are documented
            assert "[" in change["path"] or "." in change["path"]
        from engine.tools.counterfactual import Change

        changes = [Change(_path(c["path"]), c["value"]) for c in found["set"]]
        redecided = engine.decide(Case.model_validate(_apply(data, changes)))
        assert next(i for i in redecided.items if i.item_id == "pt-lumbar").decision == found["decision"]
        if len(changes) > 1:  # minimal: no part of the set alone changes the decision
            for change in changes:
                alone = engine.decide(Case.model_validate(_apply(data, [change])))
                assert next(i for i in alone.items if i.item_id == "pt-lumbar").decision == "Upheld"


def _path(label: str) -> tuple:
    out = []
    for part in label.replace("[", ".[").split("."):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def test_explain_cli_text_and_json(capsys):
    assert main(["explain", str(SEED), "--item", "pt-lumbar"]) == 0
    out = capsys.readouterr().out
    assert "NOT DOCUMENTED: cpmtg.pm.functional-improvement" in out
    assert "unknown history.functional_improvement == true   (history.functional_improvement = not documented)" in out
    assert "2. MTUS [MTUS]: governs (mtus-cpmtg-2009-physical-medicine)" in out
    assert "documentation that would have changed it" in out and "-> Overturned" in out
    assert main(["explain", str(SEED), "--format", "json", "--no-counterfactuals"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["item_id"] for i in items] == ["pt-lumbar", "pt-cervical", "compound-topical"]


def test_explain_bad_case_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("case_id: x\n")
    assert main(["explain", str(bad)]) == 2
    assert f"{bad}:" in capsys.readouterr().err
