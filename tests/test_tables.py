"""Tables: each visit number written once, a rule written once against the table, one rule per row.

The rule base expands a rule with `table:` into one ParsedRule per row before compilation, with the
row's values substituted as literals of the parsed condition; a bad column, a bad cell and the row
read outside a table rule are positioned diagnostics; editing one row moves only what reads it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from engine.checks.tables import ALLOWANCE, COLUMNS, substitute, to_text
from engine.cli.main import main
from engine.decide.pipeline import Engine
from engine.language.conditions import Compare, RefOperand, parse, refs
from engine.load.cases import load_case
from engine.model.rules import Row
from engine.tools.diff import governing_rules, impact

from .conftest import CASES, ROOT

RULES = ROOT / "guideline_rules"
PSTG = "packs/mtus-postsurgical-2009.yaml"
PM = "packs/mtus-cpmtg-2009-physical-medicine.yaml"
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]\d{3}) (?P<message>.+)$")


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _edit(rules: Path, pack: str, old: str, new: str) -> str:
    path = rules / pack
    text = path.read_text()
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path.write_text(text)
    return text


def _validate(capsys, rules: Path) -> tuple[int, list[dict]]:
    code = main(["validate", str(rules)])
    out = capsys.readouterr().out
    found = [LINE.match(line) for line in out.strip().splitlines()]
    assert found and all(found), out
    return code, [m.groupdict() for m in found]


def _position(text: str, line_text: str, token: str) -> tuple[int, int]:
    """1-based line and column of `token` on the (only) line that contains `line_text`."""
    lines = text.splitlines()
    matches = [n for n, line in enumerate(lines) if line_text in line]
    assert len(matches) == 1, line_text
    return matches[0] + 1, lines[matches[0]].index(token) + 1


def _only_problem(capsys, rules: Path, code: str, at: tuple[int, int]) -> dict:
    """`imr validate` finds exactly one problem, `code` at (line, col), and exits 1: that problem."""
    exit_code, problems = _validate(capsys, rules)
    assert exit_code == 1 and [(p["code"], int(p["line"]), int(p["col"])) for p in problems] == [(code, *at)], problems
    return problems[0]


# ---------------------------------------------------------------- expansion

def test_the_postsurgical_table_is_one_rule_per_row_with_literals(engine):
    pack = next(p for p in engine.base.packs if p.pack == "mtus-postsurgical-2009")
    rows = pack.tables["courses"].rows
    general = [r for r in engine.base.rules if r.rule.id.startswith("pstg.general-course[")]
    initial = [r for r in engine.base.rules if r.rule.id.startswith("pstg.initial-course[")]
    assert [r.rule.id for r in general] == [f"pstg.general-course[{row.procedure}]" for row in rows]
    assert len(initial) == len(rows) == 10
    fusion = engine.base.rule("pstg.general-course[lumbar_fusion]")
    # the row's values are literals of the parsed condition: no `allowance` reference is left
    assert all(ref.entity != ALLOWANCE for expr in (fusion.when, fusion.require) for ref in refs(expr))
    assert isinstance(fusion.require, Compare) and fusion.require.value == 34 and not isinstance(fusion.require.value, RefOperand)
    assert fusion.when.value == "lumbar_fusion"
    assert fusion.rule.require == "history.visits_total <= 34" and fusion.rule.when == 'surgery.procedure == "lumbar_fusion"'
    assert fusion.rule.allowance.visits == 34 and fusion.rule.allowance.text == "34 visits over 16 weeks (initial course 17)"
    assert fusion.rule.section == "8 CCR 9792.24.3(d), Low Back" and fusion.row == ("courses", 1)
    assert fusion.rule.metadata.unverified == ["34 visits over 16 weeks, 6-month period (reference/guidelines.md section 3b)"]
    carpal = engine.base.rule("pstg.initial-course[carpal_tunnel_release]")
    assert carpal.rule.require == "item.visits_requested <= 4"
    assert carpal.rule.documentation[0].startswith("A request within the initial course (4 visits)")
    # every postsurgical period is in the table once: the scopes are one per row, literals too
    whens = [to_text(s.when) for s in engine.base.scopes["mtus-postsurgical-2009"]]
    assert whens[0] == 'surgery.procedure == "lumbar_discectomy_laminectomy" and surgery.months_since <= 6'
    assert 'surgery.procedure == "total_knee_arthroplasty" and surgery.months_since <= 4' in whens and len(whens) == 10


def test_templates_read_the_row_as_the_rules_allowance(engine):
    rule = engine.base.rule("pstg.general-course[carpal_tunnel_release]")
    text = rule.templates["not_documented"].render({"allowance": rule.rule.allowance.model_dump()})  # as the letter does
    assert "support 3-8 visits over 3-5 weeks after carpal tunnel release (endoscopic or open);" in " ".join(text.split())
    # a table in words is a literal of the template of a rule without a table
    summary = engine.base.rule("cpmtg.pm.allowance-group-not-documented").templates["not_documented"].render({"item": {"region": "knee"}})
    assert ("9-10 visits over 8 weeks for myalgia and myositis, 8-10 visits over 4 weeks for neuralgia, neuritis and "
            "radiculitis, and 24 visits over 16 weeks for complex regional pain syndrome") in " ".join(summary.split())


def test_a_row_value_is_a_literal_never_template_source(tmp_path):
    """A label that looks like a template is printed as written: row values are not parsed."""
    rules = _copy(tmp_path)
    _edit(rules, PSTG, "        label: meniscectomy\n", '        label: "meniscectomy {{ history.visits_total }}"\n')
    engine = Engine(rules)
    rule = engine.base.rule("pstg.general-course[knee_meniscectomy]")
    assert rule.rule.title == "General course after meniscectomy {{ history.visits_total }}: 12 visits over 12 weeks within 6 months"
    text = rule.templates["not_documented"].render({"allowance": rule.rule.allowance.model_dump(), "history": {"visits_total": 99}})
    assert "after meniscectomy {{ history.visits_total }};" in " ".join(text.split())


def test_substitution_flips_a_row_value_on_the_left():
    expr = parse("allowance.visits >= history.visits_total + 2 and surgery.procedure == allowance.procedure")
    out = substitute(expr, {"visits": 16, "procedure": "lumbar_fusion"})
    assert to_text(out) == 'history.visits_total <= 14 and surgery.procedure == "lumbar_fusion"'
    diagnosis = parse("dx.sprain_strain == true and dx.radiculopathy == false")
    assert to_text(substitute(parse("not allowance.diagnosis"), {}, diagnosis)) == "not (dx.sprain_strain == true and dx.radiculopathy == false)"


@pytest.mark.parametrize("text", [
    'history.visits_total <= 10 and (dx.pm_group in ["crps", "myalgia_myositis"] or item.region != "knee")',
    "not (history.prior == true or clinical.new_injury is documented) and item.visits_requested <= item.duration_weeks - 2",
    'item.region not in ["knee", "hip"] and request.date >= 2015-01-01',
])
def test_conditions_written_back_parse_to_the_same_tree(text):
    def shape(expr):  # the tree without source positions
        return re.sub(r", line=\d+, col=\d+", "", repr(expr))
    assert shape(parse(to_text(parse(text)))) == shape(parse(text))


def test_columns_match_the_row_model():
    assert set(COLUMNS) == set(Row.model_fields) - {"metadata"}


# ---------------------------------------------------------------- positioned problems, nonzero exit

def test_an_unknown_column_is_reported_at_its_reference(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PSTG, "require: history.visits_total <= allowance.visits", "require: history.visits_total <= allowance.vists")
    code, problems = _validate(capsys, rules)
    line, col = _position(text, "require: history.visits_total <= allowance.vists", "allowance.vists")
    assert code == 1
    assert {(p["code"], int(p["line"]), int(p["col"])) for p in problems} == {("C002", line, col)}, problems
    assert "unknown field 'allowance.vists'" in problems[0]["message"] and problems[0]["path"].endswith("mtus-postsurgical-2009.yaml")


def test_a_column_compared_with_a_text_fact_is_a_type_error(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PSTG, "when: surgery.procedure == allowance.procedure\n", "when: surgery.procedure == allowance.visits\n")
    problem = _only_problem(capsys, rules, "C002", _position(text, "when: surgery.procedure == allowance.visits", "surgery.procedure"))
    assert "type mismatch: surgery.procedure is text, compared with number" in problem["message"]


def test_a_wrongly_typed_cell_is_reported_at_its_row(tmp_path, capsys):
    rules = _copy(tmp_path)
    old = "{procedure: total_knee_arthroplasty, label: total knee arthroplasty, body_part: Knee, visits: 24,"
    text = _edit(rules, PSTG, old, old.replace("visits: 24,", "visits: twenty-four,"))
    problem = _only_problem(capsys, rules, "R001", _position(text, "visits: twenty-four", "visits: twenty-four"))
    assert "tables.courses.rows.5.visits" in problem["message"]


def test_a_missing_cell_is_reported_at_its_row(tmp_path, capsys):
    rules = _copy(tmp_path)
    old = "{procedure: acl_reconstruction, label: ACL repair / reconstruction, body_part: Knee, visits: 24, weeks: 16, period_months: 6, initial_visits: 12}"
    text = _edit(rules, PSTG, old, old.replace(", initial_visits: 12", ""))
    code, problems = _validate(capsys, rules)
    line, col = _position(text, "procedure: acl_reconstruction", "{procedure")
    assert code == 1 and {(p["code"], int(p["line"]), int(p["col"])) for p in problems} == {("R013", line, col)}, problems
    assert problems[0]["message"].startswith("row 'acl_reconstruction' of table 'courses' has no `initial_visits`, which ")


def test_a_row_without_the_period_its_scope_reads_is_reported_at_its_row(tmp_path, capsys):
    rules = _copy(tmp_path)
    old = "{procedure: rotator_cuff_repair, label: rotator cuff repair / acromioplasty, body_part: Shoulder, visits: 24, weeks: 14, period_months: 6,"
    text = _edit(rules, PSTG, old, old.replace(" period_months: 6,", ""))
    code, problems = _validate(capsys, rules)
    line, col = _position(text, "procedure: rotator_cuff_repair", "{procedure")
    assert code == 1 and {(p["code"], int(p["line"]), int(p["col"])) for p in problems} == {("R013", line, col)}, problems
    assert any("has no `period_months`, which `addresses` 1 reads" in p["message"] for p in problems)


def test_a_misspelt_procedure_in_a_cell_is_reported_at_the_cell(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PSTG, "{procedure: lumbar_fusion,", "{id: lumbar_fusion, procedure: lumbar_fuson,")
    code, problems = _validate(capsys, rules)
    line, col = _position(text, "procedure: lumbar_fuson", "procedure: lumbar_fuson")
    assert code == 1 and {(p["code"], int(p["line"]), int(p["col"])) for p in problems} == {("C002", line, col)}, problems
    assert "'lumbar_fuson' is not a known value of surgery.procedure" in problems[0]["message"]


def test_the_row_outside_a_table_rule_is_an_error_at_its_position(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PM, "require: item.frequency_per_week <= 3", "require: item.frequency_per_week <= allowance.visits")
    problem = _only_problem(capsys, rules, "C006", _position(text, "require: item.frequency_per_week <= allowance.visits", "allowance.visits"))
    assert "allowance.visits reads a table row: only a rule or scope with `table:` has one" in problem["message"]


def test_an_unknown_table_is_reported_at_the_rule(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PSTG, "  - id: pstg.initial-course\n    silence: requirement\n    table: courses\n", "  - id: pstg.initial-course\n    silence: requirement\n    table: coursse\n")
    _only_problem(capsys, rules, "R012", _position(text, "table: coursse", "table"))


def test_a_row_compared_with_a_literal_is_an_error(tmp_path, capsys):
    rules = _copy(tmp_path)
    text = _edit(rules, PSTG, "when: surgery.procedure == allowance.procedure\n", "when: allowance.visits > 10\n")
    _only_problem(capsys, rules, "C006", _position(text, "when: allowance.visits > 10", "allowance.visits"))


# ---------------------------------------------------------------- one row edited, only what reads it moves

def test_editing_one_rows_visits_moves_exactly_the_decisions_that_read_it(engine, tmp_path):
    rules = _copy(tmp_path)
    old = "{procedure: total_knee_arthroplasty, label: total knee arthroplasty, body_part: Knee, visits: 24,"
    _edit(rules, PSTG, old, old.replace("visits: 24,", "visits: 16,"))
    edited = Engine(rules)
    result = impact(engine, edited, [CASES], "base", "head")
    # the row's two rules changed (both carry the row as their allowance); no other rule did
    assert result.edited_rules == {"pstg.general-course[total_knee_arthroplasty]": "changed",
                                   "pstg.initial-course[total_knee_arthroplasty]": "changed"}
    assert edited.base.rule("pstg.general-course[total_knee_arthroplasty]").rule.require == "history.visits_total <= 16"
    assert result.changes, "the corpus holds a total knee case of 17 to 24 visits"
    for change in result.changes:
        assert "pstg.general-course[total_knee_arthroplasty]" in change.base_rules + change.head_rules
    # independently: nothing outside total knee arthroplasty moved
    moved = {(c.case_id, c.item_id) for c in result.changes}
    for path in sorted(CASES.rglob("*.yaml")):
        if "golden" in path.parts:
            continue
        case = load_case(path)
        before = {i.item_id: i for i in engine.decide(case).items}
        for after in edited.decide(case).items:
            old_item = before[after.item_id]
            if (old_item.decision, governing_rules(old_item)) != (after.decision, governing_rules(after)):
                assert (case.case_id, after.item_id) in moved
                assert any(s.procedure == "total_knee_arthroplasty" for s in case.surgeries)


# ---------------------------------------------------------------- surgeries and their postsurgical tables

VOCAB_PROCEDURES = "vocabulary/procedures.yaml"


def test_a_row_whose_surgery_does_not_name_its_pack_is_reported_at_the_cell(tmp_path, capsys):
    """procedures.yaml lists, per surgery, the packs with a course for it (`postsurgical:`): a row the list leaves out is R015."""
    rules = _copy(tmp_path)
    _edit(rules, VOCAB_PROCEDURES, "title: Lumbar fusion, postsurgical: [mtus-postsurgical-2009]}", "title: Lumbar fusion}")
    text = (rules / PSTG).read_text()
    problem = _only_problem(capsys, rules, "R015", _position(text, "{procedure: lumbar_fusion,", "procedure"))
    assert "surgery 'lumbar_fusion' has a course in this table" in problem["message"] and problem["path"].endswith("mtus-postsurgical-2009.yaml")


def test_a_surgery_naming_a_pack_without_its_row_is_reported_at_the_pack(tmp_path, capsys):
    rules = _copy(tmp_path)
    _edit(rules, VOCAB_PROCEDURES, "title: Total hip arthroplasty}", "title: Total hip arthroplasty, postsurgical: [mtus-postsurgical-2009]}")
    text = (rules / PSTG).read_text()
    problem = _only_problem(capsys, rules, "R015", _position(text, "pack: mtus-postsurgical-2009", "pack:"))
    assert "no table row of the pack has `procedure: total_hip_arthroplasty`" in problem["message"]


def test_every_surgery_with_a_course_names_the_packs_of_its_rows(engine):
    """The link read from the vocabulary side: carpal tunnel release has a course in California and in Texas."""
    procedures = engine.base.files.vocabulary.procedures.procedures
    assert procedures["carpal_tunnel_release"].postsurgical == ["mtus-postsurgical-2009", "odg-tx-postsurgical-physical-therapy"]
    rows = {(lp.pack.pack, row.procedure) for lp in engine.base.files.packs for t in lp.pack.tables.values() for row in t.rows if row.procedure}
    assert rows == {(pack, key) for key, p in procedures.items() for pack in p.postsurgical}
