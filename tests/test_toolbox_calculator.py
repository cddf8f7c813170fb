"""tools/calculator.py: arithmetic, and every way to make it slow or large refused quickly."""

from __future__ import annotations

import time

import pytest

from agentkit.errors import AgentkitError
from tools.calculator import MAX_DIGITS, calculate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("17 * 23", 391),
        ("2 ** 10", 1024),
        ("(2 + 3) * 4", 20),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("round(2.567, 2)", 2.57),
        ("sqrt(16) + abs(-2)", 6),
        ("log(8, 2)", 3),
        ("factorial(5)", 120),
        ("floor(2.5) + ceil(2.5)", 5),
        ("2 ** -1", 0.5),
        ("1e20", 1e20),
    ],
)
def test_arithmetic(expression: str, expected: float) -> None:
    result = calculate(expression)
    assert result == pytest.approx(expected)
    assert type(result) is type(expected)


def test_pi_and_e() -> None:
    assert calculate("cos(pi)") == -1
    assert calculate("log(e)") == 1


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("((10**1000)**1000)**10", "more than 1000 digits"),  # ran 13.5 s before the bound
        ("9**9**9", "more than 1000 digits"),
        ("2**4000", "more than 1000 digits"),
        ("10**600 * 10**600", "more than 1000 digits"),
        ("(10**999 + 10**999) * 10**999", "more than 1000 digits"),
        ("factorial(10**6)", "factorial(1000000) would have more than 1000 digits"),
        ("factorial(factorial(20))", "more than 1000 digits"),
        ("factorial(451)", "more than 1000 digits"),
        ("exp(1000)", "too large for a floating-point number"),
        ("2.0 ** 5000", "too large for a floating-point number"),
        ("10**500 * 1.5", "too large for a floating-point number"),
        ("1e308 * 10", "not a finite number"),
        ("(-8) ** (1/3)", "not a real number"),
        ("1 / 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("sqrt(-1)", "sqrt(-1): math domain error"),
        ("round(1.5, 10**9)", "round's digits"),
        ("factorial(2.5)", "whole number"),
        ("-" * 150 + "1", "nested more than"),
        ("1" * 201, "longer than 200 characters"),
    ],
)
def test_attacks_are_refused_quickly_and_clearly(expression: str, why: str) -> None:
    started = time.perf_counter()
    with pytest.raises(AgentkitError, match=why.replace("(", r"\(").replace(")", r"\)")):
        calculate(expression)
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("__import__('os').system('true')", "unknown function"),
        ("().__class__.__bases__[0].__subclasses__()", "unknown function"),
        ("(1).__class__", "unsupported syntax: Attribute"),
        ("open('/etc/passwd')", "unknown function"),
        ("x", "unknown name 'x'"),
        ("lambda: 1", "unsupported syntax: Lambda"),
        ("[1] * 10**9", "unsupported syntax: List"),
        ("'a' * 10**9", "unsupported syntax: Constant"),
        ("True + 1", "unsupported syntax: Constant"),
        ("1 if 1 else 2", "unsupported syntax: IfExp"),
        ("1 << 100000", "unsupported syntax: BinOp"),
        ("sqrt(x=4)", "unknown function"),
        ("sqrt(1, 2)", "sqrt takes 1 to 1 arguments"),
        ("2 +", "not an arithmetic expression"),
        ("import os", "not an arithmetic expression"),
    ],
)
def test_anything_but_arithmetic_is_refused(expression: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        calculate(expression)


def test_big_numbers_are_shown_by_their_size_in_messages() -> None:
    with pytest.raises(ValueError) as caught:
        calculate("((10**1000)**1000)**10")
    assert "<a 1001-digit number> ** 1000" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_results_up_to_the_bound_are_exact() -> None:
    assert calculate("10 ** 999") == 10**999
    assert len(str(calculate("factorial(449)"))) <= MAX_DIGITS
    assert calculate("2 ** 53 + 1.0") == 2.0**53  # large floats stay floats


def test_the_tool_schema_bounds_the_length() -> None:
    from tools.calculator import toolbox

    schema = toolbox["calculate"].parameters["properties"]["expression"]
    assert schema["maxLength"] == 200
