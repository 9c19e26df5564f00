"""The one Python evaluator of the rule language: Kleene's three-valued logic over facts.

Decisions are never taken here (they are fired in durable-rules); this evaluator answers, for
display and analysis, what a condition is over one binding of facts (entity -> fact dict, a
missing property being "not documented"): `imr explain` shows each comparison with the values it
compared, coverage asks whether an item is in a rule's scope, and the tests check that the
compiled alternatives (kleene.outcomes) agree with it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.language.conditions import And, Compare, Documented, Not, Or, RefOperand
from engine.language.kleene import Test

STATUS_OF = {True: "met", False: "not_met", None: "not_documented"}


@dataclass
class Leaf:
    """One comparison of a condition, with the values it compared and its three-valued result."""

    text: str
    values: str
    result: bool | None


def value_text(value) -> str:
    if value is None:
        return "not documented"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def holds(op: str, left, right) -> bool:
    try:
        return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
                ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


def condition_text(node) -> str:
    """A parsed condition written back as text (fully parenthesised)."""
    if isinstance(node, Compare):
        right = node.value
        if isinstance(right, RefOperand):
            r = str(right.ref) + (f" {'+' if right.add > 0 else '-'} {abs(right.add)}" if right.add else "")
        else:
            r = value_text(right)
        return f"{node.ref} {node.op} {r}"
    if isinstance(node, Documented):
        return f"{node.ref} is {'' if node.present else 'not '}documented"
    if isinstance(node, Not):
        return f"not ({condition_text(node.item)})"
    joiner = " and " if isinstance(node, And) else " or "
    return "(" + joiner.join(condition_text(i) for i in node.items) + ")"


def _get(env: dict, entity: str, field: str):
    return env.get(entity, {}).get(field)


def evaluate(node, env: dict, leaves: list[Leaf] | None = None) -> bool | None:
    """True, False or None (unknown) of a parsed condition; each comparison is appended to `leaves`."""
    if isinstance(node, Compare):
        left = _get(env, node.ref.entity, node.ref.field)
        if isinstance(node.value, RefOperand):
            other = _get(env, node.value.ref.entity, node.value.ref.field)
            right = None if other is None else (other + dt.timedelta(days=node.value.add) if isinstance(other, dt.date) else other + node.value.add)
            shown = f"{node.ref} = {value_text(left)}, {node.value.ref} = {value_text(other)}"
        else:
            right = node.value
            shown = f"{node.ref} = {value_text(left)}"
        result = None if left is None or right is None else holds(node.op, left, right)
        if leaves is not None:
            leaves.append(Leaf(condition_text(node), shown, result))
        return result
    if isinstance(node, Documented):
        present = _get(env, node.ref.entity, node.ref.field) is not None
        if leaves is not None:
            leaves.append(Leaf(condition_text(node), f"{node.ref} = {value_text(_get(env, node.ref.entity, node.ref.field))}", present == node.present))
        return present == node.present
    if isinstance(node, Not):
        inner = evaluate(node.item, env, leaves)
        return None if inner is None else not inner
    results = [evaluate(item, env, leaves) for item in node.items]
    if isinstance(node, And):
        return False if False in results else (None if None in results else True)
    return True if True in results else (None if None in results else False)


def test_holds(test: Test, env: dict) -> bool:
    """Whether one compiled fact test (kleene.Test) holds over the facts."""
    value = _get(env, test.entity, test.field)
    if test.op == "absent":
        return value is None
    if test.op == "present":
        return value is not None
    if value is None:
        return False
    if test.op == "any_of":
        return value in test.value
    if isinstance(test.value, RefOperand):
        other = _get(env, test.value.ref.entity, test.value.ref.field)
        return other is not None and holds(test.op, value, other + test.value.add)
    return holds(test.op, value, test.value)
