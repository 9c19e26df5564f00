"""`imr bench --serve`: the HTTP service under load, measured from outside.

Starts `imr serve` on 127.0.0.1 (a free port, a temporary log and credentials, N worker
processes), waits for /v1/health, then sends a bounded load from a second process: for each
concurrency (1, 16, 64) a fixed number of POST /v1/determinations of the seed case over keep-alive
connections, each stopping at its time bound. It prints decisions per second and p50/p99 latency
beside the goal (500/s at concurrency 16 with p99 under 50 ms, 2 workers, this 2-core machine).
Every request goes to the loopback address only, and every loop is bounded in count and time.
Goals are printed, never asserted.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GOAL = "500 decisions/s at concurrency 16, p99 < 50 ms (2 workers)"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=1)
            conn.request("GET", "/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the server did not answer /v1/health in time")


def _load(port: int, token: str, body: bytes, concurrency: int, requests: int, seconds: float) -> dict:
    """`requests` POSTs spread over `concurrency` threads, each with one keep-alive connection."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    per_thread = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        for _ in range(n):
            if time.monotonic() > stop:
                break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/determinations", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else float("nan")

    return {"requests": len(latencies), "errors": errors[0], "seconds": round(wall, 2),
            "decisions_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else float("nan")}


def _token(credentials: str, name: str, role: str) -> str:
    """A token made as an operator makes one (`imr token`), read from its one line of output."""
    done = subprocess.run([sys.executable, "-m", "engine", "token", name, "--role", role, "--credentials", credentials],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().rsplit(" ", 1)[-1]


@dataclass
class Server:
    port: int
    token: str
    """A reviewer's token."""
    db: Path
    process: subprocess.Popen


@contextmanager
def serving(folder: Path, workers: int = 2):
    """`imr serve` on 127.0.0.1 (a free port; its log and credentials in `folder`), answering
    /v1/health, for as long as the block runs; stopped (killed if it will not stop) after it."""
    credentials = str(folder / "credentials.json")
    token = _token(credentials, "reviewer", "reviewer")
    _token(credentials, "admin", "admin")  # so serve prints no first token
    port = _free_port()
    db = folder / "log.sqlite3"
    cmd = [sys.executable, "-m", "engine", "serve", "--port", str(port), "--workers", str(workers), "--db", str(db), "--credentials", credentials]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    try:
        _wait(port, time.monotonic() + 180)
        yield Server(port, token, db, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def serve_bench(workers: int = 2, requests: int = 2000, seconds: float = 60.0, concurrencies=(1, 16, 64), out=None) -> dict:
    from engine.load.cases import load_case  # start-up cost: only this benchmark
    from engine.load.paths import DEFAULT_CASES

    seed = DEFAULT_CASES / "cross" / "000_seed_b27565c25da42ea0.yaml"
    if not seed.is_file():
        return {"skipped": f"no case corpus at {DEFAULT_CASES} (the benchmark posts the seed case)"}
    body = json.dumps(load_case(seed).model_dump(mode="json", exclude={"expected"}, exclude_none=True)).encode()
    figures: dict = {"workers": workers, "goal": GOAL, "case": str(seed)}
    with tempfile.TemporaryDirectory(prefix="imr-serve-bench-") as tmp, serving(Path(tmp), workers) as server:
        _load(server.port, server.token, body, 4, 40, 30)  # warm every worker (its first decision compiles nothing, but fills caches)
        for c in concurrencies:
            if out is not None:
                print(f"concurrency {c}: {requests} requests ...", file=out, flush=True)
            figures[f"concurrency_{c}"] = _load(server.port, server.token, body, c, requests, seconds)
    return figures
