"""`imr docs`: Markdown generated from the rule packs, complete and faithful to them."""

from __future__ import annotations

from engine.cli.main import main
from engine.tools.docs import render


def test_every_pack_and_rule_appears_with_its_citation(engine):
    text = render(engine.base)
    for pack in engine.base.packs:
        assert f"### {pack.title}" in text
    for parsed in engine.base.rules:
        assert f"`{parsed.rule.id}`" in text
        if parsed.rule.require:
            assert " ".join(parsed.rule.require.split()).replace("|", "\\|") in text


def test_visit_allowances_form_a_table(engine):
    text = render(engine.base)
    rule = engine.base.rule("cpmtg.pm.allowance[neuritis_radiculitis]")
    row = next(line for line in text.splitlines() if "`cpmtg.pm.allowance[neuritis_radiculitis]`" in line and line.startswith("|"))
    assert f"| {rule.rule.allowance.visits} | {rule.rule.allowance.weeks} |" in row
    assert "Physical Medicine pp. 98-99" in row


def test_search_sequence_is_listed(engine):
    text = render(engine.base)
    assert '- **CA**' in text and 'ODG cited as "Non-MTUS Citation"' in text


def test_cli_writes_a_file(tmp_path, capsys):
    out = tmp_path / "rules.md"
    assert main(["docs", "-o", str(out)]) == 0
    assert out.read_text().startswith("# Encoded guideline rules")
