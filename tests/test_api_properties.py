"""Property-based test of the HTTP API from its own OpenAPI document (schemathesis): whatever
the generated request (bodies from the case schema, odd parameters, wrong tokens), the service
answers with no 5xx. Bounded: a few examples per operation, no deadline (a decision takes ms)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from engine.load.paths import RulesLocation
from engine.service.app import Settings, create_app
from engine.service.auth import Credentials

ROOT = Path(__file__).resolve().parent.parent


def _app(tmp: Path):
    creds = Credentials.load(tmp / "creds.json")
    token = creds.add_token("auditor-1", "auditor")  # may read the log too; admin's reload is left out
    creds.save()
    app = create_app(Settings(db=str(tmp / "log.sqlite3"), credentials=str(tmp / "creds.json"), rules=RulesLocation(ROOT / "guideline_rules")))
    return app, token


_TMP = Path(__import__("tempfile").mkdtemp(prefix="imr-api-props-"))
APP, TOKEN = _app(_TMP)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.exclude(path="/v1/reload").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_5xx(case):
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
def test_no_credential_gets_in(header):
    from fastapi.testclient import TestClient

    client = TestClient(APP)
    headers = {"Authorization": header} if header else {}
    for path in ("/v1/ready", "/v1/rules", "/v1/log"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401 and response.json() == {"detail": "unauthorized"}
