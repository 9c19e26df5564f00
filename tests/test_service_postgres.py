"""The decision log on a real PostgreSQL server, when one is available: the same code as on
SQLite (SQLAlchemy Core), the append-only triggers in plpgsql, and a determination logged and read
back. Set IMR_TEST_POSTGRES_URL (for example postgresql+psycopg://imr:imr@127.0.0.1/imr_test) to
run it; without a server it is skipped, and the skip says so."""

from __future__ import annotations

import json
import os

import pytest

URL = os.environ.get("IMR_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="no PostgreSQL server: set IMR_TEST_POSTGRES_URL=postgresql+psycopg://USER:PASS@HOST/DB to run")


def test_the_log_on_postgresql_is_append_only():
    pytest.importorskip("psycopg", reason="the `postgres` extra (psycopg) is not installed")
    from sqlalchemy import text

    from engine.decide.pipeline import Engine
    from engine.load.cases import load_case
    from engine.service import log as decision_log
    from tests.test_service import SEED

    db = decision_log.open_log(URL)
    case = load_case(SEED)
    determination = Engine().decide(case)
    logged = decision_log.record_determination(db, determination, json.dumps({"case": "seed"}), "test", store_case=True)
    row = decision_log.determination_row(db, logged.decision_id)
    assert [i["decision"] for i in json.loads(row["items"])] == ["Upheld"] * 3
    for statement in ("UPDATE determinations SET jurisdiction = 'TX'", "DELETE FROM determinations"):
        with pytest.raises(Exception, match="append-only"):
            with db.begin() as conn:
                conn.execute(text(statement))
