"""Tables: a guideline's numbers written once, and rules written once against them.

A pack may declare `tables:` (rules.Table, rules.Row: a row per diagnosis group or surgery, with
its visits, weeks, postsurgical period, initial course, label and letter text). A rule or an
`addresses` scope that names a table (`table: courses`) is expanded by the rule base, before
compilation, into one per row: the rule `pstg.general-course` into `pstg.general-course[lumbar_fusion]`
and its siblings. The row is read as the pseudo-entity `allowance`:

    when: surgery.procedure == allowance.procedure
    require: history.visits_total <= allowance.visits
    rationale: ... {{ allowance.course }} after {{ allowance.label }} ...

Each `allowance.COLUMN` of a parsed condition is replaced by the row's value as a literal of the
syntax tree (substitute), never by pasting text into the condition; the expanded rule's `when` and
`require` are then written back from the tree (to_text), so explain and docs show the condition the
engine runs. The expanded rule's `allowance` is the row, which its rationale templates read as
any rule's allowance; its title, section, documentation and notes are rendered for the row once.
So the compiler, the letter, explain, docs and coverage see ordinary rules.
"""

from __future__ import annotations

import datetime as dt

from engine.language.conditions import And, Compare, ConditionError, Documented, Not, Or, RefOperand, leaves
from engine.model.rules import Row, Table

ALLOWANCE = "allowance"
"""The pseudo-entity that names the row, valid only in a rule or scope with `table:`."""
TABLES = "tables"
"""`{{ tables.NAME }}` in any template of the pack: the table in words ("9-10 visits over 8 weeks
for myalgia and myositis, ..., and 24 visits over 16 weeks for complex regional pain syndrome")."""

COLUMNS = {
    "id": "text", "group": "text", "procedure": "text", "diagnosis": "condition", "label": "text",
    "visits": "number", "visits_min": "number", "weeks": "number", "weeks_min": "number",
    "period_months": "number", "initial_visits": "number", "body_part": "text", "text": "text",
}
"""Every column of a row (rules.Row but `metadata`) and its type in conditions."""
DERIVED = {"visits_range": "text", "weeks_range": "text", "course": "text"}
"""Texts made from the numbers (rules.Row's computed fields), for templates (and conditions, as text)."""
_NEEDS = {"visits_range": ("visits",), "weeks_range": ("weeks",), "course": ("visits",), "id": (), "text": (), "label": ()}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def condition_fields() -> dict[str, str]:
    """The row's columns as the condition checker types them (a `condition` column is read as a truth)."""
    return {name: ("bool" if kind == "condition" else kind) for name, kind in {**COLUMNS, **DERIVED}.items()}


def template_names(tables: dict[str, Table], table: str | None) -> dict[str, set | None]:
    """Names a template of a rule may read besides the facts: the row (in a table rule), the tables."""
    names: dict[str, set | None] = {}
    if tables:
        names[TABLES] = set(tables)
    if table is not None:
        names[ALLOWANCE] = set(COLUMNS) | set(DERIVED)
    return names


def row_values(row: Row) -> dict:
    """A row's columns and the texts derived from its numbers; `text` is filled in by the rule base."""
    values = {name: getattr(row, name) for name in (*COLUMNS, *DERIVED)}
    values["id"] = row.key
    return values


def missing(values: dict, columns: set[str]) -> list[str]:
    """The columns (of those read) that a row leaves empty."""
    out = set()
    for column in columns:
        for needed in _NEEDS.get(column, (column,)):
            if values.get(needed) is None:
                out.add(needed)
    return sorted(out)


def summary(rows: list[dict]) -> str:
    """The table in words, for `{{ tables.NAME }}`."""
    parts = [f"{v['course']} for {v['label']}" if v["course"] else v["label"] for v in rows]
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + ", and " + parts[-1]


