"""Regression tests of issue 13, item 4: rule text that validates must not exhaust memory or fail
every decision. Templates are a bounded language (engine/language/templates.py: no loops, no
arithmetic or concatenation, filters of an allow-list, limits on substitutions, expression length
and nesting; a rendering cap at decide time), and a number in a condition is one durable-rules
holds as written (engine/language/conditions.py, C007). Each test marked "before:" failed before
the fix, as said there. Commands that could exhaust memory on a regression run in a child process
under an address-space cap and a time limit."""

from __future__ import annotations

import itertools
import json
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import commands
from engine.language import templates
from engine.language.conditions import ConditionError, parse
from engine.language.evaluate import holds
from engine.language.templates import check_template, compile_template, render
from engine.model.diagnostics import CODES, InputError

from .conftest import ROOT, SEED, run

LIMIT = 1_500_000_000  # bytes of address space for a child
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # whole numbers durable-rules compares as written (measured below)
MAX_ADDEND = 2**53  # of `ref + N`, what conditions accept
MAX_RENDERED = 50_000  # characters of one rendering (templates.MAX_RENDERED)
PM = "packs/mtus-cpmtg-2009-physical-medicine.yaml"
PM_PATH = ROOT / "guideline_rules" / PM
ANCHOR = "functional improvement from prior therapy (improved"  # in cpmtg.pm.functional-improvement's not_documented
REQUIRE = "require: item.frequency_per_week <= 3"  # cpmtg.pm.frequency-fading
FIELDS = {"history": {"visits_completed": "number", "functional_improvement": "bool"}, "item": {"region": "text"},
          "request": {"date": "date"}, "surgery": {"date": "date"}}


def _cap():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def imr(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """`imr ARGS` in a fresh process with a memory cap and a time limit (a hang fails the test)."""
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          errors="replace", timeout=timeout, preexec_fn=_cap)


def rules_with(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the project's rules with `old` replaced by `new` in the physical medicine pack
    (the seed case's), and the line `new` is on."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "guideline_rules", rules)
    text = PM_PATH.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    (rules / PM).write_text(text, encoding="utf-8")
    return rules, text[: text.index(new)].count("\n") + 1


def _rationale_key_line() -> int:
    """The line of `not_documented:` of cpmtg.pm.functional-improvement (where its problems are reported)."""
    lines = PM_PATH.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "id: cpmtg.pm.functional-improvement" in line)
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith("not_documented:")) + 1


def _problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(r"^[^\n]+:\d+:\d+: [A-Z]\d{3} ", line)]


# ------------------------------------------------------------------ templates that multiply output

P100 = "(" * 100 + "1" + ")" * 100
MULTIPLYING = {  # the three, and two that broke the parser instead
    "string multiplication": ("{{ 'x' * 3000000000 }} ", "T001", "arithmetic ('*')"),
    "nested loops": ("{% for a in rule.title %}{% for b in rule.title %}{% for c in rule.title %}{% for d in rule.title %}"
                     "{% for e in rule.title %}xxxxxxxxxx{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %} ",
                     "T001", "loops"),
    "chained replace": ("{{ rule.title | replace('', rule.title) | replace('', rule.title) | replace('', rule.title)"
                        " | replace('', rule.title) }} ", "T001", "filter 'replace' is not allowed"),
    "100 nested parentheses": ("{{ " + P100 + " }} ", "T002", "nested deeper"),
    "33 substitutions": ("{{ subject }}" * 33 + " ", "T002", "more than 32 substitutions"),
}


@pytest.mark.parametrize("name", list(MULTIPLYING))
def test_a_template_that_multiplies_output_is_refused_by_validate_and_decide_says_so(tmp_path, name):
    """before: string multiplication, nested loops and chained replace validated, then decide
    reached 2.6 GB and exited 3 (under this cap: MemoryError, exit 3); 100 nested parentheses were
    a RecursionError, reported as Y009 at the folder's 1:1 by validate and exit 3 by decide; 33
    substitutions validated."""
    template, code, words = MULTIPLYING[name]
    rules, _ = rules_with(tmp_path, ANCHOR, template + ANCHOR)
    expected = f"{rules / PM}:{_rationale_key_line()}:7: {code} "
    validate = imr("validate", rules)
    assert validate.returncode == 1, validate.stderr
    assert "Traceback" not in validate.stderr
    lines = _problem_lines(validate.stdout)  # validate reports on standard output, decide on standard error
    assert len(lines) == 1 and lines[0].startswith(expected) and words in lines[0], validate.stdout + validate.stderr
    decide = imr("decide", SEED, "--rules", rules)
    assert decide.returncode == 2, decide.stderr
    assert decide.stdout == "" and "Traceback" not in decide.stderr
    assert _problem_lines(decide.stderr) == lines


