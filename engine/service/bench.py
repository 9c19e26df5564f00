"""`python -m engine.service.bench`: the service under load, measured from a second process.

Starts `imr serve --workers N` on a free port of 127.0.0.1 with its own temporary log and
credentials, then a separate client process sends the seed case to `POST /v1/determinations` at
each concurrency (one keep-alive HTTP/1.1 connection per concurrent client, a bounded number of
requests each) and prints decisions per second and p50 / p99 latency. Every request is a real
decision written to the log (committed before its answer), as in service. A goal, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.load.cases import load_case
from engine.service.auth import Credentials

SEED = Path(__file__).resolve().parents[2] / "cases/cross/000_seed_b27565c25da42ea0.yaml"


def _seed_json() -> bytes:
    return json.dumps(load_case(SEED).model_dump(mode="json", exclude={"expected"}, exclude_none=True)).encode()


async def _client(host: str, port: int, token: str, body: bytes, count: int, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    head = (f"POST /v1/determinations HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(head + body)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if b" 200 " not in status:
                errors.append(status.decode(errors="replace").strip())
    finally:
        writer.close()


async def _level(host: str, port: int, token: str, body: bytes, concurrency: int, requests: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    each = max(1, requests // concurrency)
    start = time.perf_counter()
    await asyncio.gather(*(_client(host, port, token, body, each, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"concurrency": concurrency, "requests": len(latencies), "errors": len(errors), "seconds": round(elapsed, 2),
            "per_second": round(len(latencies) / elapsed, 1), "p50_ms": round(1000 * statistics.median(latencies), 1),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1)}


def client_main(host: str, port: int, token: str, levels: list[int], requests: int) -> None:
    """The load process: a warm-up, then each concurrency level; one JSON line per level."""
    body = _seed_json()
    asyncio.run(_level(host, port, token, body, 2, 40))
    for c in levels:
        print(json.dumps(asyncio.run(_level(host, port, token, body, c, max(requests, 4 * c)))), flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated levels (default 1,16,64)")
    parser.add_argument("--requests", type=int, default=400, help="requests per level (default 400)")
    parser.add_argument("--client", nargs=2, metavar=("PORT", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.client:
        client_main("127.0.0.1", int(args.client[0]), args.client[1], levels, args.requests)
        return 0
    with tempfile.TemporaryDirectory(prefix="imr-bench-") as tmp:
        creds = Credentials.load(Path(tmp) / "creds.json")
        token = creds.add_token("bench", "reviewer")
        creds.add_token("admin", "admin")
        creds.save()
        try:
            with serving(Path(tmp), Path(tmp) / "creds.json", workers=args.workers) as server:
                print(f"imr serve --workers {args.workers} on 127.0.0.1:{server.port}; the seed case (3 items) per request; {os.cpu_count()} cores")
                print(f"{'concurrency':>11} {'requests':>8} {'errors':>6} {'decisions/s':>11} {'p50 ms':>7} {'p99 ms':>7}")
                load = subprocess.run([sys.executable, "-m", "engine.service.bench", "--concurrency", args.concurrency,
                                       "--requests", str(args.requests), "--client", str(server.port), token],
                                      capture_output=True, text=True, timeout=900)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            return 1
        for line in load.stdout.splitlines():
            r = json.loads(line)
            print(f"{r['concurrency']:>11} {r['requests']:>8} {r['errors']:>6} {r['per_second']:>11} {r['p50_ms']:>7} {r['p99_ms']:>7}")
        if load.returncode:
            print(load.stderr[-2000:], file=sys.stderr)
        return load.returncode


@dataclass
class Server:
    port: int
    db: Path
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(folder: Path, credentials: Path, workers: int = 1, deadline_seconds: float = 180):
    """`imr serve` on a free port of 127.0.0.1 (its log in `folder`), answering /v1/health, for as
    long as the block runs; stopped after it (killed if it will not stop). The benchmark, the fault
    tests and the browser test all start the server this way. TimeoutError when it does not start."""
    port = _free_port()
    db = folder / "log.sqlite3"
    imr = Path(sys.executable).with_name("imr")
    process = subprocess.Popen([str(imr), "serve", "--workers", str(workers), "--port", str(port), "--db", str(db),
                                "--credentials", str(credentials)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + deadline_seconds
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    output = process.stdout.read().decode(errors="replace")[-2000:] if process.stdout else ""
                    raise TimeoutError(f"imr serve did not start: {output}") from None
                time.sleep(0.3)
        yield Server(port, db, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()

if __name__ == "__main__":
    sys.exit(main())
