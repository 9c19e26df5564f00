"""`imr ingest` and `imr agree` (issue 12, items 3 and 4): an IMR determination letter read into a
structured record and a draft case whose facts are traced to their sentences; a malformed letter
is one positioned line and exit 2, nothing written. The seed letter is the acceptance: its draft
decides the hand-written seed case's three Upheld items, its bases are MTUS Chronic Pain pp. 98-99
and pp. 111-113, and the engine agrees. The other letters in tests/fixtures/letters are fixtures
written for these tests (each says so in its first line), not real decisions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from engine.load.cases import load_case

from .conftest import ROOT, SEED, run
from .pdf_writer import pdf_of

LETTERS = ROOT / "tests" / "fixtures" / "letters"
SEED_LETTER = LETTERS / "000_seed_b27565c25da42ea0.txt"
FIXTURE = LETTERS / "101_fixture_overturned_hours_x6.txt"
LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]\d{3}) .+$")


def _ingest(capsys, tmp_path, letter: Path, name: str = "draft.yaml"):
    out = tmp_path / name
    code, stdout, err = run(capsys, "ingest", letter, "-o", out)
    assert code == 0, err
    return out, load_case(out)


def _record(capsys, letter: Path) -> dict:
    code, out, err = run(capsys, "ingest", letter, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_the_seed_letter_decides_as_the_hand_written_seed_case(engine, capsys, tmp_path):
    path, case = _ingest(capsys, tmp_path, SEED_LETTER)
    seed = load_case(SEED)
    decided = {i.item_id: i.decision for i in engine.decide(case).items}
    assert decided == seed.expected_decisions() == {"pt-lumbar": "Upheld", "pt-cervical": "Upheld", "compound-topical": "Upheld"}
    assert [i.model_dump(exclude={"description"}) for i in case.requested_items] == \
           [i.model_dump(exclude={"description"}) for i in seed.requested_items]
    assert case.request_date == seed.request_date and case.jurisdiction == "CA"


def test_the_seed_letter_source_block(capsys, tmp_path):
    _, case = _ingest(capsys, tmp_path, SEED_LETTER)
    source = case.source
    assert source.address == str(SEED_LETTER) and source.level == "IMR" and source.decided is None  # the seed has no date
    assert {k: v.outcome for k, v in source.items.items()} == dict.fromkeys(["pt-lumbar", "pt-cervical", "compound-topical"], "Upheld")
    assert {v.cited_guideline for v in source.items.values()} == {"MTUS"}
    assert source.items["pt-lumbar"].cited == "MTUS Chronic Pain Medical Treatment Guidelines, Physical Therapy, pp. 98-99"
    assert source.items["compound-topical"].cited == "MTUS Chronic Pain Medical Treatment Guidelines, Topical Analgesics, pp. 111-113"
    assert source.items["pt-cervical"].quote.endswith("cervical spine is not medically necessary and appropriate.")


def test_the_seed_facts_are_those_its_summary_states(capsys, tmp_path):
    _, case = _ingest(capsys, tmp_path, SEED_LETTER)
    w = case.injured_worker
    assert (w.age, w.sex, str(w.date_of_injury)) == (43, "female", "2008-03-27")
    assert [d.code for d in case.diagnoses] == ["M51.16"]  # "rule out cervical disc injury" is no diagnosis
    assert [(s.procedure, s.region, s.date) for s in case.surgeries] == [("lumbar_discectomy_laminectomy", "lumbar", "not documented")]
    assert [(h.service, h.region, h.visits_completed, h.functional_improvement) for h in case.treatment_history] == [
        ("physical_therapy", "lumbar", "not documented", "not documented"),
        ("physical_therapy", "cervical", "not documented", "not documented")]
    assert case.clinical_findings.pain_score == 6
    assert case.clinical_findings.work_status == "not documented"
    assert [m.drug for m in case.medications] == ["hydrocodone", "duloxetine", "cyclobenzaprine"]  # "a proton pump inhibitor" names no drug


def test_every_fact_is_traced_to_the_sentence_it_came_from(capsys, tmp_path):
    """Each comment names the letter's line and column where its quoted sentence starts, and every
    value line of the draft's facts has such a comment above it in its block."""
    path, _ = _ingest(capsys, tmp_path, FIXTURE)
    letter_lines = FIXTURE.read_text().split("\n")
    text = path.read_text().split("\n")
    traced = 0
    for line in text:
        m = re.match(r"\s*# (?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): \"(?P<quote>[^\"]*)\"", line)
        if not m:
            continue
        traced += 1
        assert m["path"] == str(FIXTURE)
        at, col = int(m["line"]) - 1, int(m["col"]) - 1
        following = " ".join([letter_lines[at][col:]] + letter_lines[at + 1:at + 8]).split()
        assert " ".join(following).startswith(" ".join(m["quote"].split()[:6])), line
    assert traced >= 10
    body = text[text.index(next(t for t in text if t.startswith("request_date"))) - 1:text.index("requested_items:")]
    last_comment = None
    for line in body:
        if line.lstrip().startswith("#"):
            last_comment = line
        elif line.startswith(" "):
            assert last_comment is not None, f"untraced fact: {line}"


