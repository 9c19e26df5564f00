"""Every case in cases/ with an `expected:` block gets the expected decision per item."""

import pytest

from engine.load.cases import case_files, load_case

from .conftest import CASES

FILES = case_files([CASES])


def test_corpus_has_seed_first_and_enough_overturned():
    assert FILES[0].name.startswith("000_seed")
    expected = [d for f in FILES for d in load_case(f).expected_decisions().values()]
    assert expected.count("Overturned") >= 4


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_expected_decisions(engine, path):
    case = load_case(path)
    assert case.expected, f"{path} has no expected block"
    got = {item.item_id: item.decision for item in engine.decide(case).items}
    want = case.expected_decisions()
    assert {k: got.get(k) for k in want} == want
