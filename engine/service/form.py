"""The pre-screen form: a request for authorization as a reviewer fills it in, turned into a case.

The form is flat fields (`therapy-0-service`, `cf-acute_flare_up`, `q.clinical_findings.new_injury`)
so it works as a plain HTML form; this module reads them into the case model's JSON, which the
API's own reader then checks (positioned messages, the same as `POST /v1/determinations`). What
the form cannot express as a case (a count that is not a number, too many rows) is reported here
in the same `path:line:col: CODE message` form: line = the row, col = the field in the row.
Fields left blank stay not documented; nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from engine.model.case import ClinicalFindings, InjuredWorker, slug
from engine.model.diagnostics import Diagnostic
from engine.model.enums import REGIONS
from engine.service.questions import MAX_ANSWERS, parse_path
from engine.tools.counterfactual import _kinds

FORM = "<form>"
MAX_VALUE = 4000
"""Characters of one field (a reason); the case model bounds most fields far lower."""
MAX_FIELDS = 3000
MAX_BODY = 200_000
"""Bytes of one form post."""

SECTIONS = {
    "dx": ("diagnosis", 3, 20, ("code", "text")),
    "sx": ("surgery", 1, 10, ("procedure", "region", "date")),
    "hx": ("prior treatment", 2, 20, ("service", "region", "visits", "last_visit", "functional_improvement", "home_exercise_program")),
    "med": ("current medication", 4, 30, ("drug", "dose", "status")),
    "therapy": ("requested therapy", 2, 20, ("service", "region", "frequency", "weeks", "visits", "description")),
    "rx": ("requested medication", 1, 20, ("drugs", "form", "compounded", "quantity", "refills", "weeks", "daily_dose", "description")),
    "px": ("requested procedure", 1, 20, ("service", "region", "quantity", "levels", "description")),
}
"""section -> (its name in messages, rows shown at first, most rows, fields of a row)."""
ITEM_SECTIONS = ("therapy", "rx", "px")
MAX_ITEMS = 20

TRI = {"yes": True, "no": False}
STRENGTH = re.compile(r"^(?P<drug>.*?)\s+(?P<strength>\d+(?:\.\d+)?\s*(?:%|mg|mcg|g))$")
REGION_WORDS = {"cervical": "cervical spine", "thoracic": "thoracic spine", "lumbar": "lumbar spine", "wrist_hand": "wrist and hand",
                "ankle_foot": "ankle and foot", "multiple": "multiple regions"}


@dataclass(frozen=True)
class Finding:
    """A generated form field for a model field (a clinical finding, a fact about the worker)."""

    name: str
    label: str
    kind: str  # bool | number | choice | date | text
    choices: tuple[str, ...] = ()


def model_findings(model) -> list[Finding]:
    """One form field per model field, its label the field's title (the fact schema's label too)."""
    out = []
    for name, info in model.model_fields.items():
        kinds = _kinds(info.annotation)
        literals = tuple(str(k[1]) for k in kinds if isinstance(k, tuple))
        kind = ("bool" if bool in kinds else "choice" if literals else "number" if kinds & {int, float}
                else "date" if dt.date in kinds else "text")
        out.append(Finding(name, info.title or name.replace("_", " "), kind, literals))
    return out


CLINICAL = model_findings(ClinicalFindings)
WORKER = model_findings(InjuredWorker)


@dataclass
class Built:
    data: dict
    problems: list[Diagnostic] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)


def rows(values: dict[str, str], section: str, more: str | None = None) -> int:
    """How many rows of a section the form shows: the rows it holds, at least the first count,
    one more when asked, never past the bound."""
    _name, first, most, _fields = SECTIONS[section]
    held = [int(m.group(1)) + 1 for k in values if (m := re.match(rf"^{section}-(\d+)-", k))]
    try:
        shown = int(values.get(f"rows-{section}", first))
    except ValueError:
        shown = first
    count = max([first, shown, *held]) + (1 if more == section else 0)
    return min(count, most)


def _blank(values, section, n) -> bool:
    return not any(values.get(f"{section}-{n}-{f}", "").strip() for f in SECTIONS[section][3] if f not in ("region", "form", "status"))


class _Reader:
    def __init__(self, values: dict[str, str]):
        self.values = values
        self.problems: list[Diagnostic] = []

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def bad(self, row: int, col: int, message: str) -> None:
        self.problems.append(Diagnostic(FORM, row, col, "E002", message))

    def number(self, name: str, where: str, row: int, col: int, integer: bool = True):
        text = self.get(name)
        if not text:
            return None
        try:
            return int(text) if integer else float(text)
        except ValueError:
            self.bad(row, col, f"{where}: '{text[:40]}' is not {'a whole number' if integer else 'a number'}")
            return None

    def tri(self, name: str):
        return TRI.get(self.get(name), "not documented")


def _field_col(section: str, name: str) -> int:
    return SECTIONS[section][3].index(name) + 1


def ingredients(text: str) -> list[dict]:
    """'Ketoprofen 10%, Gabapentin 6%' (commas or lines) -> [{drug: ketoprofen, strength: 10%}, ...]."""
    out = []
    for part in re.split(r"[,;\n]+", text):
        part = part.strip()
        if not part:
            continue
        m = STRENGTH.match(part)
        name, strength = (m.group("drug"), m.group("strength").replace(" ", "")) if m else (part, None)
        entry = {"drug": slug(name)}
        if strength:
            entry["strength"] = strength
        out.append(entry)
    return out


def build_case(values: dict[str, str], vocabulary, describe=None) -> Built:
    """The case model's JSON (as a dict) from the form, with the form's own problems. `describe`
    gives a diagnosis code's text from the code set when the reviewer leaves it blank."""
    r = _Reader(values)
    services = vocabulary.services.services
    data: dict = {"case_id": r.get("case_id") or "page", "jurisdiction": r.get("jurisdiction"), "request_date": r.get("request_date")}
    worker = {}
    for f in WORKER:
        value = r.get(f"iw-{f.name}")
        if value:
            worker[f.name] = r.number(f"iw-{f.name}", f.label, 1, 1) if f.kind == "number" else value
    if worker:
        data["injured_worker"] = worker
    findings = {}
    for n, f in enumerate(CLINICAL, start=1):
        value = r.get(f"cf-{f.name}")
        if not value:
            continue
        if f.kind == "bool":
            if value in TRI:
                findings[f.name] = TRI[value]
        elif f.kind == "number":
            findings[f.name] = r.number(f"cf-{f.name}", f"clinical findings, {f.label}", 1, n, integer=False)
        else:
            findings[f.name] = value
    if findings:
        data["clinical_findings"] = findings
    diagnoses = []
    for n in range(rows(values, "dx")):
        code, text = r.get(f"dx-{n}-code"), r.get(f"dx-{n}-text")
        if code or text:
            if not text and describe is not None:
                text = describe(code) or code
            diagnoses.append({"code": code, "text": text or code})
    data["diagnoses"] = diagnoses
    surgeries = []
    for n in range(rows(values, "sx")):
        if _blank(values, "sx", n):
            continue
        procedure = r.get(f"sx-{n}-procedure")
        entry = {"procedure": procedure, "region": r.get(f"sx-{n}-region") or "other", "date": r.get(f"sx-{n}-date") or "not documented"}
        title = getattr(vocabulary.procedures.procedures.get(procedure), "title", None)
        if title:
            entry["description"] = title
        surgeries.append(entry)
    data["surgeries"] = surgeries
    history = []
    for n in range(rows(values, "hx")):
        if _blank(values, "hx", n):
            continue
        entry = {"service": r.get(f"hx-{n}-service"), "region": r.get(f"hx-{n}-region") or "other",
                 "functional_improvement": r.tri(f"hx-{n}-functional_improvement"),
                 "home_exercise_program": r.tri(f"hx-{n}-home_exercise_program")}
        visits = r.number(f"hx-{n}-visits", f"prior treatment {n + 1}, visits completed", n + 1, _field_col("hx", "visits"))
        entry["visits_completed"] = "not documented" if visits is None else visits
        entry["last_visit"] = r.get(f"hx-{n}-last_visit") or "not documented"
        history.append(entry)
    data["treatment_history"] = history
    medications = []
    for n in range(rows(values, "med")):
        name = r.get(f"med-{n}-drug")
        if not name:
            continue
        entry = {"name": name, "drug": slug(name), "status": r.get(f"med-{n}-status") or "current"}
        if r.get(f"med-{n}-dose"):
            entry["dose"] = r.get(f"med-{n}-dose")
        medications.append(entry)
    data["medications"] = medications
    items = _items(r, values, services)
    data["requested_items"] = items
    data["body_regions"] = sorted({i["region"] for i in items if i.get("region") in REGIONS} - {"other", "multiple"})
    built = Built(data, r.problems)
    _answers(r, values, built)
    return built


