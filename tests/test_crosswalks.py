"""Issue 16, item 4: request codes (CPT/HCPCS on therapy and procedure items, RxNorm ingredient
identifiers on drugs) read as the vocabulary's keys through vocabulary/crosswalks.yaml."""

from __future__ import annotations

import shutil

import pytest

from engine.load.vocabulary import load_vocabulary
from engine.model.diagnostics import InputError

from .conftest import ROOT, case_path, run

SEED = case_path("000_seed_b27565c25da42ea0.yaml")
PT_LUMBAR = """    description: Physical therapy 2 times a week for 4 weeks for the lumbar spine
    service: physical_therapy"""


def _coded(tmp_path, replacement: str, name: str = "coded.yaml", extra=("", "")) -> str:
    text = SEED.read_text()
    assert PT_LUMBAR in text
    text = text.replace(PT_LUMBAR, replacement).replace(*extra) if extra[0] else text.replace(PT_LUMBAR, replacement)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _line(path: str, needle: str) -> int:
    return next(n for n, line in enumerate(open(path).read().splitlines(), 1) if needle in line)


def test_an_item_given_as_cpt_97110_decides_like_physical_therapy(capsys, tmp_path):
    coded = _coded(tmp_path, PT_LUMBAR.replace("service: physical_therapy", 'code: "97110"'),
                   extra=("{drug: gabapentin, strength: 6%}", '{rxnorm: "25480", strength: 6%}'))
    both = _coded(tmp_path, PT_LUMBAR + '\n    code: "97110"', "both.yaml")
    code, seed, _ = run(capsys, "decide", SEED, "--format", "json")
    assert code == 0
    for path in (coded, both):
        code, out, err = run(capsys, "decide", path, "--format", "json")
        assert code == 0 and out == seed, err


@pytest.mark.parametrize("replacement, message", [
    (PT_LUMBAR + '\n    code: "98940"', "code 98940 stands for chiropractic, not the item's service 'physical_therapy'"),
    (PT_LUMBAR.replace("service: physical_therapy", 'code: "97999"'), "CPT/HCPCS code 97999 is not in vocabulary/crosswalks.yaml"),
    (PT_LUMBAR.replace("service: physical_therapy", 'code: "97161"'), "CPT/HCPCS code 97161 is not valid on 2015-06-10 (valid from 2017-01-01)"),
    (PT_LUMBAR.replace("service: physical_therapy", 'code: "E0720"'), "code E0720 is a procedure (tens_unit), but the item is a therapy"),
])
def test_a_code_that_names_no_key_or_another_is_an_error_at_its_line(capsys, tmp_path, replacement, message):
    path = _coded(tmp_path, replacement)
    code, _, err = run(capsys, "decide", path)
    assert code == 2 and f"{path}:{_line(path, '    code: ')}:" in err and f"E011 {message}" in err, err
    code, out, _ = run(capsys, "validate", path)
    assert code == 1 and f"E011 {message}" in out


def test_an_rxnorm_identifier_that_disagrees_with_the_drug_is_an_error(capsys, tmp_path):
    path = _coded(tmp_path, PT_LUMBAR, extra=("{drug: gabapentin, strength: 6%}", '{drug: gabapentin, rxnorm: "7804", strength: 6%}'))
    code, _, err = run(capsys, "decide", path)
    assert code == 2 and "E011 RxNorm 7804 is oxycodone, not the ingredient's drug 'gabapentin'" in err


def test_the_crosswalks_name_known_keys_and_sources(tmp_path):
    vocab = load_vocabulary(ROOT / "guideline_rules" / "vocabulary")
    walks = vocab.crosswalks
    assert len(walks.procedure_codes) > 50 and len(walks.rxnorm_ingredients) > 20
    assert {s for e in walks.procedure_codes.values() for s in e.services} >= {
        "physical_therapy", "occupational_therapy", "chiropractic", "acupuncture", "massage", "aquatic_therapy", "biofeedback",
        "epidural_steroid_injection", "facet_joint_injection", "tens_unit", "lumbar_support", "urine_drug_screen"}
    folder = tmp_path / "vocabulary"
    shutil.copytree(ROOT / "guideline_rules" / "vocabulary", folder)
    path = folder / "crosswalks.yaml"
    path.write_text(path.read_text().replace('"97124": {services: [massage]', '"97124": {services: [masage]'))
    with pytest.raises(InputError) as exc:
        load_vocabulary(folder)
    [problem] = exc.value.diagnostics
    assert problem.code == "V003" and "unknown service 'masage'" in problem.message
    assert path.read_text().splitlines()[problem.line - 1].strip().startswith('"97124"')