REFUSED = {  # each was accepted before (`before: []`)
    "{{ rule.title * 3 }}": "arithmetic ('*')",
    "{{ subject + subject }}": "arithmetic ('+')",
    "{{ subject ~ subject }}": "string concatenation ('~')",
    "{{ '%s%s' % (subject, subject) }}": "arithmetic ('%')",
    "{{ -history.visits_completed }}": "arithmetic (unary '-')",
    "{{ [subject, subject] }}": "list literals",
    "{{ {'a': subject} }}": "dict literals",
    "{{ subject is defined }}": "tests ('is ...')",
    "{% filter upper %}{{ subject }}{% endfilter %}": "filter blocks",
    "{{ subjects | join(rule.title) }}": "filter 'join' is not allowed",
    "{{ rule.title | replace('a', 'bb') }}": "filter 'replace' is not allowed",
    "{{ history.visits_completed | default(rule.title) }}": "the argument of filter 'default' must be a literal",
    "{{ history.visits_completed | round(1000000) }}": "round to 0 to 6 places",
    "{{ item.region | round }}": "filter 'round' needs a number; the value is text",
    "{{ 'a' if history.visits_completed > subject else 'b' }}": "subject is text",
    "{{ 'a' if subjects > 3 else 'b' }}": "subjects is a list",
    "{{ 'a' if item.region > 3 else 'b' }}": "item.region is text",
}
OVER_LIMITS = {
    "{{ " + "not " * 60 + "history.functional_improvement }}": "longer than 48 tokens",
    "{{ " + " and ".join(["history.functional_improvement"] * 30) + " }}": "longer than 48 tokens",
    "{% if true %}" * 5 + "x" + "{% endif %}" * 5: "{% if %} blocks nested deeper than 4",
    "{{ ((((((1)))))) }}": "brackets nested deeper than 4",
}


@pytest.mark.parametrize("text", list(REFUSED))
def test_a_construct_outside_the_bounded_language_is_refused(text):
    """before: each was accepted (check_template returned no problem)."""
    problems = check_template(text, FIELDS)
    assert [p.code for p in problems] == ["T001"] and REFUSED[text] in problems[0].message, problems


@pytest.mark.parametrize("text", list(OVER_LIMITS))
def test_a_template_past_the_limits_of_the_language_is_refused(text):
    """before: each was accepted."""
    problems = check_template(text, FIELDS)
    assert [p.code for p in problems] == ["T002"] and OVER_LIMITS[text] in problems[0].message, problems


def test_what_the_shipped_packs_use_is_in_the_language():
    """Not a regression test: the constructs the packs use (and their statement form) still pass."""
    for text in ['{{ "is" if subjects | length == 1 else "are" }} {{ history.visits_completed }} {{ allowance.visits }}',
                 "{% if history.visits_completed > 3 %}more{% elif history.functional_improvement %}some{% else %}none{% endif %}",
                 "{{ history.functional_improvement | yesno('improved,unchanged,not documented') }} {{ item.region | title }}",
                 "{{ history.visits_completed | round(1) }} {{ item.region | default('any') }} {% raw %}{{ x * 3 }}{% endraw %}",
                 '{{ "a" if surgery.date > request.date else "b" }} {{ "a" if 3 < history.visits_completed <= 6 else "b" }}']:
        assert check_template(text, FIELDS) == [], text


# ------------------------------------------------------------------ the rendering cap (second guard)

