"""The pre-screen page (engine.service.page) without a browser: login and session cookie, CSRF,
the seed entered as form fields decided as the command line decides it, the generated questions
and their answers, the reviewer's action in the log, bounds and positioned messages. The same
flow in a real headless Chromium: tests/test_page_browser.py."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from engine.load.cases import load_case
from engine.load.paths import RulesLocation
from engine.service.app import Settings, create_app
from engine.service.auth import Credentials

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "cases/cross/000_seed_b27565c25da42ea0.yaml"
PASSWORD = "correct horse battery staple"

SEED_FORM = {
    "jurisdiction": "CA", "request_date": "2015-06-10", "case_id": "page-seed",
    "iw-age": "43", "iw-sex": "female", "iw-date_of_injury": "2008-03-27",
    "dx-0-code": "M51.16", "dx-0-text": "Lumbar disc protrusion with radiculopathy",
    "dx-1-code": "M54.2", "dx-1-text": "Cervical pain; rule out cervical disc injury",
    "sx-0-procedure": "lumbar_discectomy_laminectomy", "sx-0-region": "lumbar",
    "hx-0-service": "physical_therapy", "hx-0-region": "lumbar", "hx-0-home_exercise_program": "yes",
    "hx-1-service": "physical_therapy", "hx-1-region": "cervical", "hx-1-home_exercise_program": "yes",
    "cf-pain_score": "6", "cf-radiculopathy_on_exam": "yes",
    "med-0-drug": "hydrocodone", "med-0-dose": "10/325 mg", "med-1-drug": "duloxetine", "med-2-drug": "cyclobenzaprine", "med-3-drug": "pantoprazole",
    "therapy-0-service": "physical_therapy", "therapy-0-region": "lumbar", "therapy-0-frequency": "2", "therapy-0-weeks": "4",
    "therapy-1-service": "physical_therapy", "therapy-1-region": "cervical", "therapy-1-frequency": "2", "therapy-1-weeks": "4",
    "rx-0-drugs": "Ketoprofen 10%, Gabapentin 6%, Bupivacaine 5%, Baclofen 2%, Cyclobenzaprine 2%, Clonidine 0.2%, Sodium Hyaluronate 0.2%",
    "rx-0-form": "topical", "rx-0-compounded": "yes", "rx-0-quantity": "300 g", "rx-0-refills": "3",
}
"""The seed case (cases/cross/000_seed_...) as a reviewer types it into the form."""
FLIP_LUMBAR = {"q.treatment_history.0.visits_completed": "2", "q.treatment_history.0.functional_improvement": "yes",
               "q.clinical_findings.acute_flare_up": "yes"}


@pytest.fixture
def site(tmp_path):
    creds = Credentials.load(tmp_path / "creds.json")
    creds.add_password("rita", "reviewer", PASSWORD)
    creds.add_password("aud", "auditor", PASSWORD)
    creds.save()
    settings = Settings(db=str(tmp_path / "log.sqlite3"), credentials=str(tmp_path / "creds.json"), rules=RulesLocation(ROOT / "guideline_rules"))
    return TestClient(create_app(settings), raise_server_exceptions=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(client, name="rita") -> str:
    token = csrf_of(client.get("/page/login").text)
    response = client.post("/page/login", data={"csrf": token, "name": name, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/page").text)


def decisions(html: str) -> dict[str, str]:
    return dict(re.findall(r'id="decision-([a-z]+-\d+)">([^<]+)<', html))


def test_the_page_needs_a_login_and_the_cookie_is_signed_httponly_samesite(site):
    assert site.get("/page", follow_redirects=False).headers["location"] == "/page/login"
    assert site.get("/page/log", follow_redirects=False).status_code == 303
    token = csrf_of(site.get("/page/login").text)
    wrong = site.post("/page/login", data={"csrf": token, "name": "rita", "password": "wrong password!"})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    response = site.post("/page/login", data={"csrf": token, "name": "rita", "password": PASSWORD}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert "default-src 'self'" in site.get("/page").headers["content-security-policy"]
    tampered = TestClient(site.app)
    tampered.cookies.set("imr_session", site.cookies["imr_session"][:-4] + "AAAA")
    assert tampered.get("/page", follow_redirects=False).status_code == 303


def test_every_form_needs_the_csrf_token(site):
    token = login(site)
    assert site.post("/page/decide", data={**SEED_FORM, "csrf": "forged"}).status_code == 403
    assert site.post("/page/decide", data=SEED_FORM).status_code == 403
    assert site.post("/page/logout", data={"csrf": "forged"}).status_code == 403
    assert site.post("/page/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert site.get("/page", follow_redirects=False).status_code == 303


def test_the_seed_typed_in_decides_as_the_case_file_and_is_logged(site, capsys):
    from tests.conftest import run

    token = login(site)
    html = site.post("/page/decide", data={**SEED_FORM, "csrf": token}).text
    assert decisions(html) == {"therapy-1": "Upheld", "therapy-2": "Upheld", "rx-1": "Upheld"}
    assert html.count("Physical Medicine, pages 98-99") == 2 and "Topical Analgesics, pages 111-113" in html
    code, out, _ = run(capsys, "decide", str(SEED), "--format", "json")
    cli = json.loads(out)["items"]
    assert [i["decision"] for i in cli] == list(decisions(html).values())
    rationales = [unescape(t) for t in re.findall(r'<textarea class="rationale" readonly id="rationale-[^"]+">(.*?)</textarea>', html, re.S)]
    assert rationales == [i["rationale"] for i in cli]
    assert "Physical therapy 2 times a week for 4 weeks for the lumbar spine" in html
    decision_id = re.search(r'name="decision_id" value="([0-9a-f]{32})"', html).group(1)
    assert site.app.state.service.db and decision_id in login_log(site)


def login_log(site) -> str:
    auditor = TestClient(site.app)
    login(auditor, "aud")
    return auditor.get("/page/log").text


def test_questions_come_from_the_governing_rules_and_an_answer_re_decides(site):
    token = login(site)
    html = site.post("/page/decide", data={**SEED_FORM, "csrf": token}).text
    asked = re.findall(r'name="(q\.[^"]+)"', html)
    assert set(FLIP_LUMBAR) <= set(asked) and "q.clinical_findings.new_injury" in asked
    assert "Does the record document functional improvement from prior treatment documented at visits?" in html
    assert re.search(r'name="q.treatment_history.0.visits_completed"[^>]*type="number"', html)
    assert not any(q.startswith("q.requested_items") for q in asked)  # the compound is not met, nothing to ask
    answered = site.post("/page/decide", data={**SEED_FORM, **FLIP_LUMBAR, "csrf": token}).text
    assert decisions(answered) == {"therapy-1": "Overturned", "therapy-2": "Upheld", "rx-1": "Upheld"}
    assert set(FLIP_LUMBAR) <= set(re.findall(r'name="(q\.[^"]+)"', answered))  # answered questions stay
    partly = site.post("/page/decide", data={**SEED_FORM, "q.treatment_history.0.functional_improvement": "yes", "csrf": token}).text
    assert decisions(partly)["therapy-1"] == "Upheld"


def test_an_override_with_a_reason_goes_to_the_log_and_an_auditor_sees_it(site):
    token = login(site)
    html = site.post("/page/decide", data={**SEED_FORM, "csrf": token}).text
    decision_id = re.search(r'name="decision_id" value="([0-9a-f]{32})"', html).group(1)
    act = {**SEED_FORM, "csrf": token, "decision_id": decision_id, "act": "rx-1", "action-rx-1": "override", "final-rx-1": "Overturned"}
    missing = site.post("/page/action", data=act)
    assert missing.status_code == 422 and "an override needs a final_decision and a reason" in missing.text
    done = site.post("/page/action", data={**act, "reason-rx-1": "Compound necessity documented in the 06/01 note"})
    assert done.status_code == 200 and 'id="recorded"' in done.text and decisions(done.text)["rx-1"] == "Upheld"
    assert site.get("/page/log").status_code == 403  # a reviewer may not read the log
    log = login_log(site)
    assert "Compound necessity documented in the 06/01 note" in log and "override" in log and decision_id in log


def test_bad_input_gets_positioned_messages_never_a_500(site):
    token = login(site)
    cases = {
        "therapy-0-frequency": ("two", "<form>:1:3: E002 requested therapy 1, frequency: 'two' is not a whole number"),
        "request_date": ("2015-13-01", "<request>:4:"),
        "dx-0-code": ("Z99.999", "E002"),
        "q.treatment_history.9.visits_completed": ("3", "is not a field of this case"),
        "q.clinical_findings.acute_flare_up": ("perhaps", "acute_flare_up"),
    }
    for name, (value, message) in cases.items():
        response = site.post("/page/decide", data={**SEED_FORM, name: value, "csrf": token})
        assert response.status_code == 422 and message in response.text.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'"), name
    assert site.post("/page/decide", data={**SEED_FORM, "csrf": token, "rx-0-description": "x" * 5000}).status_code == 422
    over = site.post("/page/decide", content=b"csrf=" + b"x" * 300_000, headers={"content-type": "application/x-www-form-urlencoded"})
    assert over.status_code in (403, 422)
    many = {f"therapy-{n}-service": "physical_therapy" for n in range(25)}
    response = site.post("/page/decide", data={**SEED_FORM, **many, "csrf": token})
    assert response.status_code == 422 and "more than 20 requested items" in response.text


def test_rows_are_added_without_javascript_and_bounded(site):
    token = login(site)
    html = site.post("/page/decide", data={**SEED_FORM, "csrf": token, "more": "therapy"}).text
    assert 'name="therapy-2-service"' in html and 'name="therapy-0-region"' in html and 'id="results"' not in html
    html = site.post("/page/decide", data={**SEED_FORM, "csrf": token, "rows-dx": "999", "more": "dx"}).text
    assert 'name="dx-19-code"' in html and 'name="dx-20-code"' not in html


def test_icd10_look_up_by_code_and_by_words_is_bounded(site):
    login(site)
    by_code = site.get("/page/icd10", params={"dx-0-code": "M51.1"}).text
    assert 'value="M51.16"' in by_code
    by_words = site.get("/page/icd10", params={"dx-0-code": "radiculopathy lumbar disc"}).text
    assert 'value="M51.16"' in by_words and by_words.count("<option") <= 20
    assert site.get("/page/icd10", params={"q": "x" * 5000}).status_code == 200
    assert TestClient(site.app).get("/page/icd10?q=M51", follow_redirects=False).status_code == 303


def test_every_template_and_static_file_ships_in_the_wheel():
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["engine.service"]
    folder = ROOT / "engine/service"
    files = [p.relative_to(folder).as_posix() for sub in ("templates", "static") for p in (folder / sub).rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), files


FIELD_NAMES = sorted(SEED_FORM) + ["therapy-0-visits", "px-0-service", "px-0-quantity", "hx-0-visits", "hx-0-last_visit", "sx-0-date",
                                   "rx-0-daily_dose", "rows-therapy", "more", "q.clinical_findings.red_flags",
                                   "q.treatment_history.0.visits_completed", "q.requested_items.0.frequency_per_week", "q.x", "q.injured_worker.age.x"]


def test_any_form_gets_a_decision_or_positioned_messages_never_a_500(site):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    token = login(site)
    text = st.one_of(st.sampled_from(["", "yes", "no", "0", "-1", "2.5", "99999999999999999999", "2015-06-10", "lumbar", "topical", "therapy"]),
                     st.text(max_size=30))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.dictionaries(st.sampled_from(FIELD_NAMES), text, max_size=12))
    def check(changes):
        response = site.post("/page/decide", data={**SEED_FORM, **changes, "csrf": token})
        assert response.status_code in (200, 422), (changes, response.status_code, response.text[-300:])
        if response.status_code == 422:
            assert 'id="problems"' in response.text

    check()
