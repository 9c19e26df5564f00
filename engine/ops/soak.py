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


def cmd_soak(args) -> int:
    """Exit 1 when memory grew by more than 50 MB after warm-up (judged only past decision 1,000)."""
    from engine.cli.main import plural

    engine = Engine(args.rules)
    folders = args.cases or [DEFAULT_CASES]
    paths = case_files(folders)
    if not paths:  # nothing to cycle through
        raise InputError([Diagnostic(str(p), 1, 1, "E000", "no case files in this folder") for p in folders])
    cases = [load_case(p) for p in paths]
    figures = soak(engine, cases, args.count, args.every)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))
    if args.count < 1000:
        print(f"soak: {plural(args.count, 'decision')}: too few to judge memory growth (it is measured from decision 1,000)", file=sys.stderr)
        return 0
    grew = figures["rss_end_mb"] - figures["rss_after_1000_mb"]
    return 1 if grew > 50 else 0


def register(sub) -> None:
    from engine.cli.main import positive_int

    p = sub.add_parser("soak", help="decide many cases in one process and print memory figures")
    p.add_argument("cases", nargs="*", type=Path, help="case files or folders (default: cases/ of this project)")
    p.add_argument("--cases", dest="count", type=positive_int, default=100_000, help="number of decisions (default 100000)")
    p.add_argument("--every", type=positive_int, default=10_000, help="print a progress line every N decisions")
    p.add_argument("--rules", help="rules folder")
    p.set_defaults(func=cmd_soak)
