"""agentkit's own labelled tool-calling sets (bench/data/calls_*.jsonl, style_heldout.jsonl).

No model runs here: each entry's ground truth must be well-formed against its own functions and
must itself pass BFCL's AST check (`bench/_bfcl_ast.py`), so that a model making exactly the
labelled calls scores 100%.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Tool
from bench._bfcl_ast import check

DATA = Path(__file__).resolve().parent.parent / "bench" / "data"
COUNTS = {
    "calls_dev.jsonl": {
        "simple": 30,
        "multiple": 20,
        "parallel": 15,
        "parallel_multiple": 15,
        "irrelevance": 20,
    },
    "calls_heldout.jsonl": dict.fromkeys(
        ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance"), 10
    ),
    "style_heldout.jsonl": {"multiple": 10, "irrelevance": 2},
}
FIELDS = {"id", "category", "kind", "question", "function", "ground_truth"}
TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "dict": dict,
}
OPTIONAL = ""  # an allowed value meaning "may be omitted"

Entry = dict[str, Any]


def load(name: str) -> list[Entry]:
    """The entries of one data file, one JSON object per line."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def entries() -> list[Any]:
    """Every entry of every file, as test parameters named by id."""
    return [pytest.param(e, id=e["id"]) for name in COUNTS for e in load(name)]


def functions_by_name(entry: Entry) -> dict[str, Entry]:
    return {function["name"]: function for function in entry["function"]}


def first_option(truth: list[dict[str, dict[str, list[Any]]]]) -> list[dict[str, Any]]:
    """The calls made of each parameter's first allowed value (`""` first: left out)."""
    calls = []
    for answer in truth:
        ((name, params),) = answer.items()
        calls.append({name: {p: v[0] for p, v in params.items() if v[0] != OPTIONAL}})
    return calls


def has_type(value: Any, schema: Entry) -> bool:
    """Whether a ground-truth value has the parameter's declared type (and is in its enum)."""
    expected = TYPES[schema["type"]]
    if type(value) is not expected:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, list):
        return all(has_type(item, schema["items"]) for item in value)
    return True


@pytest.mark.parametrize("name", list(COUNTS))
def test_counts_per_category(name: str) -> None:
    assert Counter(e["category"] for e in load(name)) == COUNTS[name]


def test_ids_are_unique_across_files() -> None:
    ids = [e["id"] for name in COUNTS for e in load(name)]
    assert len(ids) == len(set(ids))


def test_heldout_tools_differ_from_dev_tools() -> None:
    dev = {f["name"] for e in load("calls_dev.jsonl") for f in e["function"]}
    heldout = {f["name"] for e in load("calls_heldout.jsonl") for f in e["function"]}
    assert not dev & heldout


def test_style_set_has_twelve_kinds_of_three_to_five_tools() -> None:
    style = load("style_heldout.jsonl")
    assert len({e["kind"] for e in style}) == 12
    assert all(3 <= len(e["function"]) <= 5 for e in style)
    assert all(len(e["ground_truth"]) <= 1 for e in style)


@pytest.mark.parametrize("entry", entries())
def test_entry_shape(entry: Entry) -> None:
    assert set(entry) == FIELDS
    (turn,) = entry["question"]
    assert [m["role"] for m in turn] == ["user"] and turn[0]["content"].strip()
    for function in entry["function"]:
        parameters = function["parameters"]
        assert function["description"] and parameters["type"] == "dict"
        assert set(parameters["required"]) <= set(parameters["properties"])
        for schema in parameters["properties"].values():
            assert schema["type"] in TYPES and schema["description"]
    category, truth = entry["category"], entry["ground_truth"]
    names = [next(iter(answer)) for answer in truth]
    expected_sizes = {
        "simple": (1, 1, 1),
        "multiple": (3, 5, 1),
        "parallel": (1, 1, 2),
        "parallel_multiple": (2, 4, 2),
        "irrelevance": (1, 5, 0),
    }
    low, high, calls = expected_sizes[category]
    assert low <= len(entry["function"]) <= high
    if category == "parallel":
        assert 2 <= len(truth) <= 4 and len(set(names)) == 1
    elif category == "parallel_multiple":
        assert 2 <= len(truth) <= 3 and len(set(names)) >= 2
    else:
        assert len(truth) == calls


@pytest.mark.parametrize("entry", entries())
def test_ground_truth_fits_the_functions(entry: Entry) -> None:
    functions = functions_by_name(entry)
    for answer in entry["ground_truth"]:
        ((name, params),) = answer.items()
        parameters = functions[name]["parameters"]
        properties = parameters["properties"]
        # every parameter is labelled, so that a model passing an optional one is judged on it
        assert set(params) == set(properties), name
        for param, allowed in params.items():
            assert allowed, (name, param)
            if param in parameters["required"]:
                assert OPTIONAL not in allowed, (name, param)
            typed = [value for value in allowed if value != OPTIONAL]
            assert len(typed) == len(allowed) - allowed.count(OPTIONAL)
            assert all(has_type(value, properties[param]) for value in typed), (name, param)


def variants(truth: list[dict[str, dict[str, list[Any]]]]) -> Iterator[list[dict[str, Any]]]:
    """The first-option calls with one parameter set to each of its allowed values in turn."""
    calls = first_option(truth)
    for index, answer in enumerate(truth):
        ((name, params),) = answer.items()
        for param, allowed in params.items():
            for value in allowed:
                call = dict(calls[index][name])
                call.pop(param, None)
                if value != OPTIONAL:
                    call[param] = value
                yield [*calls[:index], {name: call}, *calls[index + 1 :]]


@pytest.mark.parametrize("entry", entries())
def test_ground_truth_passes_the_checker(entry: Entry) -> None:
    category, functions, truth = entry["category"], entry["function"], entry["ground_truth"]
    assert check(category, functions, first_option(truth), truth).valid
    if category != "irrelevance":
        assert not check(category, functions, [], truth).valid
    for calls in variants(truth):
        verdict = check(category, functions, calls, truth)
        assert verdict.valid, (calls, verdict.error)


@pytest.mark.parametrize("entry", entries())
def test_ground_truth_passes_agentkit_validation(entry: Entry) -> None:
    tools = {f["name"]: Tool.from_schema(f) for f in entry["function"]}
    for calls in [first_option(entry["ground_truth"]), *variants(entry["ground_truth"])]:
        for call in calls:
            ((name, arguments),) = call.items()
            tools[name].validate(arguments)
