"""Agreement with real decisions (engine.tools.agreement, `imr test` on cases with `source:`):
the table counts what the engine decided against the real outcome, and a disagreement the case
does not explain fails the run, as does an explanation left on an item that now agrees."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "cases/cross/000_seed_b27565c25da42ea0.yaml").read_text()


def _seed_with_source(tmp_path: Path, outcome: str, differs: str | None = None) -> Path:
    """The seed case (three Upheld items) given a source whose PT item has `outcome`."""
    extra = f"\n      differs: {differs!r}" if differs else ""
    text = SEED.split("\nexpected:")[0] + f"""
source:
  address: https://example.org/imr/CM15-0000000
  level: IMR
  decided: 2015-07-01
  items:
    pt-lumbar:
      outcome: {outcome}
      cited_guideline: MTUS
      cited: "MTUS Chronic Pain Medical Treatment Guidelines, Physical Medicine, pages 98-99"{extra}
"""
    path = tmp_path / "real.yaml"
    path.write_text(text.replace("$schema=../../schema", f"$schema={ROOT}/schema"))
    return path


def test_agreeing_item_is_tallied(tmp_path, capsys):
    code, out, _ = run(capsys, "test", str(_seed_with_source(tmp_path, "Upheld")))
    assert code == 0, out
    assert "real decisions: 1 item from 1 case" in out
    assert "decided 1 of 1 (100 %); agreement 1 of 1 (100 %)" in out
    assert "Overturned recall 0 of 0 (n/a)" in out
    assert "MTUS: MTUS 1" in out


def test_unexplained_disagreement_fails(tmp_path, capsys):
    code, out, _ = run(capsys, "test", str(_seed_with_source(tmp_path, "Overturned")))
    assert code == 1
    assert "UNEXPLAINED" in out and "item pt-lumbar: the engine answers Upheld, the real reviewer Overturned" in out
    assert "Overturned recall 0 of 1 (0 %)" in out


def test_explained_disagreement_passes_and_is_still_counted(tmp_path, capsys):
    path = _seed_with_source(tmp_path, "Overturned", differs="the summary states prior visits the engine cannot count")
    code, out, _ = run(capsys, "test", str(path))
    assert code == 0, out
    assert "agreement 0 of 1 (0 %)" in out


def test_stale_explanation_fails(tmp_path, capsys):
    code, out, _ = run(capsys, "test", str(_seed_with_source(tmp_path, "Upheld", differs="no longer true")))
    assert code == 1 and "remove the stale source.items.pt-lumbar.differs" in out


def test_source_must_name_requested_items(tmp_path, capsys):
    path = _seed_with_source(tmp_path, "Upheld")
    path.write_text(path.read_text().replace("    pt-lumbar:\n      outcome", "    pt-knee:\n      outcome"))
    code, _, err = run(capsys, "test", str(path))
    assert code == 2 and "source.items names items that are not requested: pt-knee" in err
