"""Synthetic rule bases for the benchmark and the sharding tests: a rules folder with N rules in one
topic, written to a temporary folder (never into guideline_rules/).

`grow(out, rules)` copies a rules folder (the project's by default) and adds *filler* packs to the
topic `physical_medicine` until the topic holds `rules` guideline rules: each filler pack addresses
its own synthetic therapy service (`synthetic_therapy_K`, added to the vocabulary with that topic)
and carries physical-therapy-shaped rules (visit allowances by diagnosis group, functional
improvement for continued therapy, frequency). So an item of the real services meets exactly the
rules it met before, and the growth measures what the extra rules of the topic cost an item they
cannot address. `big_pack(...)` instead writes one pack with many rules that all address the same
item, chained on finding labels, for the compile-time split of a large pack.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from engine.load.paths import DEFAULT_RULES

TOPIC = "physical_medicine"
_GROUPS = ("myalgia_myositis", "neuritis_radiculitis", "crps", "radiculopathy", "osteoarthritis", "tendinitis",
           "disc_disorder", "spinal_pain", "sprain_strain", "spinal_stenosis", "fracture", "meniscus_tear",
           "rotator_cuff", "carpal_tunnel", "neuropathic", "myelopathy", "adhesive_capsulitis", "shoulder_dislocation")
RULES_PER_FILLER = 24


def _rationale(what: str) -> dict:
    return {"met": f"{what}: met.", "not_met": f"{what}: not met.", "not_documented": f"{what}: not documented."}


def filler_rules(k: int, count: int, prefix: str = "syn") -> list[dict]:
    """`count` physical-therapy-shaped rules of filler pack `k` (ids unique across packs)."""
    rules = []
    for n in range(count):
        kind = n % 4
        group = _GROUPS[(n // 4 + k) % len(_GROUPS)]
        rid = f"{prefix}{k}.r{n}"
        if kind == 0:
            rule = {"when": f"dx.{group} == true", "require": f"history.visits_total <= {8 + (n + k) % 17}",
                    "what": f"Visit allowance for {group.replace('_', ' ')}"}
        elif kind == 1:
            rule = {"when": "history.prior == true", "require": "history.functional_improvement == true"
                    if n % 8 == 1 else f"history.visits_completed <= {6 + (n + k) % 13}", "what": "Continued therapy"}
        elif kind == 2:
            rule = {"when": "item.frequency_per_week is documented", "require": f"item.frequency_per_week <= {2 + (n + k) % 3}",
                    "what": "Frequency"}
        else:
            rule = {"when": f"dx.{group} == true and patient.chronic == true",
                    "require": "clinical.acute_flare_up == true or history.home_exercise_program == false",
                    "what": f"Chronic {group.replace('_', ' ')}"}
        rules.append({"id": rid, "title": f"{rule['what']} (synthetic {k}.{n})", "section": "Synthetic", "pages": str(1 + n),
                      "when": rule["when"], "require": rule["require"], "rationale": _rationale(rule["what"]),
                      "documentation": [f"Documentation for {rule['what'].lower()}"]})
    return rules


def _pack(k: int, service: str, rules: list[dict], guideline: str = "ODG") -> dict:
    return {"pack": f"synthetic-{k}", "title": f"Synthetic guideline {k}", "guideline": guideline,
            "document": f"Synthetic guideline {k}", "edition": "2015", "effective": {"from": dt.date(2009, 7, 18), "to": dt.date(2018, 12, 31)},
            "topic": TOPIC, "addresses": [{"applies_to": {"type": ["therapy"], "service": [service]}}],
            "rules": [{"silence": "requirement", **r} for r in rules]}


def _copy(out: Path, source: Path | None) -> Path:
    source = Path(source or DEFAULT_RULES)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out)
    return out


def _add_services(root: Path, services: list[str]) -> None:
    path = root / "vocabulary" / "services.yaml"
    data = yaml.safe_load(path.read_text())
    for name in services:
        data["services"][name] = {"type": "therapy", "topic": TOPIC, "title": name.replace("_", " ").capitalize()}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def topic_rules(root: Path) -> int:
    """Guideline rules of the topic in a rules folder (packs of the topic itself)."""
    count = 0
    for path in sorted((Path(root) / "packs").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data.get("topic") == TOPIC:
            count += len(data.get("rules") or [])
    return count


def grow(out: Path, rules: int, source: Path | None = None, keep_packs: list[str] | None = None) -> Path:
    """A copy of `source` whose topic holds `rules` guideline rules (at least what it holds already).

    keep_packs: the pack files to keep (by file stem); None keeps every pack.
    """
    root = _copy(out, source)
    if keep_packs is not None:
        for path in (root / "packs").glob("*.yaml"):
            if path.stem not in keep_packs:
                path.unlink()
    have = topic_rules(root)
    services = []
    k = 0
    while have < rules:
        count = min(RULES_PER_FILLER, rules - have)
        service = f"synthetic_therapy_{k}"
        services.append(service)
        (root / "packs" / f"synthetic-{k}.yaml").write_text(yaml.safe_dump(_pack(k, service, filler_rules(k, count)), sort_keys=False))
        have += count
        k += 1
    if services:
        _add_services(root, services)
    return root


def big_pack(out: Path, rules: int, source: Path | None = None, chained: int = 40) -> Path:
    """A copy of `source` with one more pack of `rules` rules, all addressing physical therapy of a
    synthetic service, `chained` of them producing a labelled finding that one rule consumes."""
    root = _copy(out, source)
    body = filler_rules(0, rules - chained - 1, prefix="big")
    for n in range(chained):
        group = _GROUPS[n % len(_GROUPS)]
        body.append({"id": f"big.label{n}", "title": f"Labelled {n}", "section": "Synthetic", "pages": "1",
                     "when": f"dx.{group} == true", "outcome": "not_met", "decides": False, "label": "flagged",
                     "rationale": {"not_met": f"Flagged for {group.replace('_', ' ')}."}})
    body.append({"id": "big.flagged", "title": "Any flagged diagnosis is not supported", "section": "Synthetic", "pages": "2",
                 "when": 'finding.label == "flagged"', "outcome": "not_met",
                 "rationale": {"not_met": "A flagged diagnosis is documented."}})
    pack = _pack(0, "synthetic_therapy_big", body)
    pack["pack"] = "synthetic-big"
    (root / "packs" / "synthetic-big.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    _add_services(root, ["synthetic_therapy_big"])
    return root
