"""Runs `imr` commands for tests/test_hostile.py, each in its own process under a memory cap and a
time limit, a few at a time.

Started once (`python tests/hostile_runner.py POOL`), it imports the engine and builds the engine of
the project's rules, then reads one JSON request per line from standard input and, for each, forks
a child (as `imr batch --workers` forks its workers) that sets its address-space limit, redirects
its standard streams to the request's files, changes to its folder and runs `main(argv)`. A
request with `"fresh": true` runs `python -m engine ARGV` instead: a new interpreter, nothing
inherited. A child still running at its time limit is killed. One JSON line per finished request
is written back: its id, exit code, whether it timed out, its seconds and its peak RSS in MB.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import sys
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import simple_icd_10_cm  # noqa: E402,F401  (the code set: loaded once, shared by every child)

from engine.cli import commands  # noqa: E402
from engine.cli.main import main  # noqa: E402
from engine.decide.pipeline import Engine  # noqa: E402

PROJECT_ENGINE = Engine()
_build = commands._engine
commands._engine = lambda rules: PROJECT_ENGINE if rules is None else _build(rules)


def _redirect(request: dict) -> None:
    for fd, key, mode in ((0, "stdin", os.O_RDONLY), (1, "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                          (2, "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        target = request.get(key) or os.devnull
        flags = mode | (os.O_APPEND if key == "stdout" and request.get("append") else 0)
        if key == "stdout" and request.get("append"):
            flags &= ~os.O_TRUNC
        new = os.open(target, flags, 0o644)
        os.dup2(new, fd)
        os.close(new)


def _child(request: dict) -> None:
    """In the forked child: never returns."""
    code = 70
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _redirect(request)
        os.chdir(request["cwd"])
        limit = request["limit"]
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if request.get("fresh"):
            os.execv(sys.executable, [sys.executable, "-m", "engine", *request["argv"]])
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        sys.argv = ["imr", *request["argv"]]
        try:
            code = main(request["argv"])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # what main() let through: shown as a traceback, which the tests look for
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    os._exit(code)


def _read_requests(into: queue.Queue) -> None:
    """Requests from standard input, one JSON line each, then None at its end."""
    for line in sys.stdin:
        into.put(json.loads(line))
    into.put(None)


def serve(pool: int) -> None:
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read_requests, args=(requests,), daemon=True).start()
    pending: list[dict] = []
    running: dict[int, tuple[dict, float]] = {}
    closed = False
    reply = sys.stdout
    print(json.dumps({"ready": True}), file=reply, flush=True)
    while not (closed and not pending and not running):
        while not closed:
            try:
                request = requests.get(timeout=0.005 if (pending or running) else None)
            except queue.Empty:
                break
            if request is None:
                closed = True
            else:
                pending.append(request)
                if len(pending) >= pool:
                    break
        while pending and len(running) < pool:
            request = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            running[pid] = (request, time.monotonic())
        for pid, (request, started) in list(running.items()):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            timed_out = False
            if not done and time.monotonic() - started > request["timeout"]:
                os.killpg(pid, signal.SIGKILL)
                done, status, usage = os.wait4(pid, 0)
                timed_out = True
            if done:
                del running[pid]
                print(json.dumps({"id": request["id"], "code": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
                                  "seconds": round(time.monotonic() - started, 3), "peak_mb": usage.ru_maxrss // 1024}),
                      file=reply, flush=True)
        if running:
            time.sleep(0.005)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
