"""The rule condition language: a small, safe grammar parsed with lark (never eval).

    history.functional_improvement == true and item.visits_requested <= 10
    dx.pm_group in ["myalgia_myositis", "neuritis_radiculitis"]
    clinical.acute_flare_up is not documented or not (history.visits_total > 10)
    ingredient.drug_class == "nsaid" and item.region not in ["lumbar", "cervical"]
    surgery.weeks_since <= item.duration_weeks + 4

Operands are fact references `entity.field`, numbers, "strings", true/false and dates
(YYYY-MM-DD). Arithmetic (+/- a number) may stand only on a fact reference at the right of a
comparison, as durable-rules requires. There are no calls, attributes beyond one dot, or imports.

Numbers are those durable-rules holds as written (measured on 2.0.28, tests/test_bounded_rule_text.py):
a whole number within int64 (past it durable-rules saturates at 2^63 - 1, so `x < 2^63` fails for
x = 2^63 - 1), an addend of at most 2^53 (the sum with any fact stays within int64, where the C
engine's addition wraps), and a decimal that a double holds exactly as written (not
3.99999999999999999, which is 4.0) and that JSON writes without an exponent (durable-rules reads
none: 0.00001 is written 1e-05, and creating the ruleset fails, error 204; an infinity, error 202).
Any other is refused when the condition is parsed (C007), so `imr validate` refuses it.

Unknown is not false: a comparison whose fact is not documented is *unknown*, and the logic is
Kleene's three-valued logic (`not unknown` is unknown). `is documented` / `is not documented` test
presence and are never unknown.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass
from typing import Union

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

GRAMMAR = r"""
?start: disj
?disj: conj (_OR conj)*
?conj: neg (_AND neg)*
?neg: _NOT neg -> negate
    | atom
?atom: "(" disj ")"
     | ref COMPARE operand          -> compare
     | ref _IN list                 -> in_list
     | ref _NOT _IN list            -> not_in_list
     | ref _IS _DOCUMENTED          -> documented
     | ref _IS _NOT _DOCUMENTED     -> not_documented
     | ref                          -> truthy
list: "[" literal ("," literal)* "]"
?operand: literal
        | ref ADDOP NUMBER          -> ref_plus
        | ref                       -> ref_operand
?literal: DATE -> date
        | NUMBER -> number
        | STRING -> string
        | _TRUE -> true
        | _FALSE -> false
ref: NAME "." NAME
COMPARE: "==" | "!=" | "<=" | ">=" | "<" | ">"
ADDOP: "+" | "-"
DATE.3: /\d{4}-\d{2}-\d{2}/
NUMBER.2: /-?\d+(\.\d+)?/
STRING: /"[^"\\\n]{0,200}"/
_OR.2: "or"
_AND.2: "and"
_NOT.2: "not"
_IN.2: "in"
_IS.2: "is"
_DOCUMENTED.2: "documented"
_TRUE.2: "true"
_FALSE.2: "false"
NAME: /[a-z_][a-z0-9_]{0,63}/
%import common.WS_INLINE
%ignore WS_INLINE
"""

MAX_LENGTH = 2000
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Whole numbers durable-rules compares as written (int64)."""
MAX_ADDEND = 2**53
"""Largest magnitude of `ref + N`: any fact plus it stays within int64 and exact as a double."""


@dataclass(frozen=True)
class Ref:
    entity: str
    field: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.entity}.{self.field}"


Literal_ = Union[bool, int, float, str, dt.date]


@dataclass(frozen=True)
class RefOperand:
    ref: Ref
    add: float = 0


@dataclass(frozen=True)
class Compare:
    ref: Ref
    op: str
    value: Union[Literal_, RefOperand]


@dataclass(frozen=True)
class Documented:
    ref: Ref
    present: bool


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


Expr = Union[Compare, Documented, And, Or, Not]


class ConditionError(ValueError):
    """A condition that does not parse or does not type-check; line/col are within the condition.
    `code`: the diagnostic code when it is not the caller's default (C007, a number); `errors`:
    every problem found (a condition with several bad numbers reports each)."""

    def __init__(self, message: str, line: int = 1, col: int = 1, code: str | None = None):
        super().__init__(message)
        self.message, self.line, self.col, self.code = message, line, col, code
        self.errors: list[ConditionError] = [self]


def number_value(text: str, *, addend: bool = False, line: int = 1, col: int = 1) -> int | float:
    """A number literal as the rules engine will compare it; ConditionError (C007) for one it cannot
    hold as written."""
    def refuse(why: str):
        shown = text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text.lstrip('-'))} characters)"
        return ConditionError(f"number {shown} {why}", line, col, "C007")

    if "." not in text:
        value = int(text)
        low, high = (-MAX_ADDEND, MAX_ADDEND) if addend else (INT_MIN, INT_MAX)
        if not low <= value <= high:
            limit = "an addend of at most 2^53 = 9007199254740992 in size" if addend else "a whole number from -2^63 to 2^63 - 1"
            raise refuse(f"is beyond what the rules engine holds ({limit})")
        return value
    value = float(text)
    written = repr(value)
    if not math.isfinite(value) or "e" in written or "E" in written:
        raise refuse("is a decimal the rules engine cannot read (it reads 0, or 0.0001 to 10^16 in size: no exponent)")
    if decimal.Decimal(written) != decimal.Decimal(text):
        raise refuse(f"has more digits than a double holds: the rules engine would compare {written}")
    if addend and abs(value) > MAX_ADDEND:
        raise refuse("is beyond what the rules engine holds (an addend of at most 2^53 = 9007199254740992 in size)")
    return value


