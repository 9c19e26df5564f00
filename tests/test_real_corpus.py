"""The corpus of real decisions (cases/real/): published California IMR and Texas IRO decisions,
each case holding only what its source states, measured by agreement with the real outcome
(engine.tools.agreement), never by an authored expectation."""

from __future__ import annotations

from engine.load.cases import case_files, load_case
from engine.tools.agreement import Agreement, rows_for

from .conftest import CASES

REAL = CASES / "real"
FILES = case_files([REAL])


def _agreement(engine) -> Agreement:
    agreement = Agreement()
    for path in FILES:
        case = load_case(path)
        agreement.rows.extend(rows_for(path, case, engine.decide(case)))
    return agreement


def test_each_real_case_cites_its_source_and_has_no_authored_expectation():
    for path in FILES:
        case = load_case(path)
        assert case.source is not None, f"{path}: a real decision's case carries its source"
        assert case.expected is None, f"{path}: the real outcome is the expectation; no expected: block"
        assert set(case.source.items) == {item.id for item in case.requested_items}, \
            f"{path}: every requested item has its real outcome"
        assert path.read_text().startswith("# yaml-language-server") and "Read:" in path.read_text(), \
            f"{path}: the comment says what of the source was read"


def test_the_corpus_is_the_size_the_issue_asks_for(engine):
    rows = _agreement(engine).rows
    assert len(rows) >= 40
    assert sum(r.real == "Overturned" for r in rows) >= 15


def test_every_disagreement_is_explained_and_no_explanation_is_stale(engine):
    assert _agreement(engine).problems() == []
