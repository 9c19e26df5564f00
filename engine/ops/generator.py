"""Seeded case generator: realistic, valid cases for property tests, batches and the benchmark.

Cases are drawn from the rule base's own vocabulary (diagnosis prefixes, services, drugs,
procedures), so they stay valid as helpers add vocabulary, and mix what reviewers see: therapy
requests with and without prior visits, postsurgical requests, topical compounds, single agents,
procedures, facts documented true, false or not at all. The same seed gives the same cases in any
process. `imr generate --cases N --seed S` writes them as JSON Lines (the batch input format).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from pathlib import Path

from engine.model.icd10_releases import billable, in_force
from engine.model.vocabulary import Vocabulary

ND = "not documented"
THERAPY_REGIONS = ["lumbar", "cervical", "lumbar", "cervical", "knee", "shoulder", "thoracic", "wrist_hand", "hip"]
_TRI_FINDINGS = ["acute_flare_up", "new_injury", "red_flags", "neurological_change", "radiculopathy_on_exam",
                 "imaging_corroborates_radiculopathy", "functional_baseline_and_goals", "gi_risk_factors", "aberrant_behaviour"]


def _tri(rng: random.Random, p_documented: float = 0.6):
    """true / false / not documented, with 'not documented' as common as real records make it."""
    return rng.choice([True, False]) if rng.random() < p_documented else ND


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))


class CaseGenerator:
    """Generates case dicts (JSON-ready: dates as ISO text) from a vocabulary and a seed."""

    def __init__(self, vocab: Vocabulary, seed: int = 0):
        self.rng = random.Random(seed)
        self.seed = seed
        self.count = 0
        self.dx_by_region: dict[str, list[str]] = {}
        for code, entry in vocab.diagnoses.prefixes.items():
            self.dx_by_region.setdefault(entry.region, []).append(code)
        self.therapies = sorted(k for k, s in vocab.services.services.items() if s.type == "therapy")
        self.procedures = sorted(k for k, s in vocab.services.services.items() if s.type == "procedure")
        self.surgeries: dict[str, list[str]] = {}
        for key, proc in vocab.procedures.procedures.items():
            self.surgeries.setdefault(proc.region, []).append(key)
        self.drugs = sorted(vocab.drugs.drugs)
        self.topical = [d for d in ("diclofenac", "ketoprofen", "flurbiprofen", "lidocaine", "capsaicin", "gabapentin",
                                    "baclofen", "cyclobenzaprine", "ketamine", "menthol", "methyl_salicylate") if d in vocab.drugs.drugs]
        self.oral = [d for d in self.drugs if d not in ("sodium_hyaluronate", "bupivacaine", "prilocaine", "menthol", "camphor", "capsaicin", "methyl_salicylate")]

    def case(self) -> dict:
        rng = self.rng
        self.count += 1
        request = _day(rng, dt.date(2006, 1, 1), dt.date(2021, 12, 31)) if rng.random() < 0.1 else _day(rng, dt.date(2010, 1, 1), dt.date(2016, 6, 30))
        injury = request - dt.timedelta(days=rng.randrange(20, 4000))
        regions = rng.sample(THERAPY_REGIONS[:4] + THERAPY_REGIONS[4:], k=rng.choice([1, 1, 2, 2, 3]))
        case: dict = {
            "case_id": f"gen-{self.seed}-{self.count}",
            "jurisdiction": "TX" if rng.random() < 0.1 else "CA",
            "request_date": request.isoformat(),
            "injured_worker": {"age": rng.randrange(18, 75), "sex": rng.choice(["female", "male", ND]),
                               "date_of_injury": injury.isoformat() if injury.year >= 1980 and rng.random() < 0.9 else ND},
        }
        diagnoses = []
        for region in regions:
            codes = self.dx_by_region.get(region) or self.dx_by_region.get("multiple") or []
            codes = [c for c in codes if in_force(c, request) and billable(c, request)]  # billable codes of the release in force that day
            for code in rng.sample(codes, k=min(len(codes), rng.choice([1, 1, 2]))):
                diagnoses.append({"code": code, "text": f"Diagnosis {code}"})
        case["diagnoses"] = diagnoses
        case["body_regions"] = regions
        surgeries = []
        for region in regions:
            if region in self.surgeries and rng.random() < 0.25:
                date = request - dt.timedelta(days=rng.randrange(7, 900))
                surgeries.append({"procedure": rng.choice(self.surgeries[region]), "region": region,
                                  "date": date.isoformat() if rng.random() < 0.8 else ND})
        case["surgeries"] = surgeries
        case["treatment_history"] = [self._history(region, request) for region in regions if rng.random() < 0.7]
        clinical = {name: _tri(rng) for name in _TRI_FINDINGS if rng.random() < 0.7}
        if rng.random() < 0.7:
            clinical["pain_score"] = rng.randrange(0, 11)
        case["clinical_findings"] = clinical
        case["medications"] = [self._medication(request) for _ in range(rng.choice([0, 1, 2, 3, 4]))]
        items = []
        for n in range(rng.choice([1, 2, 3, 3, 4, 5])):
            items.append(self._item(f"item-{n}", rng.choice(regions)))
        case["requested_items"] = items
        return case

    def _history(self, region: str, request: dt.date) -> dict:
        rng = self.rng
        line = {"service": rng.choice(["physical_therapy"] * 4 + self.therapies), "region": region,
                "visits_completed": rng.randrange(0, 40) if rng.random() < 0.7 else ND,
                "functional_improvement": _tri(rng), "home_exercise_program": _tri(rng)}
        if rng.random() < 0.4:
            line["last_visit"] = (request - dt.timedelta(days=rng.randrange(1, 400))).isoformat()
        if rng.random() < 0.2:
            line["pain_relief_percent"] = rng.randrange(0, 101)
        return line

    def _medication(self, request: dt.date) -> dict:
        rng = self.rng
        drug = rng.choice(self.oral)
        med = {"name": drug.replace("_", " ").title(), "drug": drug, "status": rng.choice(["current", "current", "past"]),
               "outcome": rng.choice(["effective", "failed", "not tolerated", ND, ND]), "functional_improvement": _tri(rng, 0.4)}
        if rng.random() < 0.5:
            med["since"] = (request - dt.timedelta(days=rng.randrange(1, 1500))).isoformat()
        return med

    def _item(self, item_id: str, region: str) -> dict:
        rng = self.rng
        kind = rng.random()
        if kind < 0.55:
            service = rng.choice(["physical_therapy"] * 6 + ["occupational_therapy"] * 2 + self.therapies)
            item = {"type": "therapy", "id": item_id, "description": f"{service.replace('_', ' ')} for the {region} region",
                    "service": service, "region": region}
            if rng.random() < 0.8:
                item["frequency_per_week"] = rng.choice([1, 2, 2, 3, 3])
                item["duration_weeks"] = rng.choice([2, 3, 4, 4, 6, 8])
            else:
                item["visits"] = rng.choice([6, 8, 10, 12, 18, 24])
            return item
        if kind < 0.85:
            if rng.random() < 0.5:
                drugs = rng.sample(self.topical, k=rng.randrange(2, min(6, len(self.topical)) + 1))
                return {"type": "medication", "id": item_id, "description": "Compounded topical " + ", ".join(drugs),
                        "form": "topical", "compounded": True, "region": region,
                        "ingredients": [{"drug": d, "strength": f"{rng.choice([1, 2, 5, 10, 20])}%"} for d in drugs],
                        "refills": rng.choice([0, 0, 1, 3])}
            drug = rng.choice(self.topical)
            form = "patch" if drug == "lidocaine" and rng.random() < 0.7 else "topical"
            return {"type": "medication", "id": item_id, "description": f"{drug.replace('_', ' ')} {form}", "form": form,
                    "region": region, "ingredients": [{"drug": drug}], "duration_weeks": rng.choice([2, 4, 8, 12])}
        service = rng.choice(self.procedures) if self.procedures else "tens_unit"
        return {"type": "procedure", "id": item_id, "description": f"{service.replace('_', ' ')} for the {region} region",
                "service": service, "region": region}

    def cases(self, count: int):
        for _ in range(count):
            yield self.case()


def generate_lines(vocab: Vocabulary, count: int, seed: int = 0) -> list[str]:
    """`count` generated cases as JSON Lines records (no trailing newline)."""
    return [json.dumps(c, sort_keys=True) for c in CaseGenerator(vocab, seed).cases(count)]
