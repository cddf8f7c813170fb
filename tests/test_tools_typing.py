"""What type checkers see of `@tool`: the function's own signature and return type.

The module is itself the test case: `test_mypy_accepts_this_module` runs mypy (strict) on it.
`assert_type` lines must hold, and each `type: ignore[code]` must be needed (strict mypy reports
an unneeded one), so a wrong call that type-checked would fail the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, assert_type

from agentkit import Tool, Toolbox, tool


@tool
def add(a: int, b: int = 1) -> int:
    """Add two integers."""
    return a + b


@tool(timeout=2.0, strict=True)
async def fetch(url: str) -> str:
    """Fetch a page."""
    return url


box = Toolbox()


@box.tool(name="negate")
def negate(x: float) -> float:
    """Negate a number."""
    return -x


def test_calls_keep_the_function_signature() -> None:
    assert_type(add(2, 3), int)
    assert_type(negate(2.0), float)
    pending: Coroutine[Any, Any, str] = fetch("u")
    page = asyncio.run(pending)
    assert_type(page, str)
    assert page == "u"
    assert add(2, 3) == 5 and negate(2.0) == -2.0


def test_schema_tools_and_bare_annotations() -> None:
    only = Tool.from_schema({"name": "f"})
    assert_type(only, Tool[..., Any])
    every: list[Tool] = [add, fetch, negate, only]  # unparameterised `Tool` still works
    assert [t.name for t in every] == ["add", "fetch", "negate", "f"]


def test_wrong_calls_are_type_errors() -> None:
    bad_calls = [
        lambda: add("x"),  # type: ignore[arg-type]
        lambda: add(1, 2, 3),  # type: ignore[call-arg]
        lambda: tool(timeout="soon"),  # type: ignore[call-overload]
        lambda: tool(no_such_option=True),  # type: ignore[call-overload]
    ]
    assert len(bad_calls) == 4


def test_mypy_accepts_this_module() -> None:
    from mypy import api

    out, err, status = api.run(["--strict", "--no-error-summary", str(Path(__file__))])
    assert status == 0, out + err
