"""`imr test --mutate`: deleting any shipped rule fails some case's expectation; a rule no case
pins is reported; and the fast path (only the deleted rule's topic compiled and registered)
decides the items of that topic exactly as an Engine built from the smaller rule base."""

from __future__ import annotations

import re
import shutil

import yaml

from engine.cli.main import main
from engine.decide.pipeline import Engine
from engine.load.cases import case_files, load_case
from engine.tools.mutate import _routed, mutant, run_mutation, summary, topics_of, without

from .conftest import CASES, ROOT, tiny_pack


def test_every_shipped_rule_is_noticed_when_deleted(engine):
    run = run_mutation(engine, [CASES])
    assert run.rules == len(engine.base.rules) and not run.invalid
    assert run.baseline_failures == 0, "imr test fails: fix it first"
    assert [s.rule for s in run.survivors] == [], summary(run)
    assert run.seconds < 90, summary(run)


def test_the_mutant_decides_as_an_engine_built_without_the_rule(engine):
    """The fast path (only the deleted rule's topic compiled and registered) against an Engine of
    the whole smaller rule base, on every item of the corpus routed to that topic."""
    cases = [load_case(p) for p in case_files([CASES])]
    for rule_id in ("cpmtg.pm.functional-improvement", "cpmtg.topical.compound-any-not-recommended",
                    "formulary.compounded.necessity-not-documented", "odg.udt.frequency-high"):
        topics = topics_of(engine, rule_id)
        fast, full = mutant(engine, rule_id, topics), Engine(base=without(engine.base, rule_id))
        routed = 0
        for case in cases:
            items = _routed(engine, engine.facts(case), topics)
            routed += len(items)
            a = [(i.decision, i.rules) for i in fast.decide(case).items if i.item_id in items]
            b = [(i.decision, i.rules) for i in full.decide(case).items if i.item_id in items]
            assert a == b, (rule_id, case.case_id)
        assert routed > 0, rule_id
        fast.rete.close()
        full.rete.close()


# ---------------------------------------------------------------- a tiny rules folder

PACK = tiny_pack("test-tiny", "Tiny test pack", "Tiny test guideline", "physical_medicine", "test_service") + """\
  - id: test.unpinned
    title: Never more than eight visits (no case names it; its outcome never decides alone)
    silence: requirement
    section: Test section
    pages: "1"
    when: item.visits_requested > 8
    outcome: not_met
    rationale:
      not_met: Beyond eight visits.
"""

CASE = """\
# yaml-language-server: $schema=x
case_id: tiny-{visits}
request_date: 2015-03-02
requested_items:
  - {{type: therapy, id: t, description: Test therapy, service: test_service, region: lumbar, visits: {visits}}}
expected:
{expected}
"""


def _tiny(tmp_path, pin_both: bool = False):
    rules = tmp_path / "rules"
    for folder in ("vocabulary", "profiles"):
        shutil.copytree(ROOT / "guideline_rules" / folder, rules / folder)
    services = yaml.safe_load((rules / "vocabulary" / "services.yaml").read_text())
    services["services"]["test_service"] = {"type": "therapy", "topic": "physical_medicine", "title": "Test"}
    (rules / "vocabulary" / "services.yaml").write_text(yaml.safe_dump(services))
    (rules / "packs").mkdir()
    (rules / "packs" / "test-tiny.yaml").write_text(PACK)
    cases = tmp_path / "cases" / "test-tiny"
    cases.mkdir(parents=True)
    both = "\n      - test.unpinned" if pin_both else ""
    (cases / "a.yaml").write_text(CASE.format(visits=4, expected="  t:\n    decision: Overturned\n    governing: [test.visits]"))
    (cases / "b.yaml").write_text(CASE.format(visits=10, expected=f"  t:\n    decision: Upheld\n    governing:\n      - test.visits{both}"))
    return rules, tmp_path / "cases"


def test_a_rule_no_case_pins_is_reported(tmp_path):
    rules, cases = _tiny(tmp_path)
    run = run_mutation(Engine(rules), [cases])
    assert run.baseline_failures == 0
    assert [s.rule for s in run.survivors] == ["test.unpinned"]  # fires in b.yaml, but b is Upheld without it
    assert run.killed_by == {"test.visits": str(cases / "test-tiny" / "a.yaml")}


def test_naming_it_in_governing_pins_it(tmp_path):
    rules, cases = _tiny(tmp_path, pin_both=True)
    assert run_mutation(Engine(rules), [cases]).survivors == []


def test_cli_prints_each_survivor_and_the_summary(tmp_path, capsys):
    rules, cases = _tiny(tmp_path)
    code = main(["test", "--mutate", "--rules", str(rules), str(cases)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("SURVIVED test.unpinned (test-tiny): deleting it fails no expectation of the 2 cases decided without it")
    assert re.fullmatch(r"mutation: 2 rules deleted one at a time, 1 survived, \d+\.\d s", out[-1]), out[-1]
    rules, cases = _tiny(tmp_path / "pinned", pin_both=True)
    assert main(["test", "--mutate", "--workers", "2", "--rules", str(rules), str(cases)]) == 0
    assert re.fullmatch(r"mutation: 2 rules deleted one at a time, 0 survived, \d+\.\d s\n", capsys.readouterr().out)
