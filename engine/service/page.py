"""The pre-screen page: the same app, engine and decision log as the API, for a reviewer with no YAML.

Server-rendered (jinja2, autoescaped) plain forms; the vendored htmx (static/htmx.min.js, see
static/VENDORED.md) only makes an answer to a question re-decide at once and fills the ICD-10-CM
look-up, and every form also works without it. A page login (`imr token NAME --password`) gets a
signed session cookie (HttpOnly, SameSite=Strict, 8 hours; Starlette's SessionMiddleware) holding
who it is and a CSRF token that every form posts back. A form becomes a case (service.form),
is read by the API's own reader (the same positioned messages on bad input), decided by the one
engine and logged before the page shows its decision id; questions come from service.questions.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.middleware.sessions import SessionMiddleware

from engine.load.cases import case_from_source, json_source
from engine.model.diagnostics import Diagnostic, InputError
from engine.model.enums import FORMS, REGIONS
from engine.service import form as case_form
from engine.service import log as decision_log
from engine.service.auth import RANK
from engine.service.lookup import MAX_MATCHES, description, lookup
from engine.service.questions import questions

HERE = Path(__file__).resolve().parent
SESSION_HOURS = 8
STATUS_WORDS = {"met": "met", "not_met": "not met", "not_documented": "not documented"}
FINAL_DECISIONS = ("Upheld", "Overturned", "No rule applies", "Not covered")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)


def session_key(credentials: str | Path) -> str:
    """The key that signs session cookies: IMR_SESSION_KEY, else a random key kept beside the
    credentials file (made once, owner-only; every worker process reads the same one)."""
    if os.environ.get("IMR_SESSION_KEY"):
        return os.environ["IMR_SESSION_KEY"]
    path = Path(f"{credentials}.session-key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class NotAllowed(Exception):
    def __init__(self, status: int):
        self.status = status


def mount(app: FastAPI, service, apply_action, label: str) -> None:
    """Add the page's routes, its static files and the session middleware to the API's app."""
    settings = service.settings
    app.add_middleware(SessionMiddleware, secret_key=session_key(settings.credentials), session_cookie="imr_session",
                       max_age=SESSION_HOURS * 3600, same_site="strict", https_only=bool(os.environ.get("IMR_SESSION_SECURE")))
    app.mount("/page/static", StaticFiles(directory=HERE / "static"), name="page-static")

    def render(name: str, request: Request, status: int = 200, **context) -> HTMLResponse:
        body = templates.get_template(name).render(user=request.session.get("user"), role=request.session.get("role"),
                                                   csrf=_csrf(request), **context)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def who(request: Request, needed: str = "reviewer") -> str:
        """The logged-in name (its login still in the credentials file, its role enough), else NotAllowed."""
        name, role = request.session.get("user"), request.session.get("role")
        if not name or not any(e.kind == "password" and e.name == name and e.role == role for e in service.credentials.entries):
            raise NotAllowed(401)
        if RANK[role] < RANK[needed]:
            raise NotAllowed(403)
        return name

    async def posted(request: Request) -> tuple[dict[str, str], list[Diagnostic]]:
        """The form's fields, bounded, after the CSRF check (NotAllowed(403) when it fails)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > case_form.MAX_BODY:
                return {}, [Diagnostic(case_form.FORM, 1, 1, "Y001", f"the form is over {case_form.MAX_BODY:,} bytes")]
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=case_form.MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            return {}, [Diagnostic(case_form.FORM, 1, 1, "E003", f"not a form of at most {case_form.MAX_FIELDS:,} UTF-8 fields")]
        values, problems = case_form.values_of(pairs)
        expected = request.session.get("csrf", "")
        if not expected or not hmac.compare_digest(values.get("csrf", ""), expected):
            raise NotAllowed(403)
        return values, problems

    def page_context(values: dict[str, str], more: str | None = None) -> dict:
        vocab = service.engine.base.vocabulary
        services = vocab.services.services
        return {
            "v": values, "rows": {s: case_form.rows(values, s, more) for s in case_form.SECTIONS},
            "jurisdictions": [(code, p.name) for code, p in sorted(service.engine.base.profiles.items())],
            "therapy_services": sorted((k, s.title) for k, s in services.items() if s.type == "therapy"),
            "procedure_services": sorted((k, s.title) for k, s in services.items() if s.type == "procedure"),
            "all_services": sorted((k, s.title) for k, s in services.items()),
            "procedures": sorted((k, getattr(p, "title", k)) for k, p in vocab.procedures.procedures.items()),
            "drugs": sorted(vocab.drugs.drugs), "regions": REGIONS, "forms": FORMS, "clinical": case_form.CLINICAL,
            "worker": case_form.WORKER, "case_id": values.get("case_id") or f"page-{secrets.token_hex(6)}",
            "final_decisions": FINAL_DECISIONS, "max_matches": MAX_MATCHES,
        }

    def decided_view(case, determination, answers: dict[str, str], base_case=None, base_determination=None) -> list[dict]:
        """Per item: decision, criteria of the governing tier with citations, rationale, questions."""
        asked = questions(service.engine, case, determination, answers)
        if base_case is not None:  # answered questions stay on the page though their facts are now documented
            for item_id, qs in questions(service.engine, base_case, base_determination, answers).items():
                have = {q.path for q in asked.get(item_id, [])}
                asked.setdefault(item_id, []).extend(q for q in qs if q.path not in have)
        shown: dict[str, str] = {}
        out = []
        for item in determination.items:
            criteria, other, seen = [], [], set()
            for o in item.rules:
                key = (o.rule, o.subject, o.status, o.rank)
                if key in seen:
                    continue
                seen.add(key)
                parsed = service.engine.base.rule(o.rule)
                pack, rule = parsed.pack, parsed.rule
                row = {"rule": o.rule, "title": rule.title, "subject": o.subject, "status": STATUS_WORDS.get(o.status, o.status),
                       "status_code": o.status, "guideline": f"{pack.guideline} {pack.document} ({pack.edition})",
                       "section": rule.section, "pages": rule.pages, "deciding": o.deciding}
                (criteria if o.rank == item.governing_rank else other).append(row)
            qs = []
            for q in asked.get(item.item_id, []):
                qs.append({"q": q, "owner": shown.setdefault(q.path, item.item_id)})
            out.append({"item": item, "criteria": criteria, "other": other, "questions": qs})
        return out

    def decide_form(values: dict[str, str], problems: list[Diagnostic]):
        """(case, raw JSON, answers, base case) from the form, or the problems (InputError)."""
        built = case_form.build_case(values, service.engine.base.vocabulary, description)
        problems = problems + built.problems
        if problems:
            raise InputError(problems)
        raw = json.dumps(built.data, indent=1)
        case = case_from_source(json_source(raw, label))
        base = None
        if any(built.answers.values()):
            unanswered = case_form.build_case({k: v for k, v in values.items() if not k.startswith("q.")}, service.engine.base.vocabulary, description)
            try:
                base = case_from_source(json_source(json.dumps(unanswered.data, indent=1), label))
            except InputError:
                base = None
        return case, raw, built.answers, base

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed):
        if exc.status == 401:
            return RedirectResponse("/page/login", status_code=303)
        return HTMLResponse("forbidden", status_code=403, headers=SECURITY_HEADERS)

    @app.get("/page", include_in_schema=False)
    async def page(request: Request):
        who(request)
        return render("page.html", request, **page_context({}))

    @app.get("/page/login", include_in_schema=False)
    async def login_form(request: Request):
        return render("login.html", request)

    @app.post("/page/login", include_in_schema=False)
    async def login(request: Request):
        values, problems = await posted(request)
        found = None if problems else service.credentials.by_password(values.get("name", "")[:200], values.get("password", "")[:1000])
        if found is None:
            return render("login.html", request, status=401, failed=True)
        request.session.clear()
        request.session.update(user=found.name, role=found.role, csrf=secrets.token_urlsafe(32))
        return RedirectResponse("/page", status_code=303)

    @app.post("/page/logout", include_in_schema=False)
    async def logout(request: Request):
        await posted(request)
        request.session.clear()
        return RedirectResponse("/page/login", status_code=303)

    @app.get("/page/icd10", include_in_schema=False)
    async def icd10(request: Request):
        """Matches for whatever look-up field sent its value (htmx sends the field's own name)."""
        who(request)
        query = next((v for k, v in request.query_params.multi_items() if k == "q" or k.startswith("dx-")), "")
        options = templates.get_template("icd_options.html").render(matches=lookup(query[:200]))
        return HTMLResponse(options, headers=SECURITY_HEADERS)

    @app.post("/page/decide", include_in_schema=False)
    async def decide(request: Request):
        name = who(request)
        values, problems = await posted(request)
        more = values.get("more")
        if more in case_form.SECTIONS:
            return render("page.html", request, **page_context(values, more))
        try:
            case, raw, answers, base = decide_form(values, problems)
        except InputError as exc:
            return render("page.html", request, status=422, problems=[str(d) for d in exc.diagnostics], **page_context(values))
        determination = service.engine.decide(case)
        logged = decision_log.record_determination(service.db, determination, raw, service.engine_version, settings.store_cases)
        base_determination = service.engine.decide(base) if base is not None else None
        return render("page.html", request, decided=decided_view(case, determination, answers, base, base_determination),
                      determination=determination, logged=logged, reviewer=name, **page_context(values))

    @app.post("/page/action", include_in_schema=False)
    async def action(request: Request):
        name = who(request)
        values, problems = await posted(request)
        item_id = values.get("act", "")
        kind = values.get(f"action-{item_id}", "")
        body = {"decision_id": values.get("decision_id", ""), "item_id": item_id, "action": kind,
                "final_decision": values.get(f"final-{item_id}") if kind == "override" else None,
                "reason": values.get(f"reason-{item_id}", "").strip() or None}
        try:
            recorded = apply_action(body, name)
        except ValueError as exc:
            return render("page.html", request, status=422, problems=[f"{case_form.FORM}:1:1: E002 {exc}"], **page_context(values))
        context = {"recorded": {**body, **recorded.model_dump()}}
        row = decision_log.determination_row(service.db, body["decision_id"])
        try:  # show the decision again if the form still holds the logged input (the engine is deterministic)
            case, raw, answers, base = decide_form(values, problems)
            if row and decision_log.input_digest(raw) == row["input_digest"] and row["rules_digest"] == service.engine.base.digest:
                determination = service.engine.decide(case)
                base_determination = service.engine.decide(base) if base is not None else None
                context.update(decided=decided_view(case, determination, answers, base, base_determination), determination=determination,
                               logged=decision_log.Logged(row["decision_id"], row["decided_at"]))
        except InputError:
            pass
        context["actions"] = decision_log.actions_of(service.db, body["decision_id"])
        return render("page.html", request, **context, **page_context(values))

    @app.get("/page/log", include_in_schema=False)
    async def log_page(request: Request, offset: int = 0):
        who(request, "auditor")
        offset = max(0, min(offset, 10**9))
        return render("log.html", request, entries=decision_log.entries(service.db, limit=50, offset=offset), offset=offset)


def _csrf(request: Request) -> str:
    """The session's CSRF token (made on the first page a visitor sees: the login form posts it too)."""
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]

