"""Benchmark: throughput, per-case latency, peak memory and the overhead over a durable-rules floor.

Speed goals live here, never in timed tests. Over N generated cases (engine/generator.py), each
case is timed twice, interleaved so machine noise hits both alike:
- engine: the whole path a batch line takes: JSON -> validated Case -> facts -> durable-rules
  sessions -> aggregated, rendered Determination -> JSON text;
- floor: the same case's facts (built beforehand, untimed) posted to the same compiled
  durable-rules rulesets (Engine.fire): no model validation, no aggregation, no rationale.
`floor_ratio` = engine time / floor time. `--workers N` also times a batch in N processes.
`imr bench --cases 20000 --format json` prints one JSON object, for tracking.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from engine.decide.pipeline import Engine
from engine.load.cases import case_from_json_line
from engine.ops.generator import generate_lines


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(engine: Engine, count: int, seed: int = 0, workers: int = 1, warmup: int = 200) -> dict:
    lines = generate_lines(engine.base.vocabulary, count + warmup, seed)
    for n, line in enumerate(lines[:warmup]):  # first decisions are slower (allocation, caches)
        engine.decide(case_from_json_line(line, f"warmup:{n}")).model_dump_json()
    lines = lines[warmup:]
    latencies: list[float] = []
    engine_s = floor_s = 0.0
    items = 0
    clock = time.perf_counter
    for n, line in enumerate(lines):
        t0 = clock()
        determination = engine.decide(case_from_json_line(line, f"bench:{n}"))
        determination.model_dump_json()
        t1 = clock()
        latencies.append(t1 - t0)
        engine_s += t1 - t0
        items += len(determination.items)
        facts = engine.facts(case_from_json_line(line, f"bench:{n}"))  # untimed: the floor starts from facts
        t2 = clock()
        engine.fire(facts)
        floor_s += clock() - t2
    latencies.sort()
    figures = {
        "cases": len(lines), "items": items, "seed": seed,
        "items_per_s": round(items / engine_s), "cases_per_s": round(len(lines) / engine_s),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 3), "p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3),
        "floor_items_per_s": round(items / floor_s), "floor_ratio": round(engine_s / floor_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if workers > 1:
        figures.update(_parallel(engine, lines, workers, items / engine_s))
    return figures


def _parallel(engine: Engine, lines: list[str], workers: int, single_items_per_s: float) -> dict:
    """Wall-clock throughput of the same cases through the batch path in `workers` processes,
    against the same path in this process (one worker), measured back to back."""
    from engine.ops.batch import decide_lines

    def timed(n: int) -> float:
        start = time.perf_counter()
        decided = sum(r.items for r in decide_lines(engine, lines, "bench", workers=n))
        return decided / (time.perf_counter() - start)

    one = timed(1)
    many = timed(workers)
    return {"workers": workers, "items_per_s_1_worker": round(one), f"items_per_s_{workers}_workers": round(many),
            "workers_speedup": round(many / one, 2)}