def test_a_rendering_past_the_cap_is_a_positioned_T003_not_a_memory_error():
    """before: compile_template had no origin and render no cap (TypeError here)."""
    rationale = compile_template("{{ subject }} {{ subject }}", origin=("pack.yaml", 12, 7))
    context = {"subject": "x" * (MAX_RENDERED // 2 + 1), "rule": {"id": "some.rule"}}
    with pytest.raises(InputError) as raised:  # templates.RenderError
        render(rationale, context)
    (d,) = raised.value.diagnostics
    assert (d.path, d.line, d.col, d.code) == ("pack.yaml", 12, 7, "T003")
    assert "rationale of rule 'some.rule' renders past 50,000 characters for this case" == d.message
    assert render(rationale, {"subject": "x" * 100}) == " ".join(["x" * 100] * 2)


def test_decide_past_the_rendering_cap_fails_the_case_with_one_positioned_line(engine, capsys, monkeypatch):
    """before: no cap (MAX_RENDERED did not exist): a rendering took whatever memory it needed."""
    monkeypatch.setattr(commands, "_engine", lambda rules: engine)
    monkeypatch.setattr(templates, "MAX_RENDERED", 200)  # after the engine is built: below what the seed's rationales render
    code, out, err = run(capsys, "decide", SEED)
    assert code == 2 and out == "" and "Traceback" not in err
    lines = _problem_lines(err)
    assert len(lines) == 1 and re.match(r"^.+/guideline_rules/packs/[a-z0-9-]+\.yaml:\d+:\d+: T003 rationale of rule '[^']+' "
                                        r"renders past 200 characters for this case$", lines[0]), err


def test_validate_refuses_a_rule_whose_own_values_render_past_the_cap(tmp_path, capsys):
    """before: validated (13 copies of a 3,900-character title, 50,700 characters)."""
    title = "Continued therapy requires documented functional improvement from prior therapy"
    rules, _ = rules_with(tmp_path, f"    title: {title}\n", f"    title: {'t' * 3900}\n")
    text = (rules / PM).read_text(encoding="utf-8").replace(ANCHOR, "{{ rule.title }} " * 13 + ANCHOR, 1)
    (rules / PM).write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "validate", rules)
    lines = _problem_lines(out)
    assert code == 1 and len(lines) == 1, out + err
    assert lines[0].startswith(f"{rules / PM}:{_rationale_key_line()}:7: T002 template renders past 50,000 characters "
                               "with the rule's own values and no fact documented"), out


def test_an_ordering_on_an_undocumented_fact_renders_instead_of_failing_the_case(tmp_path, capsys):
    """before: `x > 3` on an undocumented x raised TypeError while the letter was written (exit 3)."""
    rules, _ = rules_with(tmp_path, ANCHOR, '{{ "more than three" if history.visits_completed > 3 else "few" }} visits; ' + ANCHOR)
    assert run(capsys, "validate", rules)[0] == 0
    code, out, err = run(capsys, "decide", SEED, "--rules", rules, "--format", "json")
    assert code == 0, err
    rationale = json.loads(out)["items"][0]["rationale"]
    assert "few visits; functional improvement from prior therapy" in rationale


# ------------------------------------------------------------------ numbers in conditions

ACCEPTED = [str(INT_MAX), str(INT_MIN), "0", "3", "-0.0", "0.0001", "0.1", "2.5", "3.14159265358979", "999999999999999.9",
            "1.000000000000000000000"]
REFUSED_NUMBERS = {
    "2^63": str(INT_MAX + 1),
    "-2^63 - 1": str(INT_MIN - 1),
    "400 digits": "9" * 400,
    "400 digits and a fraction (infinity)": "9" * 400 + ".5",
    "1e-05": "0.00001",
    "1e+16": "10000000000000000.0",
    "more digits than a double": "3.99999999999999999999",
}


def test_numbers_the_rules_engine_holds_are_accepted():
    for number in ACCEPTED:
        parse(f"item.visits_requested <= {number}")
    parse(f"item.visits_requested <= history.visits_total + {MAX_ADDEND}")
    parse(f"item.visits_requested >= history.visits_total - {MAX_ADDEND}")


@pytest.mark.parametrize("name", list(REFUSED_NUMBERS))
def test_a_number_the_rules_engine_cannot_hold_is_C007_at_its_column(name):
    """before: parsed (and validated); decide then failed to create the ruleset (error 202, 204)
    or compared with another number than the one written."""
    number = REFUSED_NUMBERS[name]
    text = f"item.visits_requested <= 3 or item.visits_requested >= {number}"
    with pytest.raises(ConditionError) as raised:
        parse(text)
    assert [(e.code, e.line, e.col) for e in raised.value.errors] == [("C007", 1, text.index(number) + 1)]


@pytest.mark.parametrize("addend", [MAX_ADDEND + 1, -(MAX_ADDEND + 1)])
def test_an_addend_past_2_53_is_C007(addend):
    """before: accepted; durable-rules' addition wraps past int64 (see the measurement below)."""
    with pytest.raises(ConditionError) as raised:
        parse(f"item.visits_requested <= history.visits_total + {addend}")
    assert raised.value.code == "C007"


def test_every_bad_number_of_a_condition_is_reported():
    """before: accepted."""
    text = f"item.visits_requested <= {'9' * 30} and history.visits_total in [1, 0.00001]"
    with pytest.raises(ConditionError) as raised:
        parse(text)
    assert [e.col for e in raised.value.errors] == [text.index("9") + 1, text.index("0.00001") + 1]


@pytest.mark.parametrize("number", ["9" * 400 + ".5", "0.00001", "9" * 400])
def test_a_bad_number_in_a_rule_is_refused_by_validate_not_by_every_decide(tmp_path, capsys, number):
    """before: validated; then every decide exited 3 ("Could not create ruleset, error code: 202"
    for the infinity, 204 for 1e-05), or (400 digits) decided, comparing with 2^63 - 1."""
    rules, line = rules_with(tmp_path, REQUIRE, f"require: item.frequency_per_week <= {number}")
    col = (rules / PM).read_text(encoding="utf-8").splitlines()[line - 1].index(number) + 1
    for argv, exit_code in ((["validate", rules], 1), (["decide", SEED, "--rules", rules], 2)):
        code, out, err = run(capsys, *argv)
        lines = _problem_lines(out + err)
        assert code == exit_code and "Traceback" not in err, out + err
        assert len(lines) == 1 and lines[0].startswith(f"{rules / PM}:{line}:{col}: C007 number "), out + err  # and no R005 after it


def test_the_new_codes_are_registered():
    assert {"C007", "T002", "T003"} <= set(CODES)
    from engine.language import conditions

    assert (conditions.INT_MIN, conditions.INT_MAX, conditions.MAX_ADDEND, templates.MAX_RENDERED) == (INT_MIN, INT_MAX, MAX_ADDEND, MAX_RENDERED)


# ------------------------------------------------------------------ the measurements behind the limits

_names = itertools.count()


def _fires(definition: str, fact: str):
    """Whether durable-rules fires a one-rule ruleset for one fact; the error text if it cannot create it."""
    import durable_rules_engine as dre

    try:
        handle = dre.create_ruleset(f"bounded_{next(_names)}", definition)
    except Exception as exc:  # durable-rules raises a bare Exception with its error code
        return str(exc)
    try:
        _, state = dre.assert_fact(handle, fact)
        return bool(dre.start_action_for_state(handle, state))
    finally:
        dre.delete_ruleset(handle)


def _compare(op: str, literal) -> str:
    """A ruleset comparing `x` with `literal`, written as the engine writes it (json.dumps)."""
    test = {"x": literal} if op == "$eq" else {op: {"x": literal}}
    return json.dumps({"r": {"all": [{"m": test}]}})


OPS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">=", "$eq": "=="}


