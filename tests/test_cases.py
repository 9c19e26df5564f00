"""Every case in cases/ with an `expected:` block gets the expected decision per item; a case written
from a real decision may carry only its `source:` (its measure is the agreement table, tests/test_real_corpus.py)."""

import pytest

from engine.load.cases import case_files, load_case

from .conftest import CASES

FILES = case_files([CASES])
EXPECTED = [f for f in FILES if load_case(f).expected]


def test_corpus_has_seed_first_and_enough_overturned():
    assert FILES[0].name.startswith("000_seed")
    expected = [d for f in FILES for d in load_case(f).expected_decisions().values()]
    assert expected.count("Overturned") >= 4


def test_every_case_has_an_expectation_or_a_source():
    bare = [str(f) for f in FILES if not (load_case(f).expected or load_case(f).source)]
    assert not bare, f"case files with neither expected: nor source: (nothing to test): {bare}"


@pytest.mark.parametrize("path", EXPECTED, ids=[f.stem for f in EXPECTED])
def test_expected_decisions(engine, path):
    case = load_case(path)
    got = {item.item_id: item.decision for item in engine.decide(case).items}
    want = case.expected_decisions()
    assert {k: got.get(k) for k in want} == want
