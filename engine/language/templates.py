"""Rationale templates: jinja2's immutable sandbox, restricted further to `{{ entity.field }}`.

A template may read facts (`{{ history.visits_completed }}`), the rule's allowance (in a rule
written against a table, its row), a table in words (`{{ tables.NAME }}`, a literal of the
template: compile_template) and the finding's subject, and apply a few formatting filters.
Calls, attribute chains, and names outside the fact vocabulary are rejected at validation, so
rule text cannot reach Python internals; the sandbox is the second wall. A fact that is not
documented renders as "not documented".
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

NOT_DOCUMENTED_TEXT = "not documented"
ALLOWED_FILTERS = {"default", "round", "int", "lower", "upper", "title", "replace", "join", "length", "yesno"}
EXTRA_NAMES = {"allowance": {"visits", "weeks", "text"}, "subject": None, "subjects": None, "rule": {"id", "title", "section", "pages"}}


class NotDocumented:
    """Renders as 'not documented'; compares unequal to everything."""

    def __str__(self) -> str:
        return NOT_DOCUMENTED_TEXT

    def __bool__(self) -> bool:
        return False


def _yesno(value, choices: str = "yes,no,not documented") -> str:
    yes, no, unknown = (choices.split(",") + ["", "", ""])[:3]
    if isinstance(value, NotDocumented) or value is None:
        return unknown
    return yes if value else no


_ENV = ImmutableSandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["yesno"] = _yesno
_ENV.globals.clear()


class TemplateProblem(ValueError):
    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.message, self.line = message, line


def check_template(text: str, fields: dict[str, dict[str, str]], names: dict | None = None) -> list[TemplateProblem]:
    """Names, attribute access, calls and filters a template uses, checked against the facts.
    `names` adds or replaces names beyond the facts (a table rule's `allowance`: the row's columns)."""
    try:
        tree = _parsed(text)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(f"template syntax: {exc.message}", exc.lineno or 1)]
    problems: list[TemplateProblem] = []
    allowed = {**{k: set(v) for k, v in fields.items()}, **EXTRA_NAMES, **(names or {})}
    for node in tree.find_all((nodes.Call, nodes.Getitem, nodes.Filter, nodes.Getattr, nodes.Name, nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends, nodes.Macro, nodes.Assign)):
        line = getattr(node, "lineno", 1) or 1
        if isinstance(node, (nodes.Call, nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends, nodes.Macro, nodes.Assign)):
            problems.append(TemplateProblem(f"templates may not use {type(node).__name__.lower()}", line))
        elif isinstance(node, nodes.Getitem):
            problems.append(TemplateProblem("templates may not index values; use entity.field", line))
        elif isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            problems.append(TemplateProblem(f"filter '{node.name}' is not allowed (allowed: {', '.join(sorted(ALLOWED_FILTERS))})", line))
        elif isinstance(node, nodes.Getattr):
            if not isinstance(node.node, nodes.Name):
                problems.append(TemplateProblem("templates may read only entity.field, one level deep", line))
            elif node.node.name in allowed:
                known = allowed[node.node.name]
                if known is None or node.attr not in known:
                    problems.append(TemplateProblem(f"unknown field '{node.node.name}.{node.attr}' in template", line))
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in allowed:
            problems.append(TemplateProblem(f"unknown name '{node.name}' in template", line))
    return problems


def compile_template(text: str, constants: dict[str, dict] | None = None):
    """The compiled template (one per distinct text: a rule expanded per table row shares it), or,
    with `constants` (`tables`: a table in words), the template with `name.attr` of each name in
    `constants` replaced by its value in the syntax tree before it is compiled: a value is a
    literal of the template, never text pasted into its source."""
    if not constants:
        return _compiled(text)
    tree = _Constants(constants).visit(_ENV.parse(text))
    return _ENV.template_class.from_code(_ENV, _ENV.compile(tree), _ENV.make_globals(None), None)


@lru_cache(maxsize=4096)
def _compiled(text: str):
    return _ENV.from_string(text)


@lru_cache(maxsize=4096)
def _parsed(text: str):
    """The syntax tree, for reading only (a rule expanded per table row checks one text many times)."""
    return _ENV.parse(text)


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


@lru_cache(maxsize=4096)
def attributes_read(text: str, name: str) -> frozenset[str]:
    """The fields of `name` a template reads (`{{ allowance.visits }}` -> {"visits"})."""
    try:
        tree = _parsed(text)
    except TemplateSyntaxError:
        return frozenset()
    return frozenset(n.attr for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == name)


def render(template, context: dict) -> str:
    return " ".join(template.render(context).split())


class FactView(dict):
    """A fact as a template sees it: every schema field present, undocumented ones as NotDocumented."""

    @classmethod
    def of(cls, fact: dict | None, fields: dict[str, str]) -> "FactView":
        fact = fact or {}
        return cls({name: fact.get(name, NotDocumented()) for name in fields} | {k: v for k, v in fact.items() if k in ("id",)})