@pytest.mark.parametrize("number", ACCEPTED)
def test_durable_rules_compares_every_accepted_boundary_number_as_written(number):
    """Not a regression test: the accepted side of the limit, measured (the compiled test agrees
    with the Python evaluator at and around each accepted number)."""
    literal = parse(f"item.visits_requested <= {number}").value
    values = {0, 5, -5, INT_MAX, INT_MIN, 2**53, 0.5, literal}
    if isinstance(literal, int) and not isinstance(literal, bool):
        values |= {v for v in (literal - 1, literal + 1) if INT_MIN <= v <= INT_MAX}
    for value in values:
        for op, symbol in OPS.items():
            got = _fires(_compare(op, literal), json.dumps({"id": "1", "sid": "1", "x": value}))
            assert got == holds(symbol, value, literal), (number, value, symbol, got)


def test_durable_rules_misreads_the_numbers_that_are_refused():
    """Not a regression test: why C007 refuses what it refuses, measured on durable-rules 2.0.28."""
    fact = json.dumps({"id": "1", "sid": "1", "x": INT_MAX})
    # past int64 an integer literal saturates at 2^63 - 1: x = 2^63 - 1 is not < 2^63
    assert _fires(_compare("$lt", INT_MAX + 1), fact) is False
    assert _fires(_compare("$lt", int("9" * 400)), fact) is False
    # an exponent (Python's JSON writes one below 1e-4 and from 1e16) and an infinity cannot be read
    assert "error code: 204" in _fires(_compare("$lte", 0.00001), fact)
    assert "error code: 204" in _fires(_compare("$lte", 1e16), fact)
    assert "error code: 202" in _fires(_compare("$lte", float("9" * 400 + ".5")), fact)
    # the addition of `ref + N` wraps past int64: 0 <= 5 + (2^63 - 1) does not fire
    wraps = json.dumps({"r": {"all": [{"m": {"$lte": {"x": {"$add": {"$l": {"$m": "y"}, "$r": INT_MAX}}}}}]}})
    assert _fires(wraps, json.dumps({"id": "1", "sid": "1", "x": 0, "y": 5})) is False
    within = json.dumps({"r": {"all": [{"m": {"$lte": {"x": {"$add": {"$l": {"$m": "y"}, "$r": MAX_ADDEND}}}}}]}})
    assert _fires(within, json.dumps({"id": "1", "sid": "1", "x": 0, "y": 99991231})) is True
