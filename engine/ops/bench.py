"""Benchmark: throughput, per-case latency, memory, the overhead over a durable-rules floor, and
(`--peers`) the same decisions side by side with zen-engine and plain Python.

Speed goals live here, never in timed tests. Over N generated cases (engine/ops/generator.py), each
case is timed twice, interleaved so machine noise hits both alike:
- engine: the whole path a batch line takes: JSON -> validated Case -> facts -> durable-rules
  sessions -> aggregated, rendered Determination (rationale included) -> JSON text;
- floor: `Engine.fire` on the same case's facts (built beforehand, untimed): encoding them for
  durable-rules, every session of the case (route, criterion shards, decide: all the rules that
  fire, each action's round trip, retracting or deleting the session's facts) and reading what
  fired into events per item. No model validation, fact building, aggregation or letter.
`floor_ratio` = engine time / floor time. Wall-clock and CPU (process) time are both given: on a
busy machine CPU time is the steadier figure. `--workers N` also times a batch in N processes.

`--peers` (engine/ops/peers.py) adds: µs per item for this engine, zen-engine and plain Python on
the same physical therapy and topical-compound decisions and their ratios; the engine's cost per
item with 37, 300 and 2,000 rules in the physical-medicine topic (filler packs for other services,
engine/ops/synthetic.py) and with 1, 3 and 10 items per case. The goals are printed beside what was
measured; they are never asserted in a test.

`--start` (`start_up`) times what a person waits for instead: fresh processes, as typed at a shell.
The seed case decided with a cold cache (an empty cache folder: the rules folder is read, checked and
compiled, durable/cache.py) and a warm one (the entry that run wrote), then `imr validate` and
`imr test` of the whole project; each the median of a few rounds, with its wall-clock time and the
child's own peak resident memory (VmHWM, read by the child as it exits: the benchmark's own memory
is not counted), beside the goals.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.decide.pipeline import Engine

GOALS = {"engine_over_zen": "<= 1.0", "items_per_s_cpu": ">= 5000", "cost_2000_over_37": "<= 1.2",
         "workers_speedup": ">= 1.8", "worker_rss_mb": "< 120"}
START_GOALS = {"decide_warm_cache": "< 1 s wall, < 100 MB peak RSS", "validate": "< 3 s wall", "test_warm_cache": "< 3 s wall"}
SEED = "cross/000_seed_b27565c25da42ea0.yaml"
"""The seed case, in the project's case corpus."""
TOPIC_SIZES = (37, 300, 2000)
ITEMS_PER_CASE = (1, 3, 10)


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def bench(engine: Engine, count: int, seed: int = 0, workers: int = 1, warmup: int = 200) -> dict:
    from engine.load.cases import case_from_json_line  # start-up cost: `--start` runs no engine in this process
    from engine.ops.generator import generate_lines

    lines = generate_lines(engine.base.vocabulary, count + warmup, seed)
    for n, line in enumerate(lines[:warmup]):  # first decisions are slower (allocation, caches)
        engine.decide(case_from_json_line(line, f"warmup:{n}")).model_dump_json()
    lines = lines[warmup:]
    latencies: list[float] = []
    engine_s = floor_s = engine_cpu = floor_cpu = 0.0
    items = 0
    clock, cpu = time.perf_counter, time.process_time
    for n, line in enumerate(lines):
        c0, t0 = cpu(), clock()
        determination = engine.decide(case_from_json_line(line, f"bench:{n}"))
        determination.model_dump_json()
        t1, c1 = clock(), cpu()
        latencies.append(t1 - t0)
        engine_s += t1 - t0
        engine_cpu += c1 - c0
        items += len(determination.items)
        facts = engine.facts(case_from_json_line(line, f"bench:{n}"))  # untimed: the floor starts from facts
        c2, t2 = cpu(), clock()
        engine.fire(facts)
        floor_s += clock() - t2
        floor_cpu += cpu() - c2
    latencies.sort()
    figures = {
        "cases": len(lines), "items": items, "seed": seed,
        "items_per_s": round(items / engine_s), "cases_per_s": round(len(lines) / engine_s),
        "items_per_s_cpu": round(items / engine_cpu) if engine_cpu else 0,
        "us_per_item_cpu": round(engine_cpu / items * 1e6, 1) if items else 0,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 3), "p99_ms": round(_percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3),
        "floor_items_per_s": round(items / floor_s), "floor_us_per_item_cpu": round(floor_cpu / items * 1e6, 1) if items else 0,
        "floor_ratio": round(engine_s / floor_s, 2),
        "rss_mb": round(rss_mb(), 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "rulesets": sum(1 for _ in engine.rete._specs), "live_sessions": engine.rete.live_sessions(),
    }
    if workers > 1:
        figures.update(_parallel(engine, lines, workers))
    figures["goals"] = {k: v for k, v in GOALS.items() if k in ("items_per_s_cpu", "workers_speedup")}
    return figures


