"""The decision log: one row per determination and one per reviewer action, append-only.

SQLite by default (a file; WAL mode so readers never block the writer), PostgreSQL through a URL;
the same SQLAlchemy Core code runs on both. Append-only is enforced by the database itself
(triggers that abort any UPDATE or DELETE), not by this code's good manners. A determination's row
is committed before its decision id is returned, so an acknowledged decision is never lost.

What a row holds: the decision id, time, engine version, rules digest, a digest of the input, and
each item's decision, reason code and governing rules. The case itself (health information) is
stored only when the operator turns it on (`store_cases`); the rule files a digest names are
stored once per digest (rules are not health information), so `imr replay` can re-decide a stored
input under the very rules it was decided with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, ForeignKey, MetaData, String, Table, Text, create_engine, event, func, insert, select, text
from sqlalchemy.engine import Engine as DB
from sqlalchemy.exc import IntegrityError

metadata = MetaData()

determinations = Table(
    "determinations", metadata,
    Column("decision_id", String(32), primary_key=True),
    Column("decided_at", String(40), nullable=False),
    Column("engine_version", String(64), nullable=False),
    Column("rules_digest", String(64), nullable=False),
    Column("input_digest", String(64), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("items", Text, nullable=False, comment="JSON: [{item_id, decision, reason_code, governing: [rule ids]}]"),
    Column("case_json", Text, nullable=True, comment="the input case as JSON, only when the operator stores cases"),
)

actions = Table(
    "actions", metadata,
    Column("action_id", String(32), primary_key=True),
    Column("decision_id", String(32), ForeignKey("determinations.decision_id"), nullable=False),
    Column("acted_at", String(40), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("item_id", String(64), nullable=False),
    Column("action", String(16), nullable=False, comment="agree | override"),
    Column("final_decision", String(32), nullable=False),
    Column("reason", Text, nullable=True),
)

rule_sets = Table(
    "rule_sets", metadata,
    Column("rules_digest", String(64), primary_key=True),
    Column("files", Text, nullable=False, comment='JSON: {"0/packs/name.yaml": text}, the base folder (0) and each layer (1, 2, ...)'),
)

APPEND_ONLY = ("determinations", "actions", "rule_sets")

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END"
    for t in APPEND_ONLY for op in ("UPDATE", "DELETE")
]
_POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION imr_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'the decision log is append-only'; END $$ LANGUAGE plpgsql",
    *(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in APPEND_ONLY),
    *(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION imr_append_only()" for t in APPEND_ONLY),
]


def database_url(value: str | Path) -> str:
    """A URL as given (postgresql+psycopg://..., sqlite:///...), or a file path for SQLite."""
    value = str(value)
    return value if "://" in value else f"sqlite:///{Path(value).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed row survives a crash of the machine, not only of the process
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")  # several worker processes write one file
    cursor.close()


def open_log(url: str | Path) -> DB:
    """Connect, create the tables if they are missing, and install the append-only triggers."""
    url = database_url(url)
    db = create_engine(url, future=True)
    if db.dialect.name == "sqlite":
        event.listen(db, "connect", _sqlite_pragmas)
    metadata.create_all(db)
    with db.begin() as conn:
        for statement in _SQLITE_TRIGGERS if db.dialect.name == "sqlite" else _POSTGRES_TRIGGERS:
            conn.execute(text(statement))
    return db


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def input_digest(case_json: str) -> str:
    return hashlib.sha256(case_json.encode()).hexdigest()


def item_rows(determination) -> list[dict]:
    """What the log keeps of each item: its decision, reason code and the rules that governed."""
    return [{"item_id": i.item_id, "decision": i.decision, "reason_code": i.reason_code,
             "governing": [r.rule for r in i.rules if r.deciding and r.rank == i.governing_rank]}
            for i in determination.items]


@dataclass(frozen=True)
class Logged:
    decision_id: str
    decided_at: str


def record_rules(db: DB, digest: str, files: dict[str, str]) -> None:
    """Store a rule set once per digest (a second worker storing the same digest is no error)."""
    with db.connect() as conn:
        if conn.execute(select(rule_sets.c.rules_digest).where(rule_sets.c.rules_digest == digest)).first():
            return
    try:
        with db.begin() as conn:
            conn.execute(insert(rule_sets).values(rules_digest=digest, files=json.dumps(files, sort_keys=True)))
    except IntegrityError:
        pass


def record_determination(db: DB, determination, case_json: str, engine_version: str, store_case: bool) -> Logged:
    """Commit one determination's row; only then is its id returned."""
    row = Logged(uuid.uuid4().hex, now())
    with db.begin() as conn:
        conn.execute(insert(determinations).values(
            decision_id=row.decision_id, decided_at=row.decided_at, engine_version=engine_version,
            rules_digest=determination.rules_digest, input_digest=input_digest(case_json),
            jurisdiction=determination.jurisdiction, items=json.dumps(item_rows(determination)),
            case_json=case_json if store_case else None))
    return row


def record_action(db: DB, decision_id: str, reviewer: str, item_id: str, action: str, final_decision: str, reason: str | None) -> Logged:
    row = Logged(uuid.uuid4().hex, now())
    with db.begin() as conn:
        conn.execute(insert(actions).values(
            action_id=row.decision_id, decision_id=decision_id, acted_at=row.decided_at, reviewer=reviewer,
            item_id=item_id, action=action, final_decision=final_decision, reason=reason))
    return row


def determination_row(db: DB, decision_id: str) -> dict | None:
    with db.connect() as conn:
        row = conn.execute(select(determinations).where(determinations.c.decision_id == decision_id)).mappings().first()
    return dict(row) if row else None


def entries(db: DB, limit: int = 100, offset: int = 0) -> list[dict]:
    """Determinations, newest first, each with its actions (the auditor's view; no case content)."""
    with db.connect() as conn:
        rows = conn.execute(select(determinations).order_by(determinations.c.decided_at.desc()).limit(limit).offset(offset)).mappings().all()
        ids = [r["decision_id"] for r in rows]
        acts = conn.execute(select(actions).where(actions.c.decision_id.in_(ids)).order_by(actions.c.acted_at)).mappings().all() if ids else []
    by_id: dict[str, list] = {}
    for a in acts:
        by_id.setdefault(a["decision_id"], []).append({k: a[k] for k in ("action_id", "acted_at", "reviewer", "item_id", "action", "final_decision", "reason")})
    return [{"decision_id": r["decision_id"], "decided_at": r["decided_at"], "engine_version": r["engine_version"],
             "rules_digest": r["rules_digest"], "input_digest": r["input_digest"], "jurisdiction": r["jurisdiction"],
             "items": json.loads(r["items"]), "case_stored": r["case_json"] is not None, "actions": by_id.get(r["decision_id"], [])}
            for r in rows]


def actions_of(db: DB, decision_id: str) -> list[dict]:
    """The reviewer actions recorded on one determination, oldest first."""
    with db.connect() as conn:
        rows = conn.execute(select(actions).where(actions.c.decision_id == decision_id).order_by(actions.c.acted_at)).mappings().all()
    return [dict(r) for r in rows]


def stored_inputs(db: DB):
    """(decision_id, rules_digest, case_json, items) of every determination whose case was stored, oldest first."""
    with db.connect() as conn:
        for r in conn.execute(select(determinations).where(determinations.c.case_json.is_not(None)).order_by(determinations.c.decided_at)).mappings():
            yield r["decision_id"], r["rules_digest"], r["case_json"], json.loads(r["items"])


def rule_set(db: DB, digest: str) -> dict[str, str] | None:
    with db.connect() as conn:
        row = conn.execute(select(rule_sets.c.files).where(rule_sets.c.rules_digest == digest)).first()
    return json.loads(row[0]) if row else None


def count(db: DB) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(determinations)).scalar_one()
