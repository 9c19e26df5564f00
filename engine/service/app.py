"""The HTTP API (FastAPI): the same engine, case model and diagnostics as the command line.

One process loads and compiles the rules once (the compiled-rules cache makes a second worker's
start cheap); durable-rules is process-global, so every route that decides is `async` and runs on
the event loop's one thread: workers are processes (`imr serve --workers N`), never threads.

A case is read from the raw body with the command line's own reader (engine.load.cases), so a bad
case gets 422 with the same positioned messages (`<request>:LINE:COL: CODE message`), never a 500.
Request bodies are bounded (MAX_BODY), JSON depth by that reader. Every route but /v1/health needs
a bearer token (service.auth); the log gets a row before a decision id is returned (service.log).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from engine.decide.pipeline import Engine
from engine.durable.cache import engine_version
from engine.load.cases import case_files, case_from_source, decoded_text, json_source, load_case
from engine.load.paths import DEFAULT_CASES, RulesLocation, locate
from engine.model.case import Case
from engine.model.determination import Determination
from engine.model.diagnostics import Diagnostic, InputError
from engine.service import log as decision_log
from engine.service import lookup, page
from engine.service.auth import Credential, Credentials, allows
from engine.tools.explain import explain_case

LABEL = "<request>"
MAX_BODY = 1_000_000
"""Bytes of a request body; a case is far smaller (a batch line is bounded the same way)."""
logger = logging.getLogger("imr.service")


@dataclass
class Settings:
    """What `imr serve` is given; worker processes read it from the environment (from_env)."""

    db: str = "imr-decisions.sqlite3"
    credentials: str = "imr-credentials.json"
    store_cases: bool = False
    """Store each input case (health information) in the log: off unless the operator turns it on."""
    rules: RulesLocation = field(default_factory=locate)

    ENV = {"db": "IMR_SERVICE_DB", "credentials": "IMR_SERVICE_CREDENTIALS", "store_cases": "IMR_SERVICE_STORE_CASES", "rules": "IMR_SERVICE_RULES"}

    def to_env(self) -> dict[str, str]:
        return {self.ENV["db"]: self.db, self.ENV["credentials"]: self.credentials,
                self.ENV["store_cases"]: "1" if self.store_cases else "", self.ENV["rules"]: str(self.rules.base),
                "IMR_RULE_LAYERS": os.pathsep.join(map(str, self.rules.layers))}

    def __post_init__(self):
        if not isinstance(self.rules, RulesLocation):  # a folder as given on the command line (None: the default)
            self.rules = locate(self.rules)

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(db=env.get(cls.ENV["db"], cls.db), credentials=env.get(cls.ENV["credentials"], cls.credentials),
                   store_cases=bool(env.get(cls.ENV["store_cases"])), rules=locate(env.get(cls.ENV["rules"]) or None))


class Decided(BaseModel):
    """A determination as the log recorded it: its decision id, and the determination itself."""

    model_config = ConfigDict(extra="forbid")
    decision_id: str
    decided_at: str
    determination: Determination


class Problem(BaseModel):
    path: str
    line: int
    col: int
    code: str
    message: str


class Problems(BaseModel):
    """422: every problem of the input, positioned as the command line prints them."""

    detail: str
    problems: list[Problem]


class Action(BaseModel):
    """A reviewer's final action on one item of a logged determination."""

    model_config = ConfigDict(extra="forbid")
    decision_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    item_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    action: str = Field(pattern=r"^(agree|override)$")
    final_decision: str | None = Field(default=None, pattern=r"^(Upheld|Overturned|No rule applies|Not covered)$")
    """For an override: the reviewer's decision."""
    reason: str | None = Field(default=None, max_length=4000)
    """Required for an override."""


class Recorded(BaseModel):
    action_id: str
    acted_at: str


class BodyTooLarge(InputError):
    """A request body over MAX_BODY: 413, where every other input problem is 422."""


def _problems(diagnostics: list[Diagnostic], status: int = 422) -> JSONResponse:
    """Every problem of the input, positioned as the command line prints them."""
    body = Problems(detail=str(diagnostics[0]), problems=[Problem(**asdict(d)) for d in diagnostics])
    return JSONResponse(body.model_dump(), status_code=status)


def _rule_files(where: RulesLocation) -> dict[str, str]:
    """The files a rule base was read from (base folder 0, layers 1...), for the log's rule sets."""
    out = {}
    for n, folder in enumerate(where.folders()):
        for kind in ("packs", "profiles", "vocabulary"):
            for path in sorted((folder / kind).glob("*.y*ml")) if (folder / kind).is_dir() else ():
                out[f"{n}/{kind}/{path.name}"] = path.read_bytes().decode("utf-8")  # no newline translation: replay rebuilds the same digest
    return out