def _items(r: _Reader, values: dict[str, str], services) -> list[dict]:
    items: list[dict] = []
    for section in ITEM_SECTIONS:
        for n in range(rows(values, section)):
            if _blank(values, section, n):
                continue
            if len(items) == MAX_ITEMS:
                r.bad(n + 1, 1, f"more than {MAX_ITEMS} requested items")
                return items
            p = f"{section}-{n}-"
            where = f"{SECTIONS[section][0]} {n + 1}"
            item: dict = {"id": f"{section}-{n + 1}"}
            if section == "therapy":
                item.update(type="therapy", service=r.get(p + "service"), region=r.get(p + "region") or "other")
                for key, name in (("frequency_per_week", "frequency"), ("duration_weeks", "weeks"), ("visits", "visits")):
                    value = r.number(p + name, f"{where}, {name}", n + 1, _field_col(section, name))
                    if value is not None:
                        item[key] = value
                title = getattr(services.get(item["service"]), "title", item["service"].replace("_", " ").capitalize())
                region = REGION_WORDS.get(item["region"], item["region"])
                amount = (f"{item['frequency_per_week']} times a week for {item['duration_weeks']} weeks"
                          if "frequency_per_week" in item and "duration_weeks" in item else f"{item.get('visits', '?')} visits")
                default = f"{title} {amount} for the {region}"
            elif section == "rx":
                drugs = r.get(p + "drugs")
                item.update(type="medication", form=r.get(p + "form") or "oral", ingredients=ingredients(drugs),
                            compounded=r.get(p + "compounded") == "yes")
                if r.get(p + "quantity"):
                    item["quantity"] = r.get(p + "quantity")
                for key, name, integer in (("refills", "refills", True), ("duration_weeks", "weeks", True), ("daily_dose_mg", "daily_dose", False)):
                    value = r.number(p + name, f"{where}, {name.replace('_', ' ')}", n + 1, _field_col(section, name), integer)
                    if value is not None:
                        item[key] = value
                default = ("Compounded medication: " if item["compounded"] else "") + drugs + (f" {item['quantity']}" if "quantity" in item else "")
            else:
                item.update(type="procedure", service=r.get(p + "service"), region=r.get(p + "region") or "other")
                for key in ("quantity", "levels"):
                    value = r.number(p + key, f"{where}, {key}", n + 1, _field_col(section, key))
                    if value is not None:
                        item[key] = value
                title = getattr(services.get(item["service"]), "title", item["service"].replace("_", " ").capitalize())
                default = f"{title}, {REGION_WORDS.get(item['region'], item['region'])}"
            item["description"] = r.get(p + "description") or default[:200]
            items.append(item)
    return items


