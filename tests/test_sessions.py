"""durable-rules keeps session state in a fixed index (about 1,000 live sessions): a ruleset keeps
one long-lived session whose facts are retracted after each case (or a per-case one, deleted when
read). Deciding far more cases than that in one process must work and must not grow memory. (`imr soak --cases 100000` runs the long version and prints its figures.)"""

import gc
import resource

from engine.load.cases import load_case

from .conftest import SEED


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def test_thousands_of_sessions_in_one_process_without_growth(engine):
    case = load_case(SEED)
    first = engine.decide(case).model_dump_json()
    for _ in range(1500):  # past the engine's ~1,000 live-session limit
        engine.decide(case)
    gc.collect()
    warm = _rss_mb()
    for _ in range(1500):
        assert engine.decide(case).model_dump_json() == first
    gc.collect()
    assert _rss_mb() - warm < 20, "memory grew while deciding cases: sessions are leaking"
    assert all(not s.live and not s.first and not s.open for s in engine.rete._sessions.values()), "facts left behind"
    assert engine.rete.live_sessions() <= len(engine.rete._specs), "sessions are accumulating"
