import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rft_grader.formula import FormulaError, FormulaEvalError, parse_formula

VALUES = {"a": 0.25, "b": 0.75, "tool_selection": 1.0, "x_2": 2.0}

EXPRESSIONS = [
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("10 - 4 - 3", 3.0),  # left-associative
    ("2 / 4 / 2", 0.25),
    ("2 ^ 3 ^ 2", 512.0),  # right-associative
    ("-2 ^ 2", -4.0),  # unary minus binds looser than ^
    ("2 ^ -1", 0.5),
    ("--a", 0.25),
    ("-(a - b)", 0.5),
    ("+a", 0.25),
    ("0.4 * tool_selection + 0.3 * a + 0.3 * b", 0.7),
    ("min(a, b)", 0.25),
    ("max(a, b, 0.5)", 0.75),
    ("min(a)", 0.25),
    ("abs(a - b)", 0.5),
    ("floor(x_2 * 1.6)", 3.0),
    ("ceil(1.2)", 2.0),
    ("exp(0)", 1.0),
    ("sqrt(16)", 4.0),
    ("log(exp(2))", 2.0),
    (".5 + 1e-1 + 2E1", 20.6),
    ("a*b", 0.1875),
    ("max(min(a, b), min(b, 1)) ^ 2", 0.5625),
]


@pytest.mark.parametrize(("text", "expected"), EXPRESSIONS)
def test_formula_table_evaluates_as_arithmetic(text: str, expected: float) -> None:
    assert parse_formula(text, VALUES.keys()).evaluate(VALUES) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "position", "reason"), [
    ("a + c", 4, "unknown name 'c'"),
    ("a +", 3, "expected a number"),
    ("", 0, "formula is empty"),
    ("(a + b", 6, "expected ')'"),
    ("a b", 2, "unexpected 'b'"),
    ("a $ b", 2, "unexpected character '$'"),
    ("pow(a, 2)", 0, "unknown function 'pow'"),
    ("sqrt(a, b)", 0, "sqrt() takes 1"),
    ("max()", 0, "max() takes at least 1"),
    ("min", 0, "needs arguments"),
    ("1e999", 0, "out of range"),
    ("__import__('os')", 11, "unexpected character \"'\""),
    ("__import__(a)", 0, "unknown function '__import__'"),
    ("a.b", 1, "unexpected character '.'"),
])
def test_invalid_formula_is_refused_with_its_position(text: str, position: int,
                                                      reason: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text, VALUES.keys())
    assert caught.value.position == position
    assert reason in caught.value.reason


@pytest.mark.parametrize("text", ["1 / (a - a)", "log(0)", "sqrt(-1)", "(-8) ^ 0.5", "exp(1000)",
                                  "10 ^ 400"])
def test_formula_without_a_value_for_these_rewards_is_an_eval_error(text: str) -> None:
    with pytest.raises(FormulaEvalError):
        parse_formula(text, VALUES.keys()).evaluate(VALUES)


def test_deep_nesting_is_a_validation_error_not_a_recursion_error() -> None:
    with pytest.raises(FormulaError, match="nested deeper"):
        parse_formula("(" * 2000 + "1" + ")" * 2000)


def test_long_left_chain_evaluates_without_recursion() -> None:
    assert parse_formula(" + ".join(["a"] * 2000), {"a"}).evaluate({"a": 1.0}) == 2000.0


def test_names_used_by_the_formula_are_reported() -> None:
    assert parse_formula("0.5 * a + max(b, 1)").names == {"a", "b"}


ALPHABET = [*"ab+-*/^(),. 0123456789e", "min(", "max(", "sqrt(", "log(", "exp(", "abs(",
            "floor(", "ceil(", "zz", "$", "\x00", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_random_formulas_raise_nothing_but_formula_errors(text: str, a: float, b: float) -> None:
    try:
        formula = parse_formula(text, {"a", "b"})
    except FormulaError:
        return
    try:
        value = formula.evaluate({"a": a, "b": b})
    except FormulaEvalError:
        return
    assert math.isfinite(value)
