"""The README's coverage table names every rule pack, so it cannot silently fall behind the rules."""

from .conftest import ROOT


def test_readme_coverage_table_names_every_pack(engine):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What is covered", 1)[1].split("\n## ", 1)[0]
    missing = [p.pack for p in engine.base.packs if f"`{p.pack}`" not in section]
    assert not missing, f"packs missing from the README's 'What is covered' table: {missing}"
