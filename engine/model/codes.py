"""Diagnosis codes by date: which code system each diagnosis is in, and whether its code existed on
the request date.

A diagnosis may name its system (`system: icd9cm` or `icd10cm`); otherwise it is read from the
code's form, and the date settles only what the form cannot: a code valid in one system alone is of
that system (numbers like 724.4 are ICD-9-CM, a letter and two characters like M54.16 ICD-10-CM);
a code valid in both (ICD-9-CM V and E codes such as V54.1, which ICD-10-CM also has) is ICD-10-CM
from 2015-10-01, when ICD-9-CM went out of use, and before it an error asking for `system:`, never a
guess. Then, by the request date:

- ICD-9-CM is valid before 2015-10-01 only (E009 at its line after);
- ICD-10-CM is checked against the release in force on that day (before 2015-10-01: the first
  release, FY2016, since records of that time are often recoded), so a code created later, or
  deleted before, is E009 at its line;
- a non-billable header (a category with subdivisions in force that day) is warned, W007.

`resolve` returns the case with every diagnosis's system set and its code in its system's dotted
form, the errors (E009, E010) and the warnings (W007), each as (path in the case, code, message).
"""

from __future__ import annotations

import datetime as dt

from engine.model import icd9, icd10_releases
from engine.model.icd10 import normalise_icd10

ICD9, ICD10 = "icd9cm", "icd10cm"
Problem = tuple[tuple, str, str]


def _icd10(code: str) -> str | None:
    try:
        return normalise_icd10(code)
    except ValueError:
        return None


def _icd9(code: str) -> str | None:
    if not icd9.looks_like(code.replace(".", "")) and not icd9.looks_like(code):
        return None
    try:
        return icd9.normalise_icd9(code.replace(".", ""))
    except ValueError:
        return None


def normalise_diagnosis(code: str, system: str | None = None) -> str:
    """The code in the dotted form of its system (ICD-10-CM's when it is valid in both and no system
    is named), or ValueError: what the model checks before the request date is known."""
    ten = _icd10(code) if system != ICD9 else None
    nine = _icd9(code) if system != ICD10 else None
    if ten or nine:
        return ten or nine
    if system == ICD9:
        raise ValueError(f"'{code}' is not an ICD-9-CM code")
    if system == ICD10 or not icd9.looks_like(code.strip().upper()):
        raise ValueError(f"'{code}' is not an ICD-10-CM code")
    raise ValueError(f"'{code}' is neither an ICD-10-CM nor an ICD-9-CM code")


def resolve(case) -> tuple[object, list[Problem], list[Problem]]:
    """The case with each diagnosis's system decided and its code dotted in that system, plus the
    date's errors and warnings (see the module docstring)."""
    day = case.request_date
    errors: list[Problem] = []
    warnings: list[Problem] = []
    resolved = []
    for i, d in enumerate(case.diagnoses):
        where = ("diagnoses", i, "code")
        ten = _icd10(d.code) if d.system != ICD9 else None
        nine = _icd9(d.code) if d.system != ICD10 else None
        system = d.system
        if system is None:
            if ten and nine:
                if day < icd10_releases.FIRST_RELEASE:
                    errors.append((where, "E010", f"'{d.code}' is both an ICD-10-CM code ({ten}) and an ICD-9-CM code ({nine}), and on "
                                                  f"{day} either could be meant: say which with `system: icd9cm` or `system: icd10cm`"))
                    resolved.append(d)
                    continue
                system = ICD10  # from 2015-10-01 only ICD-10-CM is in use
            else:
                system = ICD10 if ten else ICD9
        code = ten if system == ICD10 else nine
        if code is None:  # the model let it through as the other system; the named system does not have it
            errors.append((where, "E009", f"'{d.code}' is not an {'ICD-9-CM' if system == ICD9 else 'ICD-10-CM'} code"))
            resolved.append(d)
            continue
        if system == ICD9:
            problem = _icd9_on(code, day)
        else:
            problem = _icd10_on(code, day)
        if problem is not None:
            (errors if problem[0] == "E009" else warnings).append((where, *problem))
        resolved.append(d.model_copy(update={"code": code, "system": system}))
    return case.model_copy(update={"diagnoses": resolved}), errors, warnings


def _icd9_on(code: str, day: dt.date):
    if day >= icd10_releases.FIRST_RELEASE:
        return ("E009", f"ICD-9-CM code {code} on {day}: ICD-9-CM was replaced by ICD-10-CM on {icd10_releases.FIRST_RELEASE}; give the ICD-10-CM code")
    if not icd9.billable(code):
        return ("W007", f"ICD-9-CM {code} is a category, not a billable code: its subdivisions are read together, so only what all of them share counts")
    return None


def _icd10_on(code: str, day: dt.date):
    release = icd10_releases.release(day)
    before = day < icd10_releases.FIRST_RELEASE
    if not icd10_releases.in_force(code, day):
        span = icd10_releases.span(code)
        if span is not None and span[0] > max(day, icd10_releases.FIRST_RELEASE):
            when = f"it was created on {span[0]}"
        elif span is not None and span[1] is not None:
            when = f"it was deleted on {span[1]}"
        else:
            when = "it is not in that release"
        first = " (the first ICD-10-CM release: the request predates ICD-10-CM)" if before else ""
        return ("E009", f"ICD-10-CM code {code} did not exist on {day}: {when}; the release in force, {release}{first}, does not have it")
    if not icd10_releases.billable(code, day):
        return ("W007", f"ICD-10-CM {code} is a non-billable header in {release}: the record's diagnosis is one of its subdivisions")
    return None
