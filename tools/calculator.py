"""Arithmetic without `eval`: the expression is parsed, and only numbers and operators run.

Every intermediate result is bounded before it is computed: integers to `MAX_DIGITS` decimal
digits, floats to the float range, the expression to `MAX_LENGTH` characters, `MAX_NODES` parts
and `MAX_DEPTH` levels of nesting. So `((10**1000)**1000)**10` or `factorial(10**6)` is refused
at once with a message saying why, instead of running for seconds and filling memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated, TypeAlias

from pydantic import Field

from agentkit import Toolbox

from ._errors import ToolError

__all__ = ["MAX_DEPTH", "MAX_DIGITS", "MAX_LENGTH", "MAX_NODES", "calculate", "toolbox"]

MAX_LENGTH = 200
MAX_DIGITS = 1000
MAX_NODES = 400
MAX_DEPTH = 100
_MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))
_EXACT_FLOAT = 2**53

Number: TypeAlias = int | float

toolbox = Toolbox()


class _TooLarge(ToolError):
    pass


def _show(value: Number) -> str:
    """A number for a message: huge integers by their size only."""
    text = repr(value)
    return text if len(text) <= 24 else f"<a {len(text)}-digit number>"


def _int_bits(value: Number) -> float:
    """An upper bound of the bits of `value` as an integer (floats count by magnitude)."""
    if isinstance(value, int):
        return float(value.bit_length())
    return math.log2(abs(value)) + 1 if value else 0.0


def _check(value: Number) -> Number:
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number")
    if isinstance(value, int) and value.bit_length() > _MAX_BITS:
        raise _TooLarge(f"an intermediate result has more than {MAX_DIGITS} digits")
    return value


def _power(base: Number, exponent: Number) -> Number:
    if base == 0 and exponent < 0:
        raise ZeroDivisionError
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if _int_bits(base) * exponent > _MAX_BITS + exponent:
            raise _TooLarge(
                f"{_show(base)} ** {_show(exponent)} would have more than {MAX_DIGITS} digits"
            )
    return base**exponent


def _multiply(left: Number, right: Number) -> Number:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > _MAX_BITS + 1:
            raise _TooLarge(f"a product would have more than {MAX_DIGITS} digits")
    return left * right


def _factorial(n: Number) -> Number:
    if not isinstance(n, int) and not (isinstance(n, float) and n.is_integer()):
        raise ToolError("factorial needs a whole number")
    n = int(n)
    if n < 0:
        raise ToolError("factorial needs a number >= 0")
    if math.lgamma(n + 1) / math.log(10) > MAX_DIGITS:
        raise _TooLarge(f"factorial({_show(n)}) would have more than {MAX_DIGITS} digits")
    return math.factorial(n)


def _round(value: Number, digits: Number = 0) -> Number:
    if not isinstance(digits, int) or abs(digits) > MAX_DIGITS:
        raise ToolError(f"round's digits must be a whole number within ±{MAX_DIGITS}")
    return round(value, digits)


_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: _multiply,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "factorial": (_factorial, 1, 1),
}
_CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _call(node: ast.Call, depth: int) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
        raise ToolError(f"unknown function; available: {', '.join(_FUNCTIONS)}")
    fn, fewest, most = _FUNCTIONS[node.func.id]
    if not fewest <= len(node.args) <= most:
        raise ToolError(f"{node.func.id} takes {fewest} to {most} arguments")
    arguments = [_evaluate(arg, depth + 1) for arg in node.args]
    try:
        return fn(*arguments)
    except _TooLarge:
        raise
    except (ValueError, TypeError) as exc:  # e.g. sqrt(-1): "math domain error"
        shown = ", ".join(_show(a) for a in arguments)
        raise ToolError(f"{node.func.id}({shown}): {exc}") from None


def _evaluate(node: ast.AST, depth: int = 0) -> Number:
    if depth > MAX_DEPTH:
        raise _TooLarge(f"the expression is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, depth + 1), _evaluate(node.right, depth + 1)
        return _check(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(_UNARY[type(node.op)](_evaluate(node.operand, depth + 1)))
    if isinstance(node, ast.Call):
        return _check(_call(node, depth))
    if isinstance(node, ast.Name):
        raise ToolError(f"unknown name {node.id!r}; constants: {', '.join(_CONSTANTS)}")
    raise ToolError(f"unsupported syntax: {type(node).__name__}")


def _parse(expression: str) -> ast.expr:
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        raise ToolError(f"not an arithmetic expression: {expression!r}") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolError(f"the expression has more than {MAX_NODES} parts")
    return tree.body


@toolbox.tool(inline=True)
def calculate(
    expression: Annotated[str, Field(max_length=MAX_LENGTH)],
) -> float | int:
    """Evaluate an arithmetic expression.

    Args:
        expression: numbers with + - * / // % ** and parentheses, e.g. "(2 + 3) * 4";
            sqrt, abs, round, floor, ceil, log, log10, exp, sin, cos, tan, factorial,
            pi and e are available.

    Raises:
        ToolError: the expression is not arithmetic, or a result would be too large
            (more than 1000 digits), not finite or not real.
    """
    try:
        result = _evaluate(_parse(expression))
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("a result is too large for a floating-point number") from None
    except RecursionError:
        raise ToolError(f"the expression is nested too deeply: {expression[:40]!r}") from None
    if isinstance(result, float) and result.is_integer() and abs(result) < _EXACT_FLOAT:
        return int(result)
    return result
