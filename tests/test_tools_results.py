"""`serialize_result` never raises, stays bounded, and always gives valid UTF-8."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit.tools import serialize_result


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class NotAStr:
    def __str__(self) -> Any:
        return 42


def nested(depth: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def circular() -> dict[str, Any]:
    d: dict[str, Any] = {"name": "loop"}
    d["self"] = d
    return d


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BadStr(), "<unserialisable result: BadStr: no text for you>"),
        ({"x": BadStr()}, "<unserialisable result: dict: no text for you>"),
        (NotAStr(), "<unserialisable result: NotAStr: __str__ returned non-string"),
        (nested(100_000), "<unserialisable result: list: maximum recursion depth exceeded"),
        ({"n": 10**5000}, "<unserialisable result: dict: Exceeds the limit (4300 digits)"),
    ],
    ids=["str raises", "nested str raises", "str not a str", "100k deep", "big int inside"],
)
def test_what_cannot_be_shown_is_said_plainly(value: Any, expected: str) -> None:
    assert serialize_result(value).startswith(expected)


def test_circular_containers_are_shown_as_python_does() -> None:
    assert serialize_result(circular()) == "{'name': 'loop', 'self': {...}}"


@pytest.mark.parametrize("digits", [5000, 1_000_000])
def test_huge_integers_do_not_raise_and_stay_fast(digits: int) -> None:
    start = time.perf_counter()
    text = serialize_result(10 ** (digits - 1))
    assert time.perf_counter() - start < 1.0
    if digits <= 20_000:
        assert text == "1" + "0" * (digits - 1)
    else:
        assert text == f"<integer of about {digits} digits: too long to show>"


def test_a_huge_integer_within_max_chars_is_written_in_full() -> None:
    assert serialize_result(-(10**10), max_chars=12) == "-10000000000"


@pytest.mark.parametrize(
    "value",
    ["a\ud800b", {"k": "\udfff"}, ["\ud83d\ude00"], "\ud800" * 30_000],
    ids=["str", "in dict", "split pair", "long"],
)
def test_lone_surrogates_never_reach_the_model(value: Any) -> None:
    text = serialize_result(value)
    text.encode("utf-8")  # would raise on a lone surrogate
    assert "\ufffd" in text


def test_lone_surrogates_become_the_replacement_character() -> None:
    assert serialize_result("a\ud800b") == "a\ufffdb"


class Point(BaseModel):
    x: int
    y: int


@dataclasses.dataclass
class Box:
    corner: Point
    tags: set[str]


def test_models_dataclasses_and_other_values_inside_containers_become_json() -> None:
    text = serialize_result({"box": Box(Point(x=1, y=2), {"a"}), "ok": True, "none": None})
    assert json.loads(text) == {
        "box": {"corner": {"x": 1, "y": 2}, "tags": ["a"]},
        "ok": True,
        "none": None,
    }
    assert serialize_result((1, 2.5, False)) == "[1,2.5,false]"


def test_odd_dict_keys_fall_back_to_str() -> None:
    assert serialize_result({(1, 2): "pair"}) == "{(1, 2): 'pair'}"


def test_results_are_bounded_by_max_chars() -> None:
    text = serialize_result(list(range(100_000)), max_chars=50)
    assert len(text) < 120 and "truncated" in text