class Service:
    """The process's engine, log and credentials (made once, at start-up)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = Engine(settings.rules)
        self.engine_version = engine_version()[:16]
        self.db = decision_log.open_log(settings.db)
        decision_log.record_rules(self.db, self.engine.base.digest, _rule_files(settings.rules))
        self.credentials = Credentials.load(settings.credentials)

    def reload(self) -> None:
        self.engine = Engine(self.settings.rules)
        decision_log.record_rules(self.db, self.engine.base.digest, _rule_files(self.settings.rules))
        self.credentials = Credentials.load(self.settings.credentials)


async def read_case(request: Request) -> tuple[Case, str]:
    """The case in the body, read as the command line reads a `.json` case file (the same UTF-8
    and NUL-byte check, load.cases.decoded_text)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge([Diagnostic(LABEL, 1, 1, "Y001", f"the request body is over {MAX_BODY:,} bytes")])
    raw = decoded_text(bytes(body), LABEL)
    return case_from_source(json_source(raw, LABEL)), raw


CASE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Case"}}}}}


def _case_in_openapi(app: FastAPI) -> None:
    """The request body is read raw (for positioned errors) but documented as the case model."""
    made = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = made()
            case = Case.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for name, sub in case.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas["Case"] = case
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    service = Service(settings)
    app = FastAPI(title="IMR guideline rules engine", version="1", summary="Likely IMR/IRO decision per requested item, with rationale and citations.")
    app.state.service = service
    _case_in_openapi(app)

    def credential(request: Request) -> Credential:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        found = service.credentials.by_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if found is None:
            raise HTTPException(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
        return found

    def role(needed: str):
        def check(who: Credential = Depends(credential)) -> Credential:
            if not allows(who, needed):
                raise HTTPException(403, "forbidden")
            return who
        return check

    @app.exception_handler(InputError)
    async def _bad_input(_request, exc: InputError):
        return _problems(exc.diagnostics, 413 if isinstance(exc, BodyTooLarge) else 422)

    @app.exception_handler(OperationalError)
    async def _log_unwritable(_request, exc: OperationalError):
        """The log cannot take the row (a full disk, a locked or lost database): no decision id is
        given for a decision that is not recorded; the client may retry."""
        logger.error("decision log not written: %s", str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__)
        return JSONResponse({"detail": "the decision log cannot be written: nothing was recorded; retry later"},
                            status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(Exception)
    async def _fault(_request, exc: Exception):  # one line in the application log, never the case
        logger.error("internal error: %s", type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/v1/health")
    async def health() -> dict:
        """Liveness: no credential needed, nothing about the rules or the log."""
        return {"status": "ok"}

    @app.get("/v1/ready")
    async def ready(_who: Credential = Depends(role("reviewer"))) -> dict:
        """Readiness: the rules are compiled and the log answers."""
        with service.db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ready", "rules_digest": service.engine.base.digest, "rules": len(service.engine.base.rules),
                "engine_version": service.engine_version}

    @app.post("/v1/determinations", response_model=Decided, openapi_extra=CASE_BODY,
              responses={422: {"model": Problems}, 401: {}, 403: {}})
    async def determinations(request: Request, _who: Credential = Depends(role("reviewer"))) -> Decided:
        """Decide a case (the case model of the case files, as JSON). The decision id is returned
        only after the log's row is committed."""
        case, raw = await read_case(request)
        determination = service.engine.decide(case)
        logged = decision_log.record_determination(service.db, determination, raw, service.engine_version, settings.store_cases)
        decided = Decided(decision_id=logged.decision_id, decided_at=logged.decided_at, determination=determination)
        return Response(decided.model_dump_json(), media_type="application/json")  # pydantic's own JSON: 0.04 ms for the seed, FastAPI's encoder 0.9 ms

    @app.post("/v1/explain", openapi_extra=CASE_BODY, responses={422: {"model": Problems}})
    async def explain(request: Request, budget_seconds: float = 10.0, _who: Credential = Depends(role("reviewer"))) -> list[dict]:
        """The trace of each item, and for an Upheld item the smallest documentation that would
        change it (the search bounded by `budget_seconds`, at most 60)."""
        case, _ = await read_case(request)
        items = explain_case(service.engine, case, budget_seconds=min(max(budget_seconds, 0.1), 60.0), budget_runs=2000)
        return json.loads(json.dumps([asdict(i) for i in items], default=str))

    @app.get("/v1/rules")
    async def rules(_who: Credential = Depends(role("reviewer"))) -> list[dict]:
        """Every rule with its citation and edition."""
        return [_rule_summary(r) for r in service.engine.base.rules]

    @app.get("/v1/rules/{rule_id:path}", responses={404: {}})
    async def rule(rule_id: str, _who: Credential = Depends(role("reviewer"))) -> dict:
        """One rule: citation, edition, what silence means, and the case files that pin it."""
        found = next((r for r in service.engine.base.rules if r.rule.id == rule_id), None)
        if found is None:
            raise HTTPException(404, "no such rule")
        return {**_rule_summary(found), "pinned_by": _pins().get(rule_id, [])}

    def apply_action(body: Action, reviewer: str) -> Recorded:
        """Record a reviewer's action (the API's and the page's one path): LookupError for an
        unknown decision, ValueError for an action that does not fit it."""
        row = decision_log.determination_row(service.db, body.decision_id)
        if row is None:
            raise LookupError("no such decision")
        items = {i["item_id"]: i for i in json.loads(row["items"])}
        if body.item_id not in items:
            raise ValueError(f"the decision has no item {body.item_id}")
        if body.action == "override" and (not body.reason or not body.final_decision):
            raise ValueError("an override needs a final_decision and a reason")
        final = body.final_decision if body.action == "override" else items[body.item_id]["decision"]
        logged = decision_log.record_action(service.db, body.decision_id, reviewer, body.item_id, body.action, final, body.reason)
        return Recorded(action_id=logged.decision_id, acted_at=logged.decided_at)

    @app.post("/v1/actions", response_model=Recorded, responses={404: {}, 422: {}})
    async def record_action(body: Action, who: Credential = Depends(role("reviewer"))) -> Recorded:
        """The reviewer's final action on an item: agree, or override with a reason."""
        try:
            return apply_action(body, who.name)
        except LookupError:
            raise HTTPException(404, "no such decision") from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    def page_action(fields: dict, reviewer: str) -> Recorded:
        """The page's action form, checked by the API's own model (its messages, one line)."""
        try:
            body = Action(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{'.'.join(map(str, first['loc'])) or 'action'}: {first['msg']}") from None
        try:
            return apply_action(body, reviewer)
        except LookupError as exc:
            raise ValueError(str(exc)) from None

    @app.get("/v1/icd10")
    async def icd10(q: str = Query("", max_length=lookup.MAX_QUERY), _who: Credential = Depends(role("reviewer"))) -> list[dict]:
        """ICD-10-CM billable codes whose code starts with `q` or whose description holds its words (at most 20)."""
        return [{"code": code, "description": text} for code, text in lookup.lookup(q)]

    @app.get("/v1/log")
    async def read_log(limit: int = 100, offset: int = 0, _who: Credential = Depends(role("auditor"))) -> list[dict]:
        """Determinations, newest first, with their actions (no case content)."""
        return decision_log.entries(service.db, limit=min(max(limit, 1), 1000), offset=max(offset, 0))

    @app.post("/v1/reload")
    async def reload(_who: Credential = Depends(role("admin"))) -> dict:
        """Reload the rules (and the credentials file) in this worker process."""
        service.reload()
        return {"rules_digest": service.engine.base.digest, "rules": len(service.engine.base.rules)}

    def _rule_summary(r) -> dict:
        p, rule = r.pack, r.rule
        return {"id": rule.id, "title": rule.title, "pack": p.pack, "guideline": p.guideline, "document": p.document,
                "edition": p.edition, "section": rule.section, "pages": rule.pages, "silence": rule.silence,
                "effective": {"from": p.effective.from_.isoformat(), "to": p.effective.to.isoformat() if p.effective.to else None}}

    pins: dict[str, list[str]] = {}

    def _pins() -> dict[str, list[str]]:
        """rule id -> the case files whose expectations name it (the project's corpus, read once)."""
        if not pins:
            for path in case_files([DEFAULT_CASES]) if DEFAULT_CASES.is_dir() else []:
                try:
                    case = load_case(path)
                except InputError:
                    continue
                for e in case.expectations().values():
                    for rid in [*e.governing, *e.not_fired]:
                        pins.setdefault(rid, []).append(str(path.relative_to(DEFAULT_CASES)))
            pins.setdefault("", [])
        return pins

    page.mount(app, service, page_action, LABEL)
    return app
