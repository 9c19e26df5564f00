"""Faults the service must survive (issue: load and faults): a real `imr serve` with 2 worker
processes on 127.0.0.1, loaded from this process; a client that disconnects mid-request and a
worker killed mid-load lose no acknowledged decision: every decision id a client received is a
committed row of the log, and the server still answers. Bounded in requests and seconds."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from engine.service.auth import Credentials
from engine.service.bench import serving
from tests.test_service import seed_json

HOST = "127.0.0.1"


def _token(credentials: Path, name: str, role: str) -> str:
    creds = Credentials.load(credentials)
    token = creds.add_token(name, role)
    creds.save()
    return token


@pytest.fixture
def server(tmp_path):
    token = _token(tmp_path / "credentials.json", "faults", "reviewer")
    _token(tmp_path / "credentials.json", "admin", "admin")
    with serving(tmp_path, tmp_path / "credentials.json", workers=2) as running:
        yield running.port, token, running.db, running.process


def _workers(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def _post(port: int, token: str, body: str) -> str | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/v1/determinations", body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return json.loads(data)["decision_id"] if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def _logged(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT decision_id FROM determinations")}


def test_a_client_that_disconnects_mid_request_is_survived(server):
    port, token, db, _ = server
    with socket.create_connection((HOST, port)) as s:
        s.sendall(b"POST /v1/determinations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n" + seed_json().encode()[:200])
    assert _post(port, token, seed_json()) in _logged(db)


def test_a_worker_killed_mid_load_loses_no_acknowledged_decision(server):
    port, token, db, proc = server
    acknowledged: list[str] = []
    lock = threading.Lock()
    body = seed_json()
    stop = time.monotonic() + 90

    def client(n: int) -> None:
        for _ in range(n):
            if time.monotonic() > stop:
                return
            decision_id = _post(port, token, body)
            if decision_id:
                with lock:
                    acknowledged.append(decision_id)

    threads = [threading.Thread(target=client, args=(40,)) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acknowledged) < 20 and time.monotonic() < stop:
        time.sleep(0.05)
    workers = _workers(proc.pid)
    assert workers, "uvicorn started no worker processes"
    os.kill(workers[0], signal.SIGKILL)
    for t in threads:
        t.join()
    assert len(acknowledged) > 20
    assert set(acknowledged) <= _logged(db)
    assert _post(port, token, body) in _logged(db)  # still serving after the kill