def test_negations_and_possibilities_are_no_positive_facts(capsys, tmp_path):
    _, case = _ingest(capsys, tmp_path, FIXTURE)
    history = {(h.service, h.region): h for h in case.treatment_history}
    assert history["physical_therapy", "lumbar"].functional_improvement is False  # "without functional improvement"
    assert history["chiropractic", "cervical"].functional_improvement is True
    assert history["chiropractic", "cervical"].visits_completed == 6
    assert case.clinical_findings.new_injury is False  # "There is no evidence of a new injury."
    assert case.surgeries == []  # "He has not had surgery."
    assert case.clinical_findings.red_flags == "not documented"
    record = _record(capsys, FIXTURE)
    assert not any("numbness" in json.dumps(f["value"]) for f in record["facts"])  # "He denies numbness or tingling"


def test_the_fixture_requests_hours_and_x6(capsys, tmp_path):
    _, case = _ingest(capsys, tmp_path, FIXTURE)
    items = {i.id: i for i in case.requested_items}
    assert (items["chiropractic-cervical"].service, items["chiropractic-cervical"].visits) == ("chiropractic", 6)
    assert (items["acupuncture-lumbar"].visits, items["acupuncture-lumbar"].region) == (12, "lumbar")
    program = items["fr-other"]
    assert (program.service, program.hours, program.visits) == ("functional_restoration", 80, 10)
    assert case.source.items["chiropractic-cervical"].outcome == "Overturned"
    assert str(case.source.decided) == "2014-10-01" and str(case.request_date) == "2014-09-02"
    assert [d.code for d in case.diagnoses] == ["M54.2", "M54.16"]
    assert case.clinical_findings.work_status == "modified duty" and case.clinical_findings.pain_score == 7


def test_the_record_holds_items_bases_rationale_and_summary(capsys):
    record = _record(capsys, SEED_LETTER)
    assert [i["decision"] for i in record["items"]] == ["Upheld"] * 3
    first = record["items"][0]
    assert first["reviewer"] == "MAXIMUS"
    assert [(b["guideline"], b["section"], b["pages"]) for b in first["reviewer_basis"]] == [("MTUS", "Physical Therapy", "98-99")]
    assert [b["guideline"] for b in first["claims_administrator_basis"]] == ["MTUS", "ODG"]
    assert first["rationale"].startswith("Physical therapy is considered medically necessary")
    assert record["summary"][0] == {"line": 37, "col": 1, "sentence": record["summary"][0]["sentence"]}
    assert record["request_date"]["line"] == 47
    assert any(n["text"] == "rule out cervical disc injury" for n in record["not_facts"])


def test_the_draft_validates_and_tests_as_a_case_file(capsys, tmp_path):
    """What ingest writes is a case file of the corpus: `imr validate` accepts it (warnings aside)
    and `imr test` decides it and tallies it against its source (the engine agrees on the seed)."""
    path, _ = _ingest(capsys, tmp_path, SEED_LETTER)
    code, out, err = run(capsys, "validate", path)
    assert code == 0, out + err
    assert "W002" not in out  # the schema line points at schema/case.schema.json from where the draft is
    code, out, err = run(capsys, "test", path)
    assert code == 0, out + err
    assert "agreement 3 of 3 (100 %)" in out


def test_a_pdf_letter_reads_as_its_text(capsys, tmp_path):
    pdf = tmp_path / "seed.pdf"
    pdf.write_bytes(pdf_of([line for line in SEED_LETTER.read_text().split("\n") if line.strip()]))
    _, from_pdf = _ingest(capsys, tmp_path, pdf, "pdf.yaml")
    _, from_text = _ingest(capsys, tmp_path, SEED_LETTER, "text.yaml")
    assert from_pdf.model_dump(exclude={"case_id", "source"}) == from_text.model_dump(exclude={"case_id", "source"})


@pytest.mark.parametrize("name, code, line", [
    ("901_truncated_in_rationale.txt", "I004", 156),
    ("902_truncated_before_decisions.txt", "I001", 81),
    ("903_conclusion_against_decision.txt", "I005", 136),
    ("904_not_an_imr_letter.txt", "I001", 1),
])
def test_a_malformed_letter_is_one_line_and_nothing_written(name, code, line, capsys, tmp_path):
    out = tmp_path / "draft.yaml"
    status, stdout, err = run(capsys, "ingest", LETTERS / name, "-o", out)
    assert status == 2 and stdout == "" and not out.exists() and not list(tmp_path.iterdir())
    lines = err.strip().split("\n")
    assert len(lines) == 1 and (m := LINE.match(lines[0])), err
    assert (m["code"], int(m["line"])) == (code, line) and m["path"] == str(LETTERS / name)


