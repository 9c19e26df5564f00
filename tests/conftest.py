"""Shared fixtures: one compiled engine per test session (loading and compiling is the slow part)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from engine.cli.main import main
from engine.decide.pipeline import Engine
from engine.model.case import Case

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"


def case_path(name: str) -> Path:
    """The case file called `name` (or matching a glob such as "170_*.yaml") anywhere under cases/
    (cases live in one folder per pack, cross-pack cases in cases/cross/); exactly one must match."""
    found = sorted(CASES.rglob(name))
    if len(found) != 1:
        where = ", ".join(str(p.relative_to(CASES)) for p in found) or "none"
        raise LookupError(f"case {name!r}: expected exactly one file under {CASES}, found {len(found)} ({where})")
    return found[0]


SEED = case_path("000_seed_b27565c25da42ea0.yaml")


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


def case_data(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def with_change(data: dict, path: str, value) -> Case:
    """A copy of a case with one field changed: `treatment_history.0.functional_improvement`."""
    data = copy.deepcopy(data)
    target = data
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return Case.model_validate(data)


_DELETE = object()
DELETE = _DELETE


def decisions(engine: Engine, case: Case) -> dict[str, str]:
    return {item.item_id: item.decision for item in engine.decide(case).items}


def tiny_pack(pack: str, title: str, document: str, topic: str, service: str) -> str:
    """A one-rule pack text (test.visits: at most six visits) for tests that need a pack of their own."""
    return f"""\
pack: {pack}
title: {title}
guideline: MTUS
document: {document}
edition: "2009"
effective: {{from: 2009-07-18, to: 2016-07-28}}
topic: {topic}
addresses:
  - applies_to: {{type: [therapy], service: [{service}]}}
rules:
  - id: test.visits
    title: At most six visits
    silence: requirement
    section: Test section
    pages: "1"
    require: item.visits_requested <= 6
    rationale:
      met: Within six visits.
      not_met: Beyond six visits.
      not_documented: The visits are not documented.
    documentation: [Nothing]
"""


def run(capsys, *argv) -> tuple[int, str, str]:
    """`imr ARGV` in this process: the exit code, standard output and standard error."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def decide_probe(engine, *, jurisdiction: str, day: dt.date, item: dict, doi: dt.date | None = None, **extra):
    """The first item of a one-item probe case (a lumbar strain) on `day`: edition and history tests."""
    data = {
        "case_id": "edition-probe", "jurisdiction": jurisdiction, "request_date": day,
        "injured_worker": {"age": 45, "sex": "male", "date_of_injury": doi or day - dt.timedelta(days=20)},
        "diagnoses": [{"code": "S39.012A", "text": "Strain of muscle, fascia and tendon of lower back, initial encounter"}],
        "requested_items": [item], **extra,
    }
    return engine.decide(Case.model_validate(data)).items[0]
