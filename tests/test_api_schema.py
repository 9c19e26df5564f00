"""A property-based test of the API from its own OpenAPI document (schemathesis): generated
requests to every route, with a reviewer's token and with none, never get a 5xx. Bounded
(a few examples per operation) so it stays fast; the decision routes read the raw body with the
command line's reader, so most generated bodies are positioned 422s, which is the point."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")
from hypothesis import HealthCheck, settings  # noqa: E402

from engine.load.paths import RulesLocation  # noqa: E402
from engine.service.app import Settings, create_app  # noqa: E402
from engine.service.auth import Credentials  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _app(tmp: Path):
    creds = Credentials.load(tmp / "creds.json")
    tokens = {role: creds.add_token(f"{role}-1", role) for role in ("reviewer",)}
    creds.save()
    app = create_app(Settings(db=str(tmp / "log.sqlite3"), credentials=str(tmp / "creds.json"), rules=RulesLocation(ROOT / "guideline_rules")))
    return app, tokens


_TMP = Path(__import__("tempfile").mkdtemp(prefix="imr-schema-"))
APP, TOKENS = _app(_TMP)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.parametrize("role", ["reviewer", None])
def test_no_generated_request_gets_a_5xx(case, role):
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
