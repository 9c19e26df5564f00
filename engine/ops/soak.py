"""Soak run: many decisions in one process, printing memory as it goes.

Guards durable-rules' session index (about 1,000 live sessions) and any leak in our per-case
lifecycle: memory must stay flat after warm-up. `imr soak --cases 100000`.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from pathlib import Path

from engine.decide.pipeline import Engine
from engine.load.cases import DEFAULT_CASES, case_files, load_case
from engine.model.diagnostics import Diagnostic, InputError


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def soak(engine: Engine, cases: list, total: int, report_every: int, out=None) -> dict:
    """Decide `total` cases (cycling through `cases`); returns figures and prints progress lines
    (to standard output as it is at call time: a default bound at import goes stale under capture)."""
    out = out or sys.stdout
    reference = {c.case_id: engine.decide(c).model_dump_json() for c in cases}
    start = time.perf_counter()
    warm = None
    peak = 0.0
    items = 0
    for n in range(1, total + 1):
        case = cases[n % len(cases)]
        determination = engine.decide(case)
        items += len(determination.items)
        if n % 997 == 0 and determination.model_dump_json() != reference[case.case_id]:
            raise RuntimeError(f"decision {n} differs from the first decision of {case.case_id}")
        if n == 1000:
            gc.collect()
            warm = rss_mb()
        if n % report_every == 0 or n == total:
            gc.collect()
            now = rss_mb()
            peak = max(peak, now)
            elapsed = time.perf_counter() - start
            print(f"{n:>9} {'decision' if n == 1 else 'decisions'}  {items / elapsed:8.0f} items/s  rss {now:7.1f} MB"
                  + (f"  (+{now - warm:.1f} MB since decision 1,000)" if warm is not None else ""), file=out, flush=True)
    elapsed = time.perf_counter() - start
    return {"decisions": total, "items": items, "seconds": round(elapsed, 1), "items_per_s": round(items / elapsed),
            "rss_after_1000_mb": round(warm or 0, 1), "rss_end_mb": round(rss_mb(), 1), "peak_rss_mb": round(peak, 1)}