@pytest.mark.parametrize("text, code", [
    ("", "I001"),
    ("IMR ISSUES, DECISIONS AND RATIONALES\n\nNothing here.\n", "I002"),
    ("CLINICAL CASE SUMMARY\n\nThe injured worker is a 40 year old male.\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\nNo items.\n", "I003"),
    ("CLINICAL CASE SUMMARY\n\nHe was seen on 01/02/2015.\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\nMRI of the knee\n\n"
     "Claims Administrator guideline: Decision based on ODG.\n\nDecision rationale: The MRI is not medically necessary.\n", "I003"),
    ("CLINICAL CASE SUMMARY\n\nHe was seen.\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\nMRI of the knee: Upheld\n\n"
     "Claims Administrator guideline: Decision based on ODG.\n\nDecision rationale: The MRI is not medically necessary.\n", "I008"),
    ("CLINICAL CASE SUMMARY\n\nHe was seen on 01/02/2015.\n\nIMR ISSUES, DECISIONS AND RATIONALES\n\nPhysical therapy for the knee: Upheld\n\n"
     "Claims Administrator guideline: Decision based on ODG.\n\nDecision rationale: It is not medically necessary.\n", "I006"),
])
def test_letters_missing_a_part(text, code, capsys, tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text(text)
    status, stdout, err = run(capsys, "ingest", letter)
    assert status == 2 and stdout == ""
    assert [LINE.match(e)["code"] for e in err.strip().split("\n")] == [code], err


def test_a_letter_that_is_not_text_is_refused(capsys, tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_bytes(b"\xff\xfe\x00binary")
    status, _, err = run(capsys, "ingest", letter)
    assert status == 2 and "Y001" in err
    pdf = tmp_path / "broken.pdf"
    pdf.write_bytes(b"%PDF-1.4 nothing else")
    status, _, err = run(capsys, "ingest", pdf)
    assert status == 2 and " I007 " in err and "Traceback" not in err


def test_agree_tallies_the_seed_and_names_the_truncated_letter(capsys, tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    shutil.copy(SEED_LETTER, folder)
    shutil.copy(LETTERS / "901_truncated_in_rationale.txt", folder)
    status, out, err = run(capsys, "agree", folder)
    assert status == 2
    assert "real decisions: 3 items from 1 case" in out
    assert "agreement 3 of 3 (100 %)" in out and "MTUS: MTUS 3" in out
    assert "901_truncated_in_rationale" not in out
    bad = [line for line in err.split("\n") if LINE.match(line)]
    assert len(bad) == 1 and "901_truncated_in_rationale.txt:156:1: I004" in bad[0]
    assert "901_truncated_in_rationale.txt: unreadable" in err
    status, out, err = run(capsys, "agree", folder, "--format", "json")
    doc = json.loads(out)
    assert status == 2 and doc["agreed"] == 3 and doc["letters"] == 2
    assert [u["path"] for u in doc["unreadable"]] == [str(folder / "901_truncated_in_rationale.txt")]


def test_agree_on_good_letters_exits_0(capsys, tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    for name in (SEED_LETTER, FIXTURE):
        shutil.copy(name, folder)
    status, out, err = run(capsys, "agree", folder)
    assert status == 0, err
    assert "real decisions: 6 items from 2 cases" in out
    assert "Overturned recall 1 of 1 (100 %)" in out


def test_agree_needs_letters(capsys, tmp_path):
    status, _, err = run(capsys, "agree", tmp_path)
    assert status == 2 and f"{tmp_path}:1:1: I010" in err
    status, _, err = run(capsys, "agree", tmp_path / "missing")
    assert status == 2 and "E000" in err


def test_the_draft_yaml_is_plain_safe_yaml(capsys, tmp_path):
    path, _ = _ingest(capsys, tmp_path, SEED_LETTER)
    data = yaml.safe_load(path.read_text())
    assert data["source"]["level"] == "IMR" and "expected" not in data  # the real outcome is in source:, never an expectation


def test_special_files_and_the_letter_as_output_are_refused(capsys, tmp_path):
    import os

    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path, "/dev/zero"):
        status, out, err = run(capsys, "ingest", path)
        assert status == 2 and out == "" and " Y000 " in err, err
    letter = tmp_path / "letter.txt"
    shutil.copy(SEED_LETTER, letter)
    status, _, err = run(capsys, "ingest", letter, "-o", letter)
    assert status == 2 and " I011 " in err and letter.read_text() == SEED_LETTER.read_text()