def misuses(expr) -> list[ConditionError]:
    """Readings of the row that expansion cannot turn into a fact test: the row compared with a
    literal (it is a literal), tested for presence, or a `condition` column used other than as a truth."""
    out: list[ConditionError] = []

    def bad(ref, message):
        out.append(ConditionError(message, ref.line, ref.col))

    for node in leaves(expr):
        if isinstance(node, Compare):
            right = node.value.ref if isinstance(node.value, RefOperand) else None
            if node.ref.entity == ALLOWANCE and COLUMNS.get(node.ref.field) == "condition":
                if right is not None or not isinstance(node.value, bool):
                    bad(node.ref, f"{node.ref} is a condition: write it alone (`when: {node.ref}`) or negated (`not {node.ref}`)")
            elif node.ref.entity == ALLOWANCE and right is None:
                bad(node.ref, f"{node.ref} is a value of the row, not a fact: compare it with a fact (`history.visits_total <= {node.ref}`)")
            if right is not None and right.entity == ALLOWANCE and COLUMNS.get(right.field) == "condition":
                bad(right, f"{right} is a condition: write it alone (`when: {right}`)")
        elif node.ref.entity == ALLOWANCE:
            bad(node.ref, f"{node.ref} is a value of the row, always there: `is documented` tests facts")
    return out


def _add(value, add):
    if not add:
        return value
    total = value + add
    return int(total) if isinstance(total, float) and total.is_integer() else total


def substitute(expr, values: dict, diagnosis=None, uses: list | None = None):
    """The expression with every `allowance.COLUMN` replaced by the row's value, as a literal of
    the tree (a `condition` column by the row's parsed condition). `uses` collects (fact reference,
    column, value) of each comparison made with a row value, for the value checks of the rule base."""
    if isinstance(expr, Compare):
        if expr.ref.entity == ALLOWANCE:
            if COLUMNS.get(expr.ref.field) == "condition":
                positive = (expr.value is True) == (expr.op == "==")
                return diagnosis if positive else Not(diagnosis)
            # allowance.x OP fact + a  <=>  fact OP' x - a
            other = expr.value
            value = _add(values[expr.ref.field], -other.add)
            if uses is not None:
                uses.append((other.ref, expr.ref.field, value))
            return Compare(other.ref, _FLIP[expr.op], value)
        if isinstance(expr.value, RefOperand) and expr.value.ref.entity == ALLOWANCE:
            column = expr.value.ref.field
            value = _add(values[column], expr.value.add)
            if uses is not None:
                uses.append((expr.ref, column, value))
            return Compare(expr.ref, expr.op, value)
        return expr
    if isinstance(expr, (And, Or)):
        return type(expr)(tuple(substitute(item, values, diagnosis, uses) for item in expr.items))
    if isinstance(expr, Not):
        return Not(substitute(expr.item, values, diagnosis, uses))
    return expr


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return f'"{value}"'


def _operand(value) -> str:
    if isinstance(value, RefOperand):
        if not value.add:
            return str(value.ref)
        return f"{value.ref} {'+' if value.add > 0 else '-'} {_literal(abs(value.add))}"
    return _literal(value)


def _same_ref_list(items, op: str):
    """`x in [a, b]` / `x not in [a, b]` when an or/and is exactly that (how the parser reads them)."""
    if len(items) > 1 and all(isinstance(i, Compare) and i.op == op and not isinstance(i.value, RefOperand) for i in items):
        if len({(i.ref.entity, i.ref.field) for i in items}) == 1:
            return items[0].ref, [i.value for i in items]
    return None


def to_text(expr) -> str:
    """A condition written back from its tree; parsing the text gives the same tree."""
    if isinstance(expr, Compare):
        return f"{expr.ref} {expr.op} {_operand(expr.value)}"
    if isinstance(expr, Documented):
        return f"{expr.ref} is {'' if expr.present else 'not '}documented"
    if isinstance(expr, Not):
        inner = to_text(expr.item)
        return f"not ({inner})" if isinstance(expr.item, (And, Or)) and _same_ref_list(expr.item.items, "==" if isinstance(expr.item, Or) else "!=") is None else f"not {inner}"
    if isinstance(expr, Or):
        listed = _same_ref_list(expr.items, "==")
        if listed:
            return f"{listed[0]} in [{', '.join(_literal(v) for v in listed[1])}]"
        return " or ".join(to_text(item) for item in expr.items)
    if isinstance(expr, And):
        listed = _same_ref_list(expr.items, "!=")
        if listed:
            return f"{listed[0]} not in [{', '.join(_literal(v) for v in listed[1])}]"
        return " and ".join(f"({to_text(item)})" if isinstance(item, Or) and _same_ref_list(item.items, "==") is None else to_text(item)
                            for item in expr.items)
    raise TypeError(f"not a condition node: {expr!r}")
