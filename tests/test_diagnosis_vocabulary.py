"""The diagnosis vocabulary places real diagnoses (issue 11, item 5): every billable ICD-10-CM code of
the treated chapters, read from the code set itself, falls in a group of each topic that uses groups
or is deliberately ungrouped with a reason; the generated table is current; validation of the
`ungrouped:` list; the case warnings W005 (diagnoses in no group of the item's topic) and W006
(current medications the drug vocabulary does not know)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from engine.checks.diagnoses import place, topic_groups
from engine.cli.main import main
from engine.load.vocabulary import load_vocabulary
from engine.model.diagnostics import InputError
from engine.tools import dxtable

from .conftest import ROOT

VOCAB = ROOT / "guideline_rules" / "vocabulary"


@pytest.fixture(scope="module")
def topics(engine):
    return topic_groups(engine.base)


def test_every_treated_code_is_in_a_group_of_each_topic_or_ungrouped_with_a_reason(engine, topics):
    vocab = engine.base.vocabulary
    codes = dxtable.treated_codes()
    counts, missing = Counter(), []
    for chapter, code in codes:
        found = vocab.dx_lookup(code)
        if found is not None and isinstance(found[1], str):
            assert len(found[1]) >= 10, f"{code}: ungrouped by {found[0]} without a reason"
            counts["ungrouped"] += 1
            continue
        assert found is not None, f"{code} ({chapter}) is neither placed nor ungrouped"
        for name, topic in topics.items():
            p = place(vocab, code, topic, found)
            if not p.accounted:
                missing.append(f"{code} ({found[0]}) for {name}")
        counts["placed"] += 1
    assert missing == [], f"{len(missing)} codes in no group of a topic whose tables select by diagnosis: {missing[:10]}"
    # the code set is the library's, not a sample: every chapter is there, in the tens of thousands
    assert {chapter for chapter, _ in codes} == {name for name, _, _ in dxtable.CHAPTERS}
    assert len(codes) > 35_000 and counts["placed"] + counts["ungrouped"] == len(codes)
    assert counts["placed"] > 20_000


def test_topics_that_use_groups_are_found_in_the_rules(topics):
    pm = topics["physical_medicine"]
    assert pm.selects and {"pm_group", "sprain_strain", "radiculopathy", "rotator_cuff", "meniscus_tear"} <= pm.selecting
    assert "cpmtg.pm.allowance" in pm.rules and "odg.low-back.pt.allowance" in pm.rules
    # groups read as indications: a table of drugs or of devices is not selected by the diagnosis
    assert topics["antiepileptics"].groups == {"neuropathic"} and not topics["antiepileptics"].selects
    assert {"spondylolisthesis", "crps"} <= topics["devices"].groups and not topics["devices"].selects
    assert "drug_testing" not in topics and "restoration_programs" not in topics


@pytest.mark.parametrize("code, region, groups, pm_group", [
    ("S39.92XA", "lumbar", {"spinal_pain"}, "myalgia_myositis"),        # unspecified injury of lower back
    ("S19.9XXA", "cervical", {"spinal_pain"}, "myalgia_myositis"),
    ("S49.91XA", "shoulder", set(), "myalgia_myositis"),
    ("S89.92XA", "knee", set(), "myalgia_myositis"),
    ("M96.1", "lumbar", {"disc_disorder"}, "myalgia_myositis"),          # postlaminectomy syndrome
    ("G89.29", "multiple", set(), "myalgia_myositis"),
    ("G89.4", "multiple", set(), "myalgia_myositis"),
    ("S46.011A", "shoulder", {"rotator_cuff", "sprain_strain"}, "myalgia_myositis"),
    ("M47.26", "lumbar", {"radiculopathy", "neuropathic"}, "neuritis_radiculitis"),
    ("M47.22", "cervical", {"radiculopathy", "neuropathic"}, "neuritis_radiculitis"),
    ("M54.50", "lumbar", {"spinal_pain"}, "myalgia_myositis"),            # first entries unchanged
    ("M51.16", "lumbar", {"disc_disorder", "radiculopathy", "neuropathic"}, "neuritis_radiculitis"),
    ("M51.24", "thoracic", {"disc_disorder"}, "myalgia_myositis"),        # the thoracic level of M51.2
    ("G56.01", "wrist_hand", {"carpal_tunnel", "neuropathic"}, "neuritis_radiculitis"),
    ("G90.512", "multiple", {"crps", "neuropathic"}, "crps"),
])
def test_the_codes_real_decisions_could_not_place(engine, code, region, groups, pm_group):
    entry = engine.base.vocabulary.dx_entry(code)
    assert entry is not None and (entry.region, set(entry.groups), entry.pm_group) == (region, groups, pm_group)


def test_the_longest_prefix_of_both_lists_wins(engine):
    vocab = engine.base.vocabulary
    assert vocab.dx_entry("S10.83XA").region == "cervical"           # a contusion of the neck, under the ungrouped S10
    assert vocab.dx_lookup("S10.81XA")[0] == "S10" and vocab.dx_entry("S10.81XA") is None   # an abrasion
    assert vocab.dx_entry("M80.08XA").groups == ["fracture", "vertebral_compression_fracture"]
    assert vocab.dx_lookup("M80.011A")[0] == "M80" and "pathological" in vocab.dx_lookup("M80.011A")[1]


def test_the_committed_table_is_current(engine):
    assert not dxtable.stale(engine.base), "docs/diagnosis-groups.md is out of date: run `imr vocabulary --table --write`"


def test_cli_counts_check_and_table(tmp_path, capsys):
    assert main(["vocabulary", "--check"]) == 0
    out = capsys.readouterr().out
    assert "0 not accounted for" in out.splitlines()[0] and "topic physical_medicine:" in out
    target = tmp_path / "table.md"
    assert main(["vocabulary", "--table", "-o", str(target)]) == 0
    assert target.read_text() == dxtable.TABLE_PATH.read_text()
    assert "| `S39.92` | Unspecified injury of lower back |" in target.read_text()


def _vocab_copy(tmp_path, edit):
    folder = tmp_path / "vocabulary"
    shutil.copytree(VOCAB, folder)
    path = folder / "diagnoses.yaml"
    path.write_text(edit(path.read_text()))
    return folder, path


def test_a_prefix_both_grouped_and_ungrouped_is_an_error_at_its_line(tmp_path):
    folder, path = _vocab_copy(tmp_path, lambda t: t.replace("ungrouped:\n", "ungrouped:\n  S39.92: abdomen\n", 1))
    with pytest.raises(InputError) as exc:
        load_vocabulary(folder)
    lines = path.read_text().splitlines()
    [both] = exc.value.diagnostics
    assert both.code == "V004" and lines[both.line - 1].strip() == "S39.92: abdomen"
    grouped_at = int(both.message.split("(line ")[1].split(")")[0])
    assert lines[grouped_at - 1].strip().startswith("S39.92: {region: lumbar")


def test_an_ungrouped_prefix_must_be_a_real_code_with_a_known_reason(tmp_path):
    folder, path = _vocab_copy(tmp_path, lambda t: t.replace("ungrouped:\n", "ungrouped:\n  M99.99: infection\n  S10.0: nowhere\n", 1))
    with pytest.raises(InputError) as exc:
        load_vocabulary(folder)
    lines = path.read_text().splitlines()
    found = {(d.code, lines[d.line - 1].strip()) for d in exc.value.diagnostics}
    assert ("V002", "M99.99: infection") in found and ("V003", "S10.0: nowhere") in found


# ---------------------------------------------------------------- W005 and W006


def _case(tmp_path, diagnoses: str, items: str, medications: str = "") -> str:
    diagnoses = diagnoses.replace("}", ", text: a diagnosis}")
    path = tmp_path / "case.yaml"
    path.write_text("case_id: w\njurisdiction: CA\nrequest_date: 2015-06-10\n"
                    "injured_worker: {age: 40, sex: female, date_of_injury: 2014-01-02}\n"
                    f"diagnoses:\n{diagnoses}{medications}requested_items:\n{items}")
    return str(path)


PT_KNEE = "  - {type: therapy, id: pt-knee, description: PT knee, service: physical_therapy, region: knee, visits: 8}\n"
GABAPENTIN = "  - {type: medication, id: gaba, description: Gabapentin 300 mg, form: oral, ingredients: [{drug: gabapentin}]}\n"


def _line(path: str, text: str) -> int:
    return next(n for n, x in enumerate(open(path).read().splitlines(), 1) if text in x)


def test_w005_when_no_diagnosis_of_the_region_falls_in_a_group_its_tables_select_by(tmp_path, capsys):
    path = _case(tmp_path, "  - {code: S39.92XA}\n  - {code: S06.0X0A}\n  - {code: E66.01}\n", PT_KNEE)
    assert main(["validate", path]) == 0
    warned = [x for x in capsys.readouterr().out.splitlines() if " W005 " in x]
    assert len(warned) == 1 and warned[0].startswith(f"{path}:{_line(path, 'id: pt-knee')}:")  # at the item
    assert "item 'pt-knee' (physical_medicine)" in warned[0] and "S39.92XA is of the lumbar region" in warned[0]
    assert "S06.0X0A is deliberately ungrouped (S06:" in warned[0] and "E66.01 is not in vocabulary/diagnoses.yaml" in warned[0]


def test_w005_for_an_indication_topic_only_when_no_diagnosis_is_placed(tmp_path, capsys):
    path = _case(tmp_path, "  - {code: E66.01}\n", GABAPENTIN)
    main(["validate", path])
    out = capsys.readouterr().out
    assert "W005 item 'gaba' (antiepileptics): no diagnosis is placed by vocabulary/diagnoses.yaml, so its rules read neuropathic as false" in out
    # a placed diagnosis outside the group is a considered answer (nociceptive pain): no warning
    path = _case(tmp_path, "  - {code: S39.012A}\n", GABAPENTIN)
    main(["validate", path])
    assert " W005 " not in capsys.readouterr().out


def test_no_w005_when_a_diagnosis_places_the_item_or_none_is_listed(tmp_path, capsys):
    for diagnoses in ("  - {code: S83.241A}\n", "  - {code: M17.11}\n  - {code: E66.01}\n", "  - {code: G89.29}\n"):
        main(["validate", _case(tmp_path, diagnoses, PT_KNEE)])
        assert " W005 " not in capsys.readouterr().out, diagnoses
    path = _case(tmp_path, "", PT_KNEE)
    (tmp_path / "case.yaml").write_text((tmp_path / "case.yaml").read_text().replace("diagnoses:\n", "diagnoses: []\n"))
    main(["validate", path])  # no diagnosis at all: the determination says so itself
    assert " W005 " not in capsys.readouterr().out


def test_decide_prints_w005_and_still_decides(tmp_path, capsys):
    path = _case(tmp_path, "  - {code: S39.92XA}\n", PT_KNEE)
    assert main(["decide", path]) == 0
    captured = capsys.readouterr()
    assert "pt-knee" in captured.out or "PT knee" in captured.out
    assert [x for x in captured.err.splitlines() if " W005 " in x]


def test_w006_on_current_medications_the_drug_vocabulary_does_not_know(tmp_path, capsys):
    meds = ("medications:\n  - {name: Norco 10/325}\n  - {name: Gabapentine, drug: gabapentine, status: current}\n"
            "  - {name: Soma 350, status: past}\n  - {name: Ibuprofen}\n  - {name: Hydrocodone 10/325 mg, drug: hydrocodone}\n")
    path = _case(tmp_path, "  - {code: S39.012A}\n", GABAPENTIN, meds)
    assert main(["validate", path]) == 0
    out = [x for x in capsys.readouterr().out.splitlines() if " W006 " in x]
    assert len(out) == 2
    assert out[0].startswith(f"{path}:{_line(path, 'Norco')}:") and "'Norco 10/325' (no `drug:`; read as 'norco_10_325')" in out[0]
    assert out[1].startswith(f"{path}:{_line(path, 'Gabapentine')}:") and "drug 'gabapentine'" in out[1] and "did you mean 'gabapentin'?" in out[1]


def test_the_corpus_warns_only_where_it_means_to(capsys):
    """Case 011 asks for neck therapy with only a low back diagnosis, on purpose; no other case
    has diagnoses the vocabulary cannot place for its items, nor unknown current medications."""
    main(["validate", str(ROOT / "cases")])
    out = capsys.readouterr().out.splitlines()
    assert [x.split(": W005")[0].rsplit("/", 1)[1] for x in out if " W005 " in x] == ["011_pt_visit_group_not_documented.yaml:16:5"]
    assert not [x for x in out if " W006 " in x]
