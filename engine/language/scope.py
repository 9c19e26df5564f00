"""A pack's and a rule's reach as fact tests: the items it applies to (scope) and the request
dates its edition covers. The compiler turns them into engine patterns; explain and coverage
evaluate them in Python (language/evaluate.py)."""

from __future__ import annotations

from engine.language.kleene import Test
from engine.model.rules import AppliesTo, Pack


def scope_tests(scope: AppliesTo) -> frozenset:
    tests = set()
    for name in ("type", "service", "region", "form"):
        values = getattr(scope, name)
        if values:
            tests.add(Test("item", name, "any_of", tuple(values)) if len(values) > 1 else Test("item", name, "==", values[0]))
    if scope.compounded is not None:
        tests.add(Test("item", "compounded", "==", scope.compounded))
    return frozenset(tests)


def edition_tests(pack: Pack) -> frozenset:
    tests = {Test("request", "date", ">=", pack.effective.from_)}
    if pack.effective.to is not None:
        tests.add(Test("request", "date", "<=", pack.effective.to))
    return frozenset(tests)
