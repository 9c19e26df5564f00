"""The condition language: parsing, errors with positions, and Kleene semantics.

The property test checks the compiler's core claim: the true / false / unknown alternatives that
kleene.outcomes() builds (and that become durable-rules patterns) agree with a direct three-valued
evaluation of the same condition, for every partial assignment of facts.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.language.conditions import And, Compare, ConditionError, Documented, Not, Or, Ref, check, parse
from engine.language.evaluate import evaluate
from engine.language.evaluate import test_holds as holds  # not collected as a test
from engine.language.kleene import outcomes

FIELDS = {"a": {"x": "number", "y": "number", "b": "bool", "s": "text"}}


def test_parses_the_documented_forms():
    expr = parse('a.x <= 10 and (a.b or a.s in ["p", "q"]) and a.y is not documented')
    assert isinstance(expr, And)
    assert not check(expr, FIELDS)


@pytest.mark.parametrize("text,col", [("a.x ==", 7), ("a.x = 3", 5), ('__import__("os")', 11), ("a.x == 1 and", 13), ("a.x.y == 1", 4)])
def test_bad_conditions_report_a_column(text, col):
    with pytest.raises(ConditionError) as info:
        parse(text)
    assert info.value.col == col


@pytest.mark.parametrize("text,message", [
    ("a.zz == 1", "unknown field 'a.zz'"),
    ("q.x == 1", "unknown fact 'q'"),
    ('a.x == "ten"', "type mismatch"),
    ("a.b > 1", "type mismatch"),
    ('a.s < "b"', "needs numbers"),
])
def test_type_errors(text, message):
    problems = check(parse(text), FIELDS)
    assert problems and message in problems[0].message


# --- three-valued semantics -------------------------------------------------------------------

def matches(dnf, facts):
    """Whether some alternative of the compiled logic holds (tests over the one fact `a`)."""
    return any(all(holds(t, {"a": facts}) for t in conj) for conj in dnf)


refs = st.sampled_from([Ref("a", "x"), Ref("a", "y")])
atoms = st.one_of(
    st.builds(Compare, refs, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), st.integers(0, 3)),
    st.builds(Documented, refs, st.booleans()),
)
exprs = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(lambda items: And(tuple(items)), st.lists(inner, min_size=2, max_size=3)),
    st.builds(lambda items: Or(tuple(items)), st.lists(inner, min_size=2, max_size=3)),
    st.builds(Not, inner),
), max_leaves=6)
assignments = st.fixed_dictionaries({"x": st.one_of(st.none(), st.integers(0, 3)), "y": st.one_of(st.none(), st.integers(0, 3))})


@settings(max_examples=300, deadline=None)
@given(exprs, assignments)
def test_outcomes_agree_with_three_valued_evaluation(expr, facts):
    t, f, u = outcomes(expr)
    expected = evaluate(expr, {"a": {k: v for k, v in facts.items() if v is not None}})
    assert matches(t, facts) == (expected is True)
    assert matches(f, facts) == (expected is False)
    assert matches(u, facts) == (expected is None)
