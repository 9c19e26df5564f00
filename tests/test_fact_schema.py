"""The fact schema is derived from the case model: a new clinical finding is one model edit plus
its use in a rule, and fact building needs no change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.facts.schema import SCHEMA, label
from engine.load.cases import case_files, load_case

from .conftest import ROOT, case_path

NEW_FIELD = '''    sleep_disturbance: Tri = Field(NOT_DOCUMENTED, title="a sleep disturbance")
    """A test field: added to the model only, to show it reaches the rules."""
'''

NEW_RULE = '''
  - id: test.sleep-disturbance
    title: A rule reading a clinical field that only the case model declares
    silence: requirement
    section: Physical Medicine
    pages: "98-99"
    when: clinical.sleep_disturbance is documented
    require: clinical.sleep_disturbance == false
    rationale:
      met: No sleep disturbance is documented.
      not_met: A sleep disturbance is documented.
    documentation:
      - The sleep assessment
'''


def test_a_new_clinical_field_reaches_a_rule_with_one_model_edit(tmp_path):
    work = tmp_path / "project"
    shutil.copytree(ROOT / "engine", work / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "guideline_rules", work / "guideline_rules")
    model = work / "engine" / "model" / "case.py"
    text = model.read_text(encoding="utf-8")
    anchor = "class ClinicalFindings(Closed):\n"
    assert anchor in text
    model.write_text(text.replace(anchor, anchor + NEW_FIELD), encoding="utf-8")
    pack = work / "guideline_rules" / "packs" / "mtus-cpmtg-2009-physical-medicine.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").rstrip() + "\n" + NEW_RULE, encoding="utf-8")
    # the one edit: fact building and the schema module are the shipped ones, untouched
    for module in ("facts/build.py", "facts/schema.py"):
        assert (work / "engine" / module).read_bytes() == (ROOT / "engine" / module).read_bytes()

    case = case_path("002_flare_up_with_functional_improvement.yaml").read_text(encoding="utf-8")
    documented = work / "case.yaml"
    documented.write_text(case.replace("  acute_flare_up: true\n", "  acute_flare_up: true\n  sleep_disturbance: true\n"), encoding="utf-8")
    silent = work / "silent.yaml"
    silent.write_text(case, encoding="utf-8")

    def decide(path):
        env = dict(os.environ, PYTHONPATH=str(work))
        proc = subprocess.run([sys.executable, "-m", "engine", "decide", str(path), "--format", "json",
                               "--rules", str(work / "guideline_rules")], capture_output=True, text=True, env=env, cwd=work, timeout=120)
        assert proc.returncode == 0, proc.stderr
        import json

        return json.loads(proc.stdout)["items"][0]

    item = decide(documented)
    assert item["decision"] == "Upheld"
    assert any(r["rule"] == "test.sleep-disturbance" and r["status"] == "not_met" for r in item["rules"])
    assert "A sleep disturbance is documented." in item["rationale"]
    assert decide(silent)["decision"] == "Overturned"  # not documented: the rule does not apply


def test_every_fact_field_built_from_the_corpus_is_in_the_schema(engine):
    undeclared = set()
    for path in case_files([ROOT / "cases"]):
        facts = engine.facts(load_case(path))
        for fact in [*facts.case_facts, *(f for _, _, fs in facts.items for f in fs)]:
            fields = SCHEMA[fact["t"]]
            for name in fact:
                if name not in ("t", "id", "item_id") and name not in fields and not (fact["t"] == "dx" and name in engine.base.vocabulary.diagnoses.groups):
                    undeclared.add(f"{fact['t']}.{name}")
    assert undeclared == set()


def test_every_field_has_words_for_the_letter(engine):
    for entity, fields in SCHEMA.items():
        for name, f in fields.items():
            assert f.label and "_" not in f.label, f"{entity}.{name}"
    assert label("history", "visits_total") == "the number of visits already completed for this body region"
    assert label("dx", "osteoarthritis", engine.base.vocabulary).startswith("a diagnosis of")


def test_the_letter_names_undocumented_facts_in_words(engine):
    determination = engine.decide(load_case(case_path("000_seed_b27565c25da42ea0.yaml")))
    lumbar = next(i for i in determination.items if i.item_id == "pt-lumbar")
    assert "history.visits_total" not in lumbar.rationale and "history." not in lumbar.rationale
    assert "(Not documented: the number of visits already completed for this body region.)" in lumbar.rationale
    assert any("history.functional_improvement" in r.not_documented for r in lumbar.rules)  # JSON keeps the paths