def _answers(r: _Reader, values: dict[str, str], built: Built) -> None:
    """Answers to the generated questions (`q.PATH`), put into the case at their paths."""
    given = [(k[2:], v.strip()) for k, v in values.items() if k.startswith("q.")]
    if len(given) > MAX_ANSWERS:
        r.bad(1, 1, f"more than {MAX_ANSWERS} answers")
        return
    for n, (text, value) in enumerate(given, start=1):
        built.answers[text] = value
        if not value:
            continue  # not documented: the case keeps its default
        path = parse_path(text)
        target = built.data
        for part in (path or ())[:-1]:
            if isinstance(part, int) and isinstance(target, list) and part < len(target):
                target = target[part]
            elif isinstance(part, str) and isinstance(target, dict):
                target = target.setdefault(part, {}) if part in ("clinical_findings", "injured_worker") else target.get(part)
            else:
                target = None
            if target is None:
                break
        if path is None or not isinstance(target, dict) or not isinstance(path[-1], str):
            r.bad(1, n, f"answer {n}: '{text[:80]}' is not a field of this case")
            continue
        if value in TRI:
            target[path[-1]] = TRI[value]
        elif re.fullmatch(r"-?\d+", value):
            target[path[-1]] = int(value)
        elif re.fullmatch(r"-?\d+\.\d+", value):
            target[path[-1]] = float(value)
        else:
            target[path[-1]] = value  # a choice or a date: the case model checks it, positioned
    built.problems = r.problems


def values_of(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], list[Diagnostic]]:
    """The form's fields (the last of a repeated name), with a problem for each over-long one."""
    values, problems = {}, []
    for name, value in pairs:
        if len(name) > 120 or len(value) > MAX_VALUE:
            problems.append(Diagnostic(FORM, 1, 1, "E002", f"field '{name[:40]}' is over {MAX_VALUE:,} characters"))
            continue
        values[name] = value
    return values, problems

