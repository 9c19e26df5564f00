"""Criteria carried over from another edition (issue 11, item 1): where a pack's criteria are the
text of one edition applied during a later edition's period, the pack declares it as data
(`carried_over:`), validation places a malformed declaration at its line (R016, or R001 for the
schema), and the letter's guideline basis and `imr explain` (text and JSON) name the edition whose
values were applied, on the days it declares and on no others."""

from __future__ import annotations

import json
import re
import shutil

from engine.load.cases import load_case

from .conftest import ROOT, case_path, run

IN_2015 = case_path("331_lumbar_support_chronic_low_back_pain.yaml")  # 2015-06-09: the 2009 MTUS period
IN_2008 = case_path("337_lumbar_support_2008_acoem.yaml")  # 2008-09-09: the chapter's own MTUS period
NOTE_2009 = ("values of ACOEM Practice Guidelines, 2nd Edition (2004), Chapter 12 applied (carried over into MTUS with the "
             "Chronic Pain Medical Treatment Guidelines and Postsurgical Treatment Guidelines (2009))")
PACK = ROOT / "guideline_rules" / "packs" / "mtus-acoem-2004-lumbar-supports.yaml"


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_letter_names_the_edition_whose_values_were_applied(engine, capsys):
    item = engine.decide(load_case(IN_2015)).items[0]
    assert {c.carried_over for c in item.citations} == {NOTE_2009}
    code, out, _ = run(capsys, "decide", IN_2015)
    assert code == 0
    basis = _flat(out.split("Guideline basis: ", 1)[1].split("Decision rationale:", 1)[0])
    assert basis.startswith("Decision based on MTUS ACOEM Practice Guidelines, 2nd Edition, Chapter 12 Low Back Complaints (2004)")
    assert basis.rstrip().endswith(f"; {NOTE_2009}.")
    code, out, _ = run(capsys, "decide", IN_2015, "--format", "json")
    assert {c["carried_over"] for c in json.loads(out)["items"][0]["citations"]} == {NOTE_2009}


def test_a_postsurgical_request_under_the_2016_update_names_the_2009_values(engine):
    item = engine.decide(load_case(case_path("790_postsurgical_lumbar_initial_course_2017.yaml"))).items[0]
    assert item.decision == "Overturned"
    assert {c.carried_over for c in item.citations} == {
        "values of Postsurgical Treatment Guidelines (2009) applied (carried over into MTUS with the 2016 Chronic Pain "
        "Medical Treatment Guidelines and Opioids Treatment Guidelines)"}
    before = engine.decide(load_case(case_path("001_postsurgical_lumbar_initial_course.yaml"))).items[0]  # 2015: its own period
    assert before.citations and all(c.carried_over is None for c in before.citations)


def test_no_edition_is_named_outside_the_declared_days(engine, capsys):
    item = engine.decide(load_case(IN_2008)).items[0]
    assert item.citations and all(c.carried_over is None for c in item.citations)
    code, out, _ = run(capsys, "decide", IN_2008)
    assert code == 0 and "carried over" not in out


def test_explain_says_it_in_text_and_json(capsys):
    code, out, _ = run(capsys, "explain", IN_2015, "--no-counterfactuals")
    assert code == 0 and NOTE_2009 in out
    code, out, _ = run(capsys, "explain", IN_2015, "--no-counterfactuals", "--format", "json")
    rules = [r for item in json.loads(out) for r in item["rules"] if r["rule"].startswith("acoem.low-back.lumbar-support")]
    assert rules and all(r["carried_over"] == NOTE_2009 for r in rules)
    code, out, _ = run(capsys, "explain", IN_2008, "--no-counterfactuals")
    assert code == 0 and "carried over" not in out


def _rules_with(tmp_path, edit) -> tuple:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", rules)
    pack = rules / "packs" / PACK.name
    text = PACK.read_text()
    pack.write_text(edit(text))
    return rules, pack


def _line_of(path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def test_a_declaration_naming_no_history_period_is_refused_at_its_line(tmp_path, capsys):
    rules, pack = _rules_with(tmp_path, lambda t: t.replace("into: MTUS with the 2016", "into: MTUS of 2016 with the", 1))
    code, out, _ = run(capsys, "validate", rules)
    line = _line_of(pack, "into: MTUS of 2016")
    assert code == 1
    assert any(re.match(rf"{re.escape(str(pack))}:{line}:\d+: R016 'MTUS of 2016 with the", l) and "names no period of the guideline history" in l
               for l in out.splitlines()), out


def test_a_declaration_outside_the_pack_or_its_period_or_overlapping_is_refused_at_its_line(tmp_path, capsys):
    # the second declaration moved to end after the pack does (2017-11-30) and to overlap the first
    rules, pack = _rules_with(tmp_path, lambda t: t.replace("applied: {from: 2016-07-29, to: 2017-11-30}",
                                                            "applied: {from: 2016-07-01, to: 2018-03-01}", 1))
    code, out, _ = run(capsys, "validate", rules)
    line = _line_of(pack, "applied: {from: 2016-07-01")
    found = [l for l in out.splitlines() if l.startswith(f"{pack}:{line}:") and " R016 " in l]
    assert code == 1
    assert any("outside the pack's effective dates 2007-06-15..2017-11-30" in l for l in found), out
    assert any("outside the period 'MTUS with the 2016" in l for l in found), out
    assert any("overlap declaration 1 (2009-07-18..2016-07-28)" in l for l in found), out


def test_a_malformed_declaration_is_a_schema_error_at_its_line(tmp_path, capsys):
    rules, pack = _rules_with(tmp_path, lambda t: t.replace("  - values_of: ACOEM", "  - value_of: ACOEM", 1))
    code, out, _ = run(capsys, "validate", rules)
    line = _line_of(pack, "value_of: ACOEM")
    assert code == 1
    assert re.search(rf"^{re.escape(str(pack))}:{line}:\d+: R001 carried_over\.0\.", out, re.M), out
