"""A worker's memory: the ICD-10-CM code set is read from a compact cached table, which must say
exactly what the library says; and the peers of `imr bench --peers` decide as the engine does."""

from __future__ import annotations

from engine.model import icd10


def test_the_compact_code_set_agrees_with_the_library():
    lib = icd10._codes()
    from simple_icd_10_cm import simple_icd_10_cm as inner

    assert icd10._table() is not None, "the code set table could not be cached"
    codes = lib.get_all_codes(True)
    probes = codes[::50] + [c.replace(".", "") for c in codes[::97]] + ["M54.5", "m5416", " M54.16 ", "M54", "M50-M54", "1", "XYZ", "B99"]
    for code in probes:
        candidate = code.strip().upper()
        want = inner._add_dot_to_code(candidate) if lib.is_valid_item(candidate) and not lib.is_chapter_or_block(candidate) else None
        try:
            got = icd10.normalise_icd10(code)
        except ValueError:
            got = None
        assert got == want, code
    assert icd10.describe("M54.16") == lib.get_description("M54.16")
    assert len(icd10.billable_codes()) > 70_000 and icd10.billable_codes()[0] == next(
        c for c in codes if not lib.is_chapter_or_block(c) and lib.is_leaf(c))


def test_peers_decide_as_the_engine(tmp_path):
    from engine.decide.pipeline import Engine
    from engine.ops import peers

    engine = Engine(peers.peer_rules(tmp_path / "rules"))
    result = peers.compare(engine, peers.peer_cases(40, 1, items=3), rounds=1)
    assert all(n == 0 for n in result["disagreements"].values()), result["disagreements"]
    assert set(result["decisions"]) <= {"Upheld", "Overturned", "No rule applies"}