def _parallel(engine: Engine, lines: list[str], workers: int) -> dict:
    """Wall-clock throughput of the same cases through the batch path in `workers` processes,
    against the same path in this process (one worker), measured back to back."""
    from engine.ops.batch import decide_lines  # start-up cost: as in `bench`

    def timed(n: int) -> float:
        start = time.perf_counter()
        decided = sum(r.items for r in decide_lines(engine, lines, "bench", workers=n))
        return decided / (time.perf_counter() - start)

    one = timed(1)
    many = timed(workers)
    return {"workers": workers, "items_per_s_1_worker": round(one), f"items_per_s_{workers}_workers": round(many),
            "workers_speedup": round(many / one, 2)}


def peers(count: int = 3000, seed: int = 0, sizes=TOPIC_SIZES, per_case=ITEMS_PER_CASE, out=None) -> dict:
    """The side-by-side figures (engine/ops/peers.py); `out`, if given, gets a progress line per step."""
    from engine.decide.pipeline import Engine  # start-up cost: only for --peers
    from engine.ops import peers as p
    from engine.ops.synthetic import topic_rules

    def say(text: str) -> None:
        if out is not None:
            print(text, file=out, flush=True)

    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="imr-peers-") as tmp:
        root = p.peer_rules(Path(tmp) / "rules")
        engine = Engine(root)
        say(f"peers: {count} cases, physical therapy and topical compounds")
        side = p.compare(engine, p.peer_cases(count, seed, items=3), rounds=3)
        us = side["us_per_item"]
        figures["side_by_side"] = side
        figures["engine_over_python"] = round(us["engine"] / us["python"], 1)
        figures["engine_firing_over_python"] = round(us["engine_firing"] / us["python"], 1)
        if "zen_engine" in us:
            figures["engine_over_zen"] = round(us["engine"] / us["zen_engine"], 2)
            figures["engine_firing_over_zen"] = round(us["engine_firing"] / us["zen_engine"], 2)
            figures["zen_over_python"] = round(us["zen_engine"] / us["python"], 1)
        else:
            figures["zen_engine"] = side["zen_engine"]
        # items per case
        growth_items = {}
        for k in per_case:
            cases = p.peer_cases(max(200, count // k), seed + k, items=k, topical=0.0)
            r = p.compare(engine, cases, rounds=2)
            growth_items[str(k)] = {"engine": r["us_per_item"]["engine"], "engine_firing": r["us_per_item"]["engine_firing"]}
            say(f"peers: {k} items a case: {growth_items[str(k)]['engine']} µs per item")
        figures["per_item_by_items_per_case"] = growth_items
        # rules per topic
        growth = {}
        cases = p.peer_cases(count, seed + 100, items=3, topical=0.0)
        for size in sizes:
            folder = p.peer_rules(Path(tmp) / f"rules-{size}", size)
            t0 = time.perf_counter()
            sized = Engine(folder)
            load_s = time.perf_counter() - t0
            plan = sized.compiled.rulesets["physical_medicine"]
            r = p.compare(sized, cases, rounds=2)
            growth[str(size)] = {"rules_in_topic": topic_rules(folder), "engine_rules_in_topic": len(plan.definition),
                                 "rulesets_of_topic": len(plan.specs()), "load_and_compile_s": round(load_s, 1),
                                 "engine": r["us_per_item"]["engine"], "engine_firing": r["us_per_item"]["engine_firing"],
                                 "disagreements": r["disagreements"]}
            say(f"peers: {size} rules in the topic: {growth[str(size)]['engine']} µs per item")
            sized.rete.close()
        figures["per_item_by_rules_in_topic"] = growth
        first, last = str(sizes[0]), str(sizes[-1])
        figures[f"cost_{last}_over_{first}"] = round(growth[last]["engine"] / growth[first]["engine"], 2)
        figures[f"firing_{last}_over_{first}"] = round(growth[last]["engine_firing"] / growth[first]["engine_firing"], 2)
        engine.rete.close()
    figures["goals"] = {k: v for k, v in GOALS.items() if k in ("engine_over_zen", "cost_2000_over_37")}
    return figures


# ---------------------------------------------------------------- start-up: fresh processes

_CHILD = """
import atexit, runpy, sys

def _peak(where):
    try:
        with open("/proc/self/status") as f:
            kb = next((line.split()[1] for line in f if line.startswith("VmHWM:")), "0")
    except OSError:
        kb = "0"
    with open(where, "w") as out:
        out.write(kb)

atexit.register(_peak, sys.argv[1])
sys.argv = ["imr", *sys.argv[2:]]
runpy.run_module("engine", run_name="__main__", alter_sys=True)
"""
"""The child: `imr ARGS` (python -m engine), writing its own peak resident memory (VmHWM, kB) to a
file as it exits, so that the figure is the command's alone."""


def _run_fresh(args: list[str], env: dict, cwd: Path) -> dict:
    """One fresh `imr ARGS` process: wall-clock seconds, its own peak RSS (MB) and exit code."""
    with tempfile.NamedTemporaryFile(prefix="imr-peak-", delete=False) as f:
        peak_file = f.name
    try:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, peak_file, *args], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        wall = time.perf_counter() - start
        kb = Path(peak_file).read_text().strip() or "0"
    finally:
        os.unlink(peak_file)
    return {"wall_s": wall, "peak_rss_mb": int(kb) / 1024, "exit": proc.returncode}


def _summary(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"wall_s": round(statistics.median(walls), 2), "wall_s_min": round(min(walls), 2),
            "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs), 1),
            "exit": sorted({r["exit"] for r in runs})[0] if len({r["exit"] for r in runs}) == 1 else sorted({r["exit"] for r in runs})}


def start_up(rules=None, rounds: int = 3, out=None) -> dict:
    """Fresh-process start-up figures (module docstring): decide the seed with a cold and a warm
    rules cache, validate and test the whole project. The cache is a temporary folder of its own (the
    user's is left alone); bytecode is cached as for any install (PYTHONDONTWRITEBYTECODE is not passed
    on). `out`, if given, gets a progress line per command."""
    import engine  # start-up cost: none (loaded); where the engine runs from, for the children
    from engine.load.paths import DEFAULT_CASES, DEFAULT_RULES, LAYERS_ENV, locate

    root = Path(engine.__file__).resolve().parents[1]  # the checkout (or site-packages): `-m engine` imports this engine
    seed = DEFAULT_CASES / SEED
    if not seed.is_file():
        return {"skipped": f"no case corpus at {DEFAULT_CASES} (start-up figures need the checkout)"}
    where = locate(rules)
    layer_args = [a for layer in where.layers for a in ("--layer", str(layer))]
    rules_args = ([] if where.base == DEFAULT_RULES else ["--rules", str(where.base)]) + layer_args
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "IMR_NO_CACHE", LAYERS_ENV)}  # layers passed as arguments
    figures: dict = {"seed": str(seed), "rounds": rounds, "python": sys.executable}
    commands = {
        "decide_cold_cache": (["decide", str(seed), *rules_args], True),
        "decide_warm_cache": (["decide", str(seed), *rules_args], False),
        "validate": (["validate", str(where.base), str(DEFAULT_CASES), *layer_args], False),
        "test_cold_cache": (["test", str(DEFAULT_CASES), *rules_args], True),
        "test_warm_cache": (["test", str(DEFAULT_CASES), *rules_args], False),
    }
    with tempfile.TemporaryDirectory(prefix="imr-start-") as tmp:
        warm = Path(tmp) / "warm"
        _run_fresh(["decide", str(seed), *rules_args], {**env, "XDG_CACHE_HOME": str(warm)}, root)  # fills the warm cache (and bytecode)
        for name, (args, cold) in commands.items():
            runs = []
            for n in range(rounds):
                cache = Path(tmp) / f"{name}-{n}" if cold else warm  # cold: an empty cache folder each round
                runs.append(_run_fresh(args, {**env, "XDG_CACHE_HOME": str(cache)}, root))
            figures[name] = _summary(runs)
            if out is not None:
                print(f"start: {name}: {figures[name]['wall_s']} s, {figures[name]['peak_rss_mb']} MB", file=out, flush=True)
    figures["goals"] = dict(START_GOALS)
    d, v, t = figures["decide_warm_cache"], figures["validate"], figures["test_warm_cache"]
    figures["goals_met"] = {"decide_warm_cache": d["wall_s"] < 1 and d["peak_rss_mb"] < 100, "validate": v["wall_s"] < 3,
                            "test_warm_cache": t["wall_s"] < 3}
    return figures
