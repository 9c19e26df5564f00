"""`imr replay`: re-decide the inputs stored in the decision log and report every decision that
differs from the one logged.

By default each input is re-decided with the rules it was decided under (the rule set the log
stored for its digest): a difference then means the engine is not reproducible. With `current`,
every input is re-decided with the rules given now (`--rules`, `--layer`), and the differences are
the decisions a rule edit moves.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.decide.pipeline import Engine
from engine.load.cases import case_from_source, json_source
from engine.load.paths import RulesLocation
from engine.service import log as decision_log


@dataclass
class Moved:
    decision_id: str
    item_id: str
    logged: str
    now: str


@dataclass
class Replay:
    replayed: int = 0
    items: int = 0
    without_input: int = 0
    moved: list[Moved] = field(default_factory=list)


def _materialise(files: dict[str, str], into: Path) -> RulesLocation:
    folders: dict[int, Path] = {}
    for key, text in files.items():
        index, kind, name = key.split("/", 2)
        folder = folders.setdefault(int(index), into / f"folder{index}")
        (folder / kind).mkdir(parents=True, exist_ok=True)
        (folder / kind / name).write_bytes(text.encode("utf-8"))  # byte for byte: the digest must come out the same
    ordered = [folders[i] for i in sorted(folders)]
    for folder in ordered:
        (folder / "packs").mkdir(parents=True, exist_ok=True)
    return RulesLocation(ordered[0], tuple(ordered[1:]))


def replay(db_url: str, current: RulesLocation | None = None) -> Replay:
    db = decision_log.open_log(db_url)
    result = Replay()
    engines: dict[str, Engine] = {}
    with tempfile.TemporaryDirectory(prefix="imr-replay-") as scratch:
        now_engine = Engine(current) if current is not None else None
        total = decision_log.count(db)
        for decision_id, digest, case_json, items in decision_log.stored_inputs(db):
            engine = now_engine
            if engine is None:
                if digest not in engines:
                    files = decision_log.rule_set(db, digest)
                    if files is None:
                        raise LookupError(f"the log holds no rule set for digest {digest}")
                    engines[digest] = Engine(_materialise(files, Path(scratch) / digest))
                engine = engines[digest]
            case = case_from_source(json_source(case_json, f"log:{decision_id}"))
            determination = engine.decide(case)
            result.replayed += 1
            logged = {i["item_id"]: i["decision"] for i in items}
            for item in determination.items:
                result.items += 1
                if logged.get(item.item_id) != item.decision:
                    result.moved.append(Moved(decision_id, item.item_id, logged.get(item.item_id, "(absent)"), item.decision))
        result.without_input = total - result.replayed
    return result
