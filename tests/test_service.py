"""The HTTP API (engine.service): credentials and roles, the seed decided as the command line
decides it, positioned 422s, the append-only decision log, reviewer actions, and `imr replay`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from engine.load.cases import load_case
from engine.load.paths import RulesLocation
from engine.service.app import Settings, create_app
from engine.service.auth import Credentials
from engine.service.replay import replay
from tests.conftest import run

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "cases/cross/000_seed_b27565c25da42ea0.yaml"


def seed_json(**changes) -> str:
    data = load_case(SEED).model_dump(mode="json", exclude={"expected"}, exclude_none=True)
    data.update(changes)
    return json.dumps(data)


@pytest.fixture
def service(tmp_path):
    creds = Credentials.load(tmp_path / "creds.json")
    tokens = {role: creds.add_token(f"{role}-1", role) for role in ("reviewer", "auditor", "admin")}
    creds.save()
    settings = Settings(db=str(tmp_path / "log.sqlite3"), credentials=str(tmp_path / "creds.json"), store_cases=True,
                        rules=RulesLocation(ROOT / "guideline_rules"))
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.tokens = tokens
    client.settings = settings
    return client


def auth(client, role="reviewer") -> dict:
    return {"Authorization": f"Bearer {client.tokens[role]}"}


def test_only_health_is_open(service):
    assert service.get("/v1/health").json() == {"status": "ok"}
    for path in ("/v1/ready", "/v1/rules", "/v1/log"):
        response = service.get(path)
        assert response.status_code == 401 and response.json() == {"detail": "unauthorized"}
    assert service.get("/v1/ready", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert service.get("/v1/ready", headers=auth(service)).json()["status"] == "ready"


def test_roles(service):
    assert service.get("/v1/log", headers=auth(service)).status_code == 403
    assert service.get("/v1/log", headers=auth(service, "auditor")).status_code == 200
    assert service.post("/v1/reload", headers=auth(service, "auditor")).status_code == 403
    assert service.post("/v1/reload", headers=auth(service, "admin")).status_code == 200


def test_the_seed_decides_as_on_the_command_line_and_is_logged(service, capsys):
    response = service.post("/v1/determinations", content=seed_json(), headers=auth(service))
    assert response.status_code == 200
    body = response.json()
    assert [i["decision"] for i in body["determination"]["items"]] == ["Upheld"] * 3
    code, out, _ = run(capsys, "decide", str(SEED), "--format", "json")
    assert json.loads(out)["items"] == body["determination"]["items"]
    log = service.get("/v1/log", headers=auth(service, "auditor")).json()
    assert log[0]["decision_id"] == body["decision_id"]
    assert [i["decision"] for i in log[0]["items"]] == ["Upheld"] * 3
    assert log[0]["items"][0]["governing"] and "case_json" not in log[0]


def test_a_bad_case_is_a_positioned_422_never_a_500(service):
    response = service.post("/v1/determinations", content=seed_json(request_date="2015-13-40"), headers=auth(service))
    assert response.status_code == 422
    problem = response.json()["problems"][0]
    assert problem["path"] == "<request>" and problem["code"] == "E002" and "request_date" in problem["message"]
    assert service.post("/v1/determinations", content=b"{not json", headers=auth(service)).json()["problems"][0]["code"] == "E003"
    assert service.post("/v1/determinations", content=b"[" * 100_000, headers=auth(service)).status_code == 422
    assert service.post("/v1/determinations", content=b" " * 1_100_000, headers=auth(service)).status_code == 413


def test_actions_agree_and_override_with_a_reason(service):
    decided = service.post("/v1/determinations", content=seed_json(), headers=auth(service)).json()
    did = decided["decision_id"]
    agree = {"decision_id": did, "item_id": "pt-lumbar", "action": "agree"}
    assert service.post("/v1/actions", json=agree, headers=auth(service)).status_code == 200
    override = {"decision_id": did, "item_id": "pt-cervical", "action": "override", "final_decision": "Overturned"}
    assert service.post("/v1/actions", json=override, headers=auth(service)).status_code == 422
    override["reason"] = "PT notes dated 2015-05-01 document functional gains"
    assert service.post("/v1/actions", json=override, headers=auth(service)).status_code == 200
    assert service.post("/v1/actions", json={**agree, "decision_id": "0" * 32}, headers=auth(service)).status_code == 404
    log = service.get("/v1/log", headers=auth(service, "auditor")).json()
    acts = log[0]["actions"]
    assert [(a["item_id"], a["action"], a["final_decision"]) for a in acts] == [("pt-lumbar", "agree", "Upheld"), ("pt-cervical", "override", "Overturned")]
    assert acts[1]["reviewer"] == "reviewer-1" and acts[1]["reason"].startswith("PT notes")


def test_the_log_refuses_updates_and_deletes(service):
    service.post("/v1/determinations", content=seed_json(), headers=auth(service))
    db = service.app.state.service.db
    for statement in ("UPDATE determinations SET jurisdiction = 'TX'", "DELETE FROM determinations", "DELETE FROM rule_sets"):
        with pytest.raises(Exception, match="append-only"):
            with db.begin() as conn:
                conn.execute(text(statement))


def test_rules_with_their_pins_and_the_openapi_document(service):
    rules = service.get("/v1/rules", headers=auth(service)).json()
    assert any(r["id"] == "cpmtg.pm.functional-improvement" for r in rules)
    one = service.get("/v1/rules/cpmtg.pm.functional-improvement", headers=auth(service)).json()
    assert one["pages"] and one["silence"] == "requirement" and "mtus-cpmtg-2009-physical-medicine/002_flare_up_with_functional_improvement.yaml" in one["pinned_by"]
    assert service.get("/v1/rules/no.such.rule", headers=auth(service)).status_code == 404
    spec = service.get("/openapi.json").json()
    assert "Case" in spec["components"]["schemas"] and "/v1/determinations" in spec["paths"]


def test_explain_gives_the_documentation_that_would_change_an_upheld_item(service):
    items = service.post("/v1/explain?budget_seconds=20", content=seed_json(), headers=auth(service)).json()
    pt = next(i for i in items if i["item_id"] == "pt-lumbar")
    assert pt["decision"] == "Upheld" and pt["counterfactuals"]


def test_replay_reproduces_and_a_rule_edit_moves(service, tmp_path, capsys):
    for visits in range(10):
        history = [{"service": "physical_therapy", "region": "lumbar", "visits_completed": visits, "functional_improvement": True}]
        service.post("/v1/determinations", content=seed_json(treatment_history=history), headers=auth(service))
    code, out, _ = run(capsys, "replay", "--db", service.settings.db)
    assert code == 0 and "replayed 10 determinations (30 items); 0 decisions differ" in out
    edited = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", edited)
    (edited / "packs" / "mtus-cpmtg-2009-topical-analgesics.yaml").unlink()  # the compound's pack
    result = replay(service.settings.db, current=RulesLocation(edited))
    assert result.replayed == 10 and {m.item_id for m in result.moved} == {"compound-topical"}
    code, out, _ = run(capsys, "replay", "--db", service.settings.db, "--current", "--rules", str(edited))
    assert code == 1 and "MOVED" in out


def test_a_full_log_disk_gets_503_and_no_decision_id(service):
    """SQLite's page limit stands in for a full disk: past it the service answers 503 with no
    decision id, every id it did give is a row, and it recovers when space returns."""
    from sqlalchemy import event

    db = service.app.state.service.db
    limit = {"pages": None}

    def cap(dbapi_connection, _record):
        if limit["pages"]:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    event.listen(db, "connect", cap)
    with db.connect() as conn:
        used = conn.execute(text("PRAGMA page_count")).scalar_one()
    limit["pages"] = used + 2
    db.dispose()
    given, refused = [], 0
    for n in range(60):
        response = service.post("/v1/determinations", content=seed_json(case_id=f"full-{n}"), headers=auth(service))
        if response.status_code == 200:
            given.append(response.json()["decision_id"])
        else:
            assert response.status_code == 503 and "decision_id" not in response.json() and response.headers["retry-after"]
            refused += 1
    assert refused, "the page limit was never reached"
    limit["pages"] = None
    db.dispose()
    assert service.post("/v1/determinations", content=seed_json(), headers=auth(service)).status_code == 200
    logged = {e["decision_id"] for e in service.get("/v1/log?limit=1000", headers=auth(service, "auditor")).json()}
    assert set(given) <= logged


def test_a_body_that_is_not_utf8_text_is_a_positioned_422(service):
    for body in (b'{"case_id": "\xff"}', b'{"case_id": "a\x00"}'):
        response = service.post("/v1/determinations", content=body, headers=auth(service))
        assert response.status_code == 422 and response.json()["problems"][0]["code"] == "Y001"
