"""Rule folders layered over the shipped rules (`--layer`, IMR_RULE_LAYERS): packs an organisation
writes for a guideline it licenses decide cases beside the shipped packs, and every tool (decide,
validate, test, docs, diff) reads them; mistakes in them are reported at their file and line.
docs/licensed-packs/ is the template layer (placeholder criteria, clearly marked EXAMPLE)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from engine.durable.cache import rules_key
from engine.load.paths import LAYERS_ENV, RulesLocation, locate
from tests.conftest import run

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "docs/licensed-packs"
CA_BEYOND = LAYER / "cases/02_ca_acoem_example_beyond_allowance.yaml"
ACOEM_PACK = "mtus-acoem-2017-low-back-pt.example.yaml"


def _layer_copy(tmp_path: Path) -> Path:
    target = tmp_path / "licensed"
    shutil.copytree(LAYER, target)
    return target


def test_without_the_layer_the_licensed_edition_is_named_not_decided(capsys):
    code, out, _ = run(capsys, "decide", str(ROOT / "docs/licensed-packs/cases/03_tx_odg_example_improving.yaml"))
    assert code == 0 and "No rule applies" in out
    assert "licensed content: its criteria are not shipped with the engine" in out


def test_a_layered_pack_decides(capsys):
    code, out, _ = run(capsys, "decide", str(CA_BEYOND), "--layer", str(LAYER), "--format", "json")
    assert code == 0
    assert '"decision": "Upheld"' in out and "example.acoem.low-back.pt.visits" in out


def test_the_environment_names_layers_too(capsys, monkeypatch):
    monkeypatch.setenv(LAYERS_ENV, str(LAYER))
    assert locate().layers == (LAYER,)
    code, out, _ = run(capsys, "decide", str(CA_BEYOND))
    assert code == 0 and "EXAMPLE placeholder" in out


def test_imr_test_and_packs_on_the_template_layer(capsys):
    code, out, _ = run(capsys, "test", "--layer", str(LAYER), str(LAYER / "cases"))
    assert code == 0 and "4 passed, 0 failed" in out
    code, out, _ = run(capsys, "packs", "--layer", str(LAYER), str(LAYER / "cases"))
    assert "licensed-example-acoem-low-back-pt" in out and "licensed-example-odg-low-back-pt" in out


def test_validate_reports_a_mistake_in_a_layer_at_its_line(tmp_path, capsys):
    layer = _layer_copy(tmp_path)
    assert run(capsys, "validate", str(layer))[0] == 0
    pack = layer / "packs" / ACOEM_PACK
    pack.write_text(pack.read_text().replace("require: history.visits_total <= 10", "require: history.visits_totl <= 10"))
    line = next(n for n, text in enumerate(pack.read_text().splitlines(), 1) if "visits_totl" in text)
    code, out, _ = run(capsys, "validate", str(layer))
    assert code == 1
    assert f"{pack}:{line}:" in out and "visits_totl" in out


def test_a_layer_may_not_reuse_a_shipped_pack_id_or_file_name_or_carry_vocabulary(tmp_path, capsys):
    layer = _layer_copy(tmp_path)
    pack = layer / "packs" / ACOEM_PACK
    pack.write_text(pack.read_text().replace("pack: licensed-example-acoem-low-back-pt", "pack: mtus-acoem-2017-scope"))
    code, out, _ = run(capsys, "validate", str(layer))
    assert code == 1 and "R002 pack id 'mtus-acoem-2017-scope' also used in" in out
    pack.rename(layer / "packs" / "mtus-acoem-2017-scope.yaml")
    (layer / "vocabulary").mkdir()
    code, _, err = run(capsys, "decide", str(CA_BEYOND), "--layer", str(layer))
    assert code == 2 and "L003" in err and "L002" in err


def test_docs_and_diff_read_a_layer(tmp_path, capsys):
    code, out, _ = run(capsys, "docs", "--layer", str(LAYER))
    assert code == 0 and "EXAMPLE (placeholder criteria) - ACOEM Low Back" in out
    repo = tmp_path / "repo"
    shutil.copytree(LAYER / "packs", repo / "licensed" / "packs")
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "licensed packs"], check=True)
    pack = repo / "licensed" / "packs" / ACOEM_PACK
    pack.write_text(pack.read_text().replace("history.visits_total <= 10", "history.visits_total <= 20"))
    code, out, _ = run(capsys, "diff", "--repo", str(repo), "--rules-path", "licensed", "--base", "HEAD", str(LAYER / "cases"))
    assert code == 0
    assert "02_ca_acoem_example_beyond_allowance.yaml pt: Upheld -> Overturned" in out
    assert "4 cases, 4 items; 1 changed" in out


def test_the_cache_key_covers_the_layers():
    base = RulesLocation(ROOT / "guideline_rules")
    assert rules_key(base) != rules_key(RulesLocation(base.base, (LAYER,)))


def test_a_new_jurisdiction_is_data_a_profile_and_a_pack(tmp_path, capsys):
    """No code names the jurisdictions or guideline families: a layer with a profile for `ZZ`
    ranking its own guideline, and one pack of it, decides a `ZZ` case."""
    layer = tmp_path / "zz"
    (layer / "packs").mkdir(parents=True)
    (layer / "profiles").mkdir()
    profile = (ROOT / "guideline_rules/profiles/texas.yaml").read_text()
    profile = profile.replace("jurisdiction: TX", "jurisdiction: ZZ").replace("  - guideline: ODG\n    label: ODG", "  - guideline: ZZ-TP\n    label: ZZ treatment parameters")
    (layer / "profiles" / "zz.yaml").write_text(profile)
    pack = (LAYER / "packs/odg-current-low-back-pt.example.yaml").read_text()
    pack = (pack.replace("guideline: ODG", "guideline: ZZ-TP").replace('request.jurisdiction == "TX"', 'request.jurisdiction == "ZZ"')
            .replace("pack: licensed-example-odg-low-back-pt", "pack: zz-low-back").replace("example.odg.", "zz.").replace("2019-01-01", "2007-05-01"))
    (layer / "packs" / "zz-low-back.yaml").write_text(pack)
    case = (LAYER / "cases/04_tx_odg_example_not_improving.yaml").read_text()
    case = case.replace("jurisdiction: TX", "jurisdiction: ZZ").replace("example.odg.", "zz.").replace("$schema=../../../schema", f"$schema={ROOT}/schema")
    (tmp_path / "zz.yaml").write_text(case)
    code, out, _ = run(capsys, "test", "--layer", str(layer), str(tmp_path / "zz.yaml"))
    assert code == 0 and "1 passed, 0 failed" in out
    bad = pack.replace('request.jurisdiction == "ZZ"', 'request.jurisdiction == "ZY"')
    (layer / "packs" / "zz-low-back.yaml").write_text(bad)
    code, out, _ = run(capsys, "validate", "--layer", str(layer))
    assert code == 1 and "'ZY'" in out
