"""Rationale templates: a small bounded language, checked at validation, rendered in jinja2's
immutable sandbox.

A template may read facts (`{{ history.visits_completed }}`), the rule's allowance (in a rule
written against a table, its row), a table in words (`{{ tables.NAME }}`, a literal of the
template: compile_template) and the finding's subject, and choose words with `a if test else b`
or `{% if %}`. A fact that is not documented renders as "not documented".

Bounded by construction: the language admits only what cannot multiply its output. A template
is its text and at most MAX_SUBSTITUTIONS substitutions `{{ ... }}`, each a value, a comparison
or a choice between literals and values, through filters of an allow-list whose output is as
long as their input or a literal (FILTERS: no `replace`, no `join`); there are no loops, no
arithmetic or string operators (`*`, `+`, `~`), no list or dict literals, no calls, no
assignments, no macros or includes, no indexing and no attribute chains. So a rendering is at
most the template's text plus one value per substitution, and takes time linear in that.
Expressions are limited in length and nesting (checked on the tokens, before jinja2's recursive
parser sees them), so no text the schema admits makes the parser or the compiler recurse past
Python's limit. What breaks these rules is reported by `imr validate` at its line (T001, T002).

The second guard: `render` streams the output and stops past MAX_RENDERED characters. Validation
renders each rationale once with the rule's own values and no fact documented (Rationale.trial,
from checks/rulebase.py), so a rule whose own text overflows the limit (a long title read many
times) is refused there (T002); at decide time, what overflows it only with one case's values, or
fails on them, is reported at the rule's rationale for that case (T003, exit 2; in a batch, that
line fails and the batch goes on), never a traceback. The sandbox, its operators intercepted and
its filters only those of the allow-list, is the last wall.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.model.diagnostics import Diagnostic, InputError

NOT_DOCUMENTED_TEXT = "not documented"
EXTRA_NAMES = {"allowance": {"visits", "weeks", "text"}, "subject": None, "subjects": None, "rule": {"id", "title", "section", "pages"}}

MAX_SUBSTITUTIONS = 32
"""`{{ ... }}` per template (the shipped packs use at most 6)."""
MAX_TAG_TOKENS = 48
"""Tokens inside one `{{ ... }}` or `{% ... %}` (the longest shipped: 9)."""
MAX_BRACKETS = 4
"""Open parentheses inside one tag."""
MAX_BLOCKS = 4
"""`{% if %}` blocks open at once."""
MAX_DEPTH = 24
"""Depth of the syntax tree (the shipped packs: 6)."""
MAX_ROUND = 6
"""Largest precision of `round`."""
MAX_RENDERED = 50_000
"""Characters one rendering may produce (a shipped rationale renders to at most about 1,000)."""


class NotDocumented:
    """Renders as 'not documented'; compares unequal to everything, and neither less nor more
    than anything (so `a if x > 3 else b` on an undocumented x takes `b`, as `a if x else b` does)."""

    def __str__(self) -> str:
        return NOT_DOCUMENTED_TEXT

    def __bool__(self) -> bool:
        return False

    def __lt__(self, other) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__


def _absent(value) -> bool:
    return value is None or isinstance(value, NotDocumented)


def _yesno(value, choices: str = "yes,no,not documented") -> str:
    yes, no, unknown = (choices.split(",") + ["", "", ""])[:3]
    if _absent(value):
        return unknown
    return yes if value else no


def _text(method):
    def apply(value):
        return value if _absent(value) else method(str(value))
    return apply


def _length(value):
    return value if _absent(value) else len(value)


def _round(value, precision: int = 0):
    return value if _absent(value) else round(value, precision)


def _int(value):
    return value if _absent(value) else int(value)


def _default(value, default_value=""):
    return default_value if _absent(value) else value


FILTERS = {"length": _length, "lower": _text(str.lower), "upper": _text(str.upper), "title": _text(str.title),
           "round": _round, "int": _int, "default": _default, "yesno": _yesno}
"""The allow-list, as implemented here (jinja2's own filters are not available): each returns a
number, its input in another case, or one of its literal arguments; undocumented passes through."""
_ARGUMENTS = {"length": (), "lower": (), "upper": (), "title": (), "int": (), "round": (int,), "default": (str, int, float), "yesno": (str,)}
"""Per filter, the types of its one optional literal argument (none: it takes no argument)."""
_NEEDS_NUMBER = {"round", "int"}
_KINDS = {"round": "whole number", "default": "text or number", "yesno": "text"}

_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Const,
                  nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Filter, nodes.If)
_STATEMENTS = {"if", "elif", "else", "endif"}
"""The only statements (`{% ... %}`) of the language."""
_TAGS = {"for": "loops ({% for %}): `subject` is the subjects in words", "set": "assignments ({% set %})",
         "macro": "macros", "call": "call blocks", "filter": "filter blocks", "include": "includes",
         "import": "imports", "from": "imports", "extends": "extends", "block": "blocks"}
_WORDS = {  # what a construct is called in a message
    "For": "loops ({% for %})", "Pair": "dict literals", "Mul": "arithmetic ('*')", "Add": "arithmetic ('+')", "Sub": "arithmetic ('-')",
    "Div": "arithmetic ('/')", "FloorDiv": "arithmetic ('//')", "Mod": "arithmetic ('%')", "Pow": "arithmetic ('**')",
    "Neg": "arithmetic (unary '-')", "Pos": "arithmetic (unary '+')", "Concat": "string concatenation ('~')",
    "List": "list literals", "Tuple": "tuple literals", "Dict": "dict literals", "Slice": "slices", "Getitem": "indexing",
    "Test": "tests ('is ...')", "Call": "calls", "Assign": "assignments ({% set %})", "AssignBlock": "assignments ({% set %})",
    "Macro": "macros", "CallBlock": "call blocks", "FilterBlock": "filter blocks", "With": "{% with %}",
    "Import": "imports", "FromImport": "imports", "Include": "includes", "Extends": "extends", "Block": "blocks",
    "Scope": "scopes", "ScopedEvalContextModifier": "{% autoescape %}", "EvalContextModifier": "{% autoescape %}",
}


class _Sandbox(ImmutableSandboxedEnvironment):
    """No operator of jinja2's expression language runs (validation admits none)."""

    intercepted_binops = frozenset(["+", "-", "*", "/", "//", "%", "**"])
    intercepted_unops = frozenset(["+", "-"])

    def call_binop(self, context, operator, left, right):
        raise SecurityError(f"operator {operator!r} is not allowed in a template")

    def call_unop(self, context, operator, arg):
        raise SecurityError(f"operator {operator!r} is not allowed in a template")


_ENV = _Sandbox(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters = dict(FILTERS)
_ENV.tests = {}
_ENV.globals.clear()


class TemplateProblem(ValueError):
    """A problem of a template; `code` T001 (what templates may not use, an unknown name) or T002
    (past a limit of the template language)."""

    def __init__(self, message: str, line: int = 1, code: str = "T001"):
        super().__init__(message)
        self.message, self.line, self.code = message, line, code


class _OverLimit(TemplateSyntaxError):
    """A template past a limit of the language (T002), found before or while it is parsed."""


class _Forbidden(TemplateSyntaxError):
    """A statement the language does not have (T001), found on the tokens before parsing."""


def _limits(text: str) -> None:
    """Lexical limits, checked on jinja2's (iterative) tokenizer before its recursive parser runs."""
    substitutions = blocks = tokens = brackets = 0
    opening = False
    for tok in _ENV.lexer.tokenize(text):
        kind = tok.type
        if kind in ("variable_begin", "block_begin"):
            tokens = brackets = 0
            opening = kind == "block_begin"
            if kind == "variable_begin":
                substitutions += 1
                if substitutions > MAX_SUBSTITUTIONS:
                    raise _OverLimit(f"template has more than {MAX_SUBSTITUTIONS} substitutions {{{{ ... }}}}", tok.lineno)
            continue
        if kind in ("variable_end", "block_end", "data"):
            continue
        tokens += 1
        if tokens > MAX_TAG_TOKENS:
            raise _OverLimit(f"expression longer than {MAX_TAG_TOKENS} tokens in template", tok.lineno)
        if kind in ("lparen", "lbracket", "lbrace"):
            brackets += 1
            if brackets > MAX_BRACKETS:
                raise _OverLimit(f"brackets nested deeper than {MAX_BRACKETS} in template", tok.lineno)
        elif kind in ("rparen", "rbracket", "rbrace"):
            brackets -= 1
        if opening and kind == "name":
            if tok.value not in _STATEMENTS:
                raise _Forbidden(f"templates may not use {_TAGS.get(tok.value, '{% ' + tok.value + ' %}')}", tok.lineno)
            if tok.value == "if":
                blocks += 1
                if blocks > MAX_BLOCKS:
                    raise _OverLimit(f"{{% if %}} blocks nested deeper than {MAX_BLOCKS} in template", tok.lineno)
            elif tok.value == "endif":
                blocks -= 1
        opening = False


def _parse(text: str) -> nodes.Template:
    """The syntax tree of a template within the language's limits; raises TemplateSyntaxError
    (an _OverLimit past a limit)."""
    try:
        _limits(text)
        tree = _ENV.parse(text)
    except TemplateSyntaxError:
        raise
    except RecursionError:
        raise _OverLimit("template nested too deeply", 1) from None
    except (ValueError, OverflowError) as exc:  # a number literal past Python's digit limit, say
        raise TemplateSyntaxError(f"bad literal: {exc}", 1) from None
    stack = [(tree, 1)]
    while stack:  # iterative: the tree is checked before any recursive walk
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _OverLimit(f"template nested deeper than {MAX_DEPTH}", getattr(node, "lineno", 1) or 1)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return tree


def check_template(text: str, fields: dict[str, dict[str, str]], names: dict | None = None) -> list[TemplateProblem]:
    """Every construct, name, attribute and filter a template uses, checked against the bounded
    language and the facts. `names` adds or replaces names beyond the facts (a table rule's
    `allowance`: the row's columns)."""
    try:
        tree = _parsed(text)
    except _OverLimit as exc:
        return [TemplateProblem(exc.message, exc.lineno or 1, "T002")]
    except _Forbidden as exc:
        return [TemplateProblem(exc.message, exc.lineno or 1)]
    except TemplateSyntaxError as exc:
        return [TemplateProblem(f"template syntax: {exc.message}", exc.lineno or 1)]
    problems: list[TemplateProblem] = []
    allowed = {**{k: set(v) for k, v in fields.items()}, **EXTRA_NAMES, **(names or {})}

    stack = [tree]
    while stack:
        node = stack.pop()
        line = getattr(node, "lineno", 1) or 1
        kind = type(node).__name__
        if not isinstance(node, _ALLOWED_NODES):
            hint = "; use entity.field" if kind == "Getitem" else ""
            problems.append(TemplateProblem(f"templates may not use {_WORDS.get(kind, kind.lower())}{hint}", line))
            continue  # what it holds is not read: one problem per construct
        stack.extend(reversed(list(node.iter_child_nodes())))
        if isinstance(node, nodes.Filter):
            problems.extend(_check_filter(node, _value_type(node.node, fields), line))
        elif isinstance(node, nodes.Getattr):
            if not isinstance(node.node, nodes.Name):
                problems.append(TemplateProblem("templates may read only entity.field, one level deep", line))
            elif node.node.name in allowed:
                known = allowed[node.node.name]
                if known is None or node.attr not in known:
                    problems.append(TemplateProblem(f"unknown field '{node.node.name}.{node.attr}' in template", line))
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in allowed:
            problems.append(TemplateProblem(f"unknown name '{node.name}' in template", line))
        elif isinstance(node, nodes.Compare):
            problems.extend(_check_compare(node, fields, line))
    return problems


def _check_filter(node: nodes.Filter, value_type: str | None, line: int) -> list[TemplateProblem]:
    if node.name not in FILTERS:
        return [TemplateProblem(f"filter '{node.name}' is not allowed (allowed: {', '.join(sorted(FILTERS))})", line)]
    problems = []
    accepts = _ARGUMENTS[node.name]
    kinds = _KINDS.get(node.name, "")
    if node.kwargs or node.dyn_args or node.dyn_kwargs or len(node.args) > (1 if accepts else 0):
        taking = f"at most one argument, a literal {kinds}" if accepts else "no arguments"
        problems.append(TemplateProblem(f"filter '{node.name}' takes {taking}", line))
    else:
        for arg in node.args:
            if not isinstance(arg, nodes.Const) or isinstance(arg.value, bool) or not isinstance(arg.value, accepts):
                problems.append(TemplateProblem(f"the argument of filter '{node.name}' must be a literal {kinds}", line))
            elif node.name == "round" and not 0 <= arg.value <= MAX_ROUND:
                problems.append(TemplateProblem(f"round to 0 to {MAX_ROUND} places, not {arg.value}", line))
    if node.name in _NEEDS_NUMBER and value_type not in (None, "number"):
        problems.append(TemplateProblem(f"filter '{node.name}' needs a number; the value is {value_type}", line))
    if node.name == "length" and value_type not in (None, "text", "a list"):
        problems.append(TemplateProblem(f"filter 'length' needs a text or a list; the value is {value_type}", line))
    return problems


_SYMBOL = {"lt": "<", "lteq": "<=", "gt": ">", "gteq": ">="}
_TYPED_NAMES = {"subject": "text", "subjects": "a list", "rule": "text"}


def _value_type(node, fields) -> str | None:
    """What a value of a template is, where that is known: a fact field's type, a literal's, a
    filter's result; None when unknown (a table row's column)."""
    if isinstance(node, nodes.Const):
        value = node.value
        return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text" if isinstance(value, str) else None
    if isinstance(node, nodes.Name):
        return _TYPED_NAMES.get(node.name)
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        if node.node.name == "rule":
            return "text"
        return fields.get(node.node.name, {}).get(node.attr)
    if isinstance(node, nodes.Filter):
        return "number" if node.name in ("length", "int", "round") else "text" if node.name in ("lower", "upper", "title", "yesno") else None
    if isinstance(node, (nodes.Compare, nodes.Not, nodes.And, nodes.Or)):
        return "bool"
    return None


def _name(node) -> str:
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return f"{node.node.name}.{node.attr}"
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Filter):
        return f"the {node.name} filter's result"
    return "a literal"


def _check_compare(node: nodes.Compare, fields, line: int) -> list[TemplateProblem]:
    """An ordering (<, <=, >, >=) of values that are not two numbers or two dates fails when it is
    rendered (or, for two texts, compares spelling): refused here, wherever the types are known."""
    problems, left = [], node.expr
    for operand in node.ops:
        right = operand.expr
        if operand.op in _SYMBOL:
            kinds = {side: _value_type(side, fields) for side in (left, right)}
            if set(kinds.values()) - {None} not in ({"number"}, {"date"}, set()):
                side = next(s for s, k in kinds.items() if k not in (None, "number"))
                problems.append(TemplateProblem(f"'{_SYMBOL[operand.op]}' compares two numbers or two dates; {_name(side)} is {kinds[side]}", line))
        left = right
    return problems


class Rationale:
    """A checked, compiled template and where it is written (`path`, line, column: the position a
    failure to render it is reported at)."""

    __slots__ = ("template", "origin")

    def __init__(self, template, origin: tuple[str, int, int] | None = None):
        self.template, self.origin = template, origin

    def render(self, context: dict) -> str:
        """The text as rendered (whitespace as written), within MAX_RENDERED characters."""
        return _bounded(self.template, context, self.origin)

    def trial(self, context: dict) -> TemplateProblem | None:
        """What rendering it for `context` (at validation: the rule's own values, no fact documented)
        would fail with: past MAX_RENDERED (T002) or a value it cannot take (T001); None if it renders."""
        try:
            _bounded(self.template, context, None)
        except _TooLongError as exc:
            return TemplateProblem(f"template {exc} with the rule's own values and no fact documented: shorten it", 1, "T002")
        except ValueError as exc:
            return TemplateProblem(f"template {exc} with no fact documented", 1)
        return None


def compile_template(text: str, constants: dict[str, dict] | None = None, origin: tuple[str, int, int] | None = None) -> Rationale:
    """The compiled template (one per distinct text: a rule expanded per table row shares it), or,
    with `constants` (`tables`: a table in words), the template with `name.attr` of each name in
    `constants` replaced by its value in the syntax tree before it is compiled: a value is a
    literal of the template, never text pasted into its source. The text must have passed
    check_template."""
    if not constants:
        return Rationale(_compiled(text), origin)
    tree = _Constants(constants).visit(_parse(text))
    return Rationale(_ENV.template_class.from_code(_ENV, _ENV.compile(tree), _ENV.make_globals(None), None), origin)


@lru_cache(maxsize=4096)
def _compiled(text: str):
    return _ENV.template_class.from_code(_ENV, _ENV.compile(_parse(text)), _ENV.make_globals(None), None)


@lru_cache(maxsize=4096)
def _parsed(text: str):
    """The syntax tree, for reading only (a rule expanded per table row checks one text many times)."""
    return _parse(text)


class _Constants(NodeTransformer):
    def __init__(self, constants: dict[str, dict]):
        self.constants = constants

    def visit_Getattr(self, node):
        if isinstance(node.node, nodes.Name) and node.node.name in self.constants:
            return nodes.Const(self.constants[node.node.name][node.attr], lineno=node.lineno)
        return self.generic_visit(node)


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def render_constant(text: str, context: dict[str, dict]) -> str:
    """A text that reads only `context` (a title or documentation line reading a table row),
    rendered once; a text without template syntax is returned as written."""
    return render(_compiled(text), context) if is_template(text) else text


@lru_cache(maxsize=None)
def names_read(text: str) -> frozenset[str]:
    """The top-level names a template reads (`{{ item.visits }}` -> {"item"}), found from its syntax
    tree when first asked (the letter builds views only of these)."""
    if not is_template(text):
        return frozenset()
    try:
        tree = _parsed(text)
    except TemplateSyntaxError:
        return frozenset()
    return frozenset(n.name for n in tree.find_all(nodes.Name) if n.ctx == "load")


@lru_cache(maxsize=4096)
def attributes_read(text: str, name: str) -> frozenset[str]:
    """The fields of `name` a template reads (`{{ allowance.visits }}` -> {"visits"})."""
    try:
        tree = _parsed(text)
    except TemplateSyntaxError:
        return frozenset()
    return frozenset(n.attr for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == name)


class RenderError(InputError):
    """A template that cannot be rendered for one case (T003): too long, or a failing value."""


class _TooLong(Exception):
    pass


class _TooLongError(ValueError):
    pass


def _bounded(template, context: dict, origin: tuple[str, int, int] | None) -> str:
    """The rendering, streamed and stopped past MAX_RENDERED characters; a failure is a RenderError
    at `origin` (without one, a ValueError: the caller reports it)."""
    chunks, size = [], 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_RENDERED:
                raise _TooLong
            chunks.append(chunk)
    except _TooLong:
        why = f"renders past {MAX_RENDERED:,} characters"
    except Exception as exc:  # a value the template cannot take (the sandbox's refusal included)
        why = f"cannot be rendered: {type(exc).__name__}: {exc}"
    else:
        return "".join(chunks)
    if origin is None:
        raise (_TooLongError if why.startswith("renders past") else ValueError)(why)
    rule = context.get("rule") if isinstance(context, dict) else None
    whose = f"rationale of rule '{rule['id']}'" if isinstance(rule, dict) and rule.get("id") else "rationale"
    raise RenderError([Diagnostic(str(origin[0]), origin[1], origin[2], "T003", f"{whose} {why} for this case")])


def render(template, context: dict) -> str:
    """A rationale (or a bare compiled template) rendered for `context`, whitespace collapsed."""
    if isinstance(template, Rationale):
        text = template.render(context)
    else:
        text = _bounded(template, context, None)
    return " ".join(text.split())


class FactView(dict):
    """A fact as a template sees it: every schema field present, undocumented ones as NotDocumented."""

    @classmethod
    def of(cls, fact: dict | None, fields: dict[str, str]) -> "FactView":
        fact = fact or {}
        return cls({name: fact.get(name, NotDocumented()) for name in fields} | {k: v for k, v in fact.items() if k in ("id",)})