@v_args(inline=True)
class _ToAst(Transformer):
    def __init__(self):
        super().__init__()
        self.problems: list[ConditionError] = []

    def _number(self, tok, addend: bool = False):
        try:
            return number_value(str(tok), addend=addend, line=tok.line, col=tok.column)
        except ConditionError as exc:
            self.problems.append(exc)
            return 0

    def ref(self, entity: Token, field: Token) -> Ref:
        return Ref(str(entity), str(field), entity.line, entity.column)

    def number(self, tok):
        return self._number(tok)

    def string(self, tok):
        return str(tok)[1:-1]

    def date(self, tok):
        try:
            return dt.date.fromisoformat(str(tok))
        except ValueError:
            raise ConditionError(f"'{tok}' is not a valid date", tok.line, tok.column) from None

    def true(self):
        return True

    def false(self):
        return False

    def list(self, *items):
        return tuple(items)

    def ref_operand(self, ref):
        return RefOperand(ref)

    def ref_plus(self, ref, op, number):
        value = self._number(number, addend=True)
        return RefOperand(ref, value if str(op) == "+" else -value)

    def compare(self, ref, op, value):
        return Compare(ref, str(op), value)

    def in_list(self, ref, items):
        return Or(tuple(Compare(ref, "==", v) for v in items)) if len(items) > 1 else Compare(ref, "==", items[0])

    def not_in_list(self, ref, items):
        return And(tuple(Compare(ref, "!=", v) for v in items)) if len(items) > 1 else Compare(ref, "!=", items[0])

    def documented(self, ref):
        return Documented(ref, True)

    def not_documented(self, ref):
        return Documented(ref, False)

    def truthy(self, ref):
        return Compare(ref, "==", True)

    def negate(self, item):
        return Not(item)

    def conj(self, *items):
        return And(tuple(items))

    def disj(self, *items):
        return Or(tuple(items))


_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


def parse(text: str) -> Expr:
    """Parse a condition; raises ConditionError with the line and column of the problem."""
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"condition longer than {MAX_LENGTH} characters")
    try:
        tree = _PARSER.parse(text)
        to_ast = _ToAst()
        expr = to_ast.transform(tree)
        if to_ast.problems:
            first = to_ast.problems[0]
            first.errors = to_ast.problems
            raise first
        return expr
    except ConditionError:
        raise
    except UnexpectedCharacters as exc:
        raise ConditionError(f"unexpected character {text[exc.pos_in_stream]!r} in condition", exc.line, exc.column) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            lines = text.rstrip().splitlines() or [""]
            raise ConditionError("condition ends too early", len(lines), len(lines[-1]) + 1) from None
        raise ConditionError(f"unexpected '{exc.token}' in condition", exc.line, exc.column) from None
    except UnexpectedEOF:
        lines = text.rstrip().splitlines() or [""]
        raise ConditionError("condition ends too early", len(lines), len(lines[-1]) + 1) from None
    except UnexpectedInput as exc:
        raise ConditionError("condition does not parse", getattr(exc, "line", 1), getattr(exc, "column", 1)) from None
    except (LarkError, RecursionError):
        raise ConditionError("condition does not parse (too deeply nested?)") from None


def leaves(expr: Expr):
    """The comparisons and documentation tests of an expression, in reading order: the one walk
    over a condition's tree that every check and tool shares."""
    if isinstance(expr, (Compare, Documented)):
        yield expr
    elif isinstance(expr, (And, Or)):
        for child in expr.items:
            yield from leaves(child)
    elif isinstance(expr, Not):
        yield from leaves(expr.item)


def refs(expr: Expr) -> list[Ref]:
    """Every fact reference in an expression, in reading order."""
    out: list[Ref] = []
    for node in leaves(expr):
        out.append(node.ref)
        if isinstance(node, Compare) and isinstance(node.value, RefOperand):
            out.append(node.value.ref)
    return out


def type_of(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def check(expr: Expr, schema: dict[str, dict[str, str]], allowed_values: dict[str, set] | None = None) -> list[ConditionError]:
    """Type-check against the fact schema: known entities and fields, comparable types."""
    problems: list[ConditionError] = []
    allowed_values = allowed_values or {}

    def field_type(ref: Ref) -> str | None:
        if ref.entity not in schema:
            problems.append(ConditionError(f"unknown fact '{ref.entity}' (known: {', '.join(sorted(schema))})", ref.line, ref.col))
            return None
        fields = schema[ref.entity]
        if ref.field not in fields:
            problems.append(ConditionError(f"unknown field '{ref}' (fields of {ref.entity}: {', '.join(sorted(fields))})", ref.line, ref.col))
            return None
        return fields[ref.field]

    for node in leaves(expr):
        if isinstance(node, Compare):
            left = field_type(node.ref)
            if isinstance(node.value, RefOperand):
                right = field_type(node.value.ref)
                if node.value.add and right not in (None, "number"):
                    problems.append(ConditionError(f"arithmetic on non-number '{node.value.ref}'", node.value.ref.line, node.value.ref.col))
            else:
                right = type_of(node.value)
                known = allowed_values.get(str(node.ref))
                if left == "text" and known is not None and node.value not in known:
                    problems.append(ConditionError(f"'{node.value}' is not a known value of {node.ref} (known: {', '.join(sorted(known))})", node.ref.line, node.ref.col))
            if left and right and left != right:
                problems.append(ConditionError(f"type mismatch: {node.ref} is {left}, compared with {right}", node.ref.line, node.ref.col))
            if left in ("bool", "text") and node.op not in ("==", "!="):
                problems.append(ConditionError(f"'{node.op}' needs numbers or dates; {node.ref} is {left}", node.ref.line, node.ref.col))
        else:
            field_type(node.ref)
    return problems
