"""Three-valued (Kleene) logic over conditions, flattened to alternatives of fact tests.

A condition is true, false or unknown (a fact it reads is not documented). durable-rules matches
only what is present, so for each outcome we build the list of conjunctions of plain fact tests
under which the condition *is* that outcome:

    T(a and b) = T(a)T(b)          F(a and b) = F(a) | F(b)
    U(a and b) = U(a)T(b) | T(a)U(b) | U(a)U(b)      (and the mirror image for `or`)
    T(not a) = F(a), F(not a) = T(a), U(not a) = U(a)
    T(x < 3) = [x < 3]   F(x < 3) = [x >= 3]   U(x < 3) = [x absent]

Each conjunction becomes one durable-rules rule; contradictory ones are dropped here, which is
also how the validator knows a rule that can never fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from engine.language.conditions import And, Compare, Documented, Not, Or, Ref, RefOperand

MAX_ALTERNATIVES = 64

_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True, order=True)
class Test:
    """One test on one fact property: op is a comparison, 'present', 'absent' or 'any_of'."""

    entity: str
    field: str
    op: str
    value: object = None


Conj = frozenset  # of Test
DNF = list  # of Conj


class TooComplex(ValueError):
    pass


def _atom(ref: Ref, op: str, value) -> Test:
    return Test(ref.entity, ref.field, op, value)


def _absent(ref: Ref) -> Test:
    return Test(ref.entity, ref.field, "absent")


def _and(*dnfs: DNF) -> DNF:
    out = []
    for combo in product(*dnfs):
        conj = frozenset().union(*combo)
        if consistent(conj) and conj not in out:
            out.append(conj)
    if len(out) > MAX_ALTERNATIVES:
        raise TooComplex(f"condition expands to more than {MAX_ALTERNATIVES} alternatives; split the rule")
    return out


def _or(*dnfs: DNF) -> DNF:
    out = []
    for dnf in dnfs:
        for conj in dnf:
            if conj not in out:
                out.append(conj)
    if len(out) > MAX_ALTERNATIVES:
        raise TooComplex(f"condition expands to more than {MAX_ALTERNATIVES} alternatives; split the rule")
    return out


def outcomes(expr) -> tuple[DNF, DNF, DNF]:
    """(true, false, unknown) alternatives of an expression."""
    if isinstance(expr, Compare):
        refs = [expr.ref] + ([expr.value.ref] if isinstance(expr.value, RefOperand) else [])
        return (
            [frozenset({_atom(expr.ref, expr.op, expr.value)})],
            [frozenset({_atom(expr.ref, _NEGATE[expr.op], expr.value)})],
            [frozenset({_absent(r)}) for r in refs],
        )
    if isinstance(expr, Documented):
        present = [frozenset({Test(expr.ref.entity, expr.ref.field, "present")})]
        absent = [frozenset({_absent(expr.ref)})]
        return (present, absent, []) if expr.present else (absent, present, [])
    if isinstance(expr, Not):
        t, f, u = outcomes(expr.item)
        return f, t, u
    if isinstance(expr, (And, Or)):
        t, f, u = outcomes(expr.items[0])
        for item in expr.items[1:]:
            t2, f2, u2 = outcomes(item)
            if isinstance(expr, And):
                t, f, u = _and(t, t2), _or(f, f2), _or(_and(u, t2), _and(t, u2), _and(u, u2))
            else:
                t, f, u = _or(t, t2), _and(f, f2), _or(_and(u, f2), _and(f, u2), _and(u, u2))
        return t, f, u
    raise TypeError(f"not a condition node: {expr!r}")


def possible(dnf: DNF, always_present) -> DNF:
    """Drop alternatives that need a property to be absent which the facts always carry."""
    return [conj for conj in dnf if not any(t.op == "absent" and always_present(t.entity, t.field) for t in conj)]


def _literal_holds(op: str, left, right) -> bool:
    return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[op]


def consistent(conj) -> bool:
    """False when a conjunction can never hold (x absent and x tested; x == 1 and x == 2; ...)."""
    by_field: dict[tuple, list[Test]] = {}
    for test in conj:
        by_field.setdefault((test.entity, test.field), []).append(test)
    for tests in by_field.values():
        ops = {t.op for t in tests}
        if "absent" in ops and len(ops) > 1:
            return False
        literal = [t for t in tests if t.op not in ("present", "absent", "any_of") and not isinstance(t.value, RefOperand)]
        equal = [t for t in literal if t.op == "=="]
        if equal:
            pinned = equal[0].value
            for t in literal:
                try:
                    if type(t.value) is not type(pinned) and not (isinstance(t.value, (int, float)) and isinstance(pinned, (int, float))):
                        continue
                    if not _literal_holds(t.op, pinned, t.value):
                        return False
                except TypeError:
                    continue
            for t in tests:
                if t.op == "any_of" and pinned not in t.value:
                    return False
        else:
            # bounds: lower < upper must leave room
            lows = [t for t in literal if t.op in (">", ">=") and isinstance(t.value, (int, float))]
            highs = [t for t in literal if t.op in ("<", "<=") and isinstance(t.value, (int, float))]
            for lo in lows:
                for hi in highs:
                    if lo.value > hi.value or (lo.value == hi.value and (lo.op == ">" or hi.op == "<")):
                        return False
    return True
