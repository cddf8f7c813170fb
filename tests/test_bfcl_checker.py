"""The BFCL AST checker used by bench/bfcl.py: hand-written rules, then agreement with BFCL's own.

No model runs here. The agreement test needs `bfcl-eval` (`pip install --no-deps bfcl-eval`) and
is skipped without it.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import sys
import types
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._bfcl_ast import check, standardize_string, to_bfcl_calls

AREA = {
    "name": "calculate_triangle_area",
    "description": "Calculate the area of a triangle given its base and height.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer"},
            "height": {"type": "integer"},
            "unit": {"type": "string"},
        },
        "required": ["base", "height"],
    },
}
AREA_TRUTH = [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]
WEATHER = {
    "name": "weather.get",
    "parameters": {
        "type": "dict",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "scale": {"type": "float"},
            "metric": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "point": {"type": "tuple", "items": {"type": "float"}},
            "filters": {"type": "dict", "properties": {"min": {"type": "integer"}}},
        },
        "required": ["city"],
    },
}


def weather_truth(**overrides: list[Any]) -> list[dict[str, Any]]:
    options: dict[str, list[Any]] = {
        "city": ["New York, NY", "NYC"],
        "days": [3, ""],
        "scale": [1.0, ""],
        "metric": [True, ""],
        "tags": [["rain", "Wind speed"], ""],
        "point": [[1.5, 2.0], ""],
        "filters": [{"min": [0, ""]}, ""],
    }
    options.update(overrides)
    return [{"weather.get": options}]


def simple(args: dict[str, Any], truth: list[dict[str, Any]] | None = None, fn: Any = None):
    fn = fn or WEATHER
    return check("simple_python", [fn], [{fn["name"]: args}], truth or weather_truth())


# -- simple ---------------------------------------------------------------------------------------
def test_exact_call_is_correct() -> None:
    calls = to_bfcl_calls([(AREA["name"], {"base": 10, "height": 5})])
    assert check("simple_python", [AREA], calls, AREA_TRUTH).valid


def test_optional_parameter_may_be_given_or_left_out() -> None:
    assert simple({"city": "NYC", "days": 3}).valid
    assert simple({"city": "NYC"}).valid


def test_ground_truth_parameter_without_empty_marker_must_be_given() -> None:
    verdict = simple({"city": "NYC"}, weather_truth(days=[3]))
    assert verdict.error_type == "simple_function_checker:missing_optional"


def test_missing_required_parameter() -> None:
    verdict = simple({"days": 3})
    assert not verdict.valid
    assert verdict.error_type == "simple_function_checker:missing_required"


def test_parameter_outside_ground_truth_or_description_is_unexpected() -> None:
    assert simple({"city": "NYC", "color": "red"}).error_type == (
        "simple_function_checker:unexpected_param"
    )
    truth = weather_truth()
    del truth[0]["weather.get"]["metric"]
    assert simple({"city": "NYC", "metric": True}, truth).error_type == (
        "simple_function_checker:unexpected_param"
    )


def test_wrong_function_name_and_count() -> None:
    renamed = [{"weather_get": {"city": "NYC"}}]
    assert check("simple_python", [WEATHER], renamed, weather_truth()).error_type == (
        "simple_function_checker:wrong_func_name"
    )
    two = [{"weather.get": {"city": "NYC"}}] * 2
    assert check("simple_python", [WEATHER], two, weather_truth()).error_type == (
        "simple_function_checker:wrong_count"
    )
    assert check("simple_python", [WEATHER], [], weather_truth()).error_type == (
        "simple_function_checker:wrong_count"
    )


@pytest.mark.parametrize("city", ["new york ny", "New-York, NY", "NEW YORK. NY", "nyc", "N.Y.C."])
def test_strings_are_normalised(city: str) -> None:
    assert simple({"city": city}).valid


def test_strings_must_still_match_one_option() -> None:
    verdict = simple({"city": "Boston"})
    assert verdict.error_type == "value_error:string"
    assert standardize_string("It's New-York, NY") == 'it"snewyorkny'


def test_int_is_accepted_for_float_but_not_the_reverse() -> None:
    assert simple({"city": "NYC", "scale": 1}).valid
    assert simple({"city": "NYC", "days": 3.0}).error_type == "type_error:simple"


def test_bool_and_int_are_distinct_types() -> None:
    assert simple({"city": "NYC", "metric": 1}).error_type == "type_error:simple"
    assert simple({"city": "NYC", "days": True}).error_type == "type_error:simple"


def test_numbers_as_strings_are_type_errors() -> None:
    assert simple({"city": "NYC", "days": "3"}).error_type == "type_error:simple"


def test_value_of_ground_truth_type_is_a_variable() -> None:
    # BFCL treats a value of the ground truth's own type as a variable name: only equality counts.
    truth = weather_truth(days=["num_days"])
    assert simple({"city": "NYC", "days": "num_days"}, truth).valid
    assert simple({"city": "NYC", "days": "NUM_DAYS"}, truth).error_type == "value_error:others"


def test_lists_compare_normalised_items_in_order() -> None:
    assert simple({"city": "NYC", "tags": ["RAIN", "wind-speed"]}).valid
    assert simple({"city": "NYC", "tags": ["Wind speed", "rain"]}).error_type == (
        "value_error:list/tuple"
    )
    required = weather_truth(tags=[["rain", "Wind speed"]])
    assert simple({"city": "NYC", "tags": ["rain", 3]}, required).error_type == "type_error:nested"
    # BFCL's nested type check passes as soon as one allowed value is not a list (the "" marker).
    assert simple({"city": "NYC", "tags": ["rain", 3]}).error_type == "value_error:list/tuple"


def test_tuples_are_lists_and_empty_marker_allows_empty_list() -> None:
    assert simple({"city": "NYC", "point": [1.5, 2.0]}).valid
    required = weather_truth(point=[[1.5, 2.0]])
    assert simple({"city": "NYC", "point": [1.5, 2]}, required).error_type == "type_error:nested"
    assert simple({"city": "NYC", "tags": []}).valid


def test_dict_values_match_key_by_key() -> None:
    assert simple({"city": "NYC", "filters": {"min": 0}}).valid
    assert simple({"city": "NYC", "filters": {}}).valid
    assert not simple({"city": "NYC", "filters": {"min": 1}}).valid
    assert not simple({"city": "NYC", "filters": {"max": 0}}).valid


# -- multiple, parallel, irrelevance ------------------------------------------------------------
def test_multiple_checks_the_expected_function() -> None:
    functions = [AREA, WEATHER]
    assert check("multiple", functions, [{"weather.get": {"city": "NYC"}}], weather_truth()).valid
    other = [{AREA["name"]: {"base": 10, "height": 5}}]
    wrong = check("multiple", functions, other, weather_truth())
    assert wrong.error_type == "simple_function_checker:wrong_func_name"


def test_parallel_matches_in_any_order() -> None:
    truth = [
        {"weather.get": {"city": ["Paris"], "days": [1, ""]}},
        {"weather.get": {"city": ["Rome"], "days": [2]}},
    ]
    calls = [{"weather.get": {"city": "Rome", "days": 2}}, {"weather.get": {"city": "paris"}}]
    assert check("parallel", [WEATHER], calls, truth).valid
    assert check("parallel_multiple", [WEATHER, AREA], calls[::-1], truth).valid
    assert check("parallel", [WEATHER], calls[:1], truth).error_type == (
        "parallel_function_checker_no_order:wrong_count"
    )
    twice = [calls[0], calls[0]]
    assert check("parallel", [WEATHER], twice, truth).error_type == (
        "parallel_function_checker_no_order:cannot_find_match"
    )


def test_irrelevance_is_correct_without_a_call() -> None:
    assert check("irrelevance", [AREA], []).valid
    assert check("irrelevance", [AREA], [{}]).valid
    assert not check("irrelevance", [AREA], [{AREA["name"]: {"base": 1, "height": 2}}]).valid


def test_to_bfcl_calls() -> None:
    assert to_bfcl_calls([("f", {"a": 1}), ("g", {})]) == [{"f": {"a": 1}}, {"g": {}}]


# -- agreement with BFCL's own checker -------------------------------------------------------
CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")
COMPARED_ERROR_TYPES = {
    "wrong_count",
    "wrong_func_name",
    "missing_required",
    "unexpected_param",
    "missing_optional",
    "cannot_find_match",
}


@pytest.fixture(scope="module")
def bfcl() -> Iterator[tuple[Callable[..., dict[str, Any]], Any, Path]]:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        pytest.skip("bfcl-eval is not installed (pip install --no-deps bfcl-eval)")
    # The checker imports the model registry (and through it every provider SDK) only to map
    # dotted names for some providers; a stub without that mapping is all it needs here.
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = defaultdict(  # type: ignore[attr-defined]
        lambda: types.SimpleNamespace(underscore_to_dot=False)
    )
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.setitem(sys.modules, "bfcl_eval.constants.model_config", stub)
        patch.delitem(sys.modules, "bfcl_eval.eval_checker.ast_eval.ast_checker", raising=False)
        module = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        enums = importlib.import_module("bfcl_eval.constants.enums")
        yield module.ast_checker, enums.Language.PYTHON, Path(spec.origin).parent / "data"
        sys.modules.pop("bfcl_eval.eval_checker.ast_eval.ast_checker", None)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _first(options: list[Any], pick: int) -> Any:
    real = [o for o in options if o != ""]
    return real[pick % len(real)] if real else None


def _from_truth(truth: list[dict[str, Any]], pick: int) -> list[dict[str, Any]]:
    calls = []
    for answer in truth:
        name, options = next(iter(answer.items()))
        args = {p: v for p, o in options.items() if (v := _first(o, pick)) is not None}
        calls.append({name: args})
    return calls


def _edit_values(calls: list[dict[str, Any]], edit: Callable[[Any], Any]) -> list[dict[str, Any]]:
    return [{n: {p: edit(v) for p, v in a.items()} for n, a in c.items()} for c in calls]


def _shout(value: Any) -> Any:
    return f"{value.upper()}, " if isinstance(value, str) else value


def _numbers(value: Any) -> Any:
    if type(value) is int:
        return float(value)
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _variants(truth: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    base = _from_truth(truth, 0)
    yield base
    yield _from_truth(truth, 1)
    yield base[::-1]
    yield base[1:]
    yield [*base, base[0]]
    yield _edit_values(base, _shout)
    yield _edit_values(base, _numbers)
    yield _edit_values(base, lambda v: str(v) if not isinstance(v, str) else v)
    yield _edit_values(base, lambda v: v[::-1] if isinstance(v, list) else v)
    yield _edit_values(base, lambda v: [] if isinstance(v, list | dict) else v)
    yield [{n: {**a, "unexpected": 1}} for c in base for n, a in c.items()]
    yield [{n: dict(list(a.items())[1:])} for c in base for n, a in c.items()]
    yield [{f"{n}_x": a} for c in base for n, a in c.items()]
    yield [{n.replace(".", "_"): a} for c in base for n, a in c.items()]


def test_agrees_with_bfcl_checker_on_dataset_variants(bfcl: Any) -> None:
    original, python, data = bfcl
    compared = disagreements = 0
    for category in CATEGORIES:
        questions = _read(data / f"BFCL_v4_{category}.json")
        truths = _read(data / "possible_answer" / f"BFCL_v4_{category}.json")
        answers = {a["id"]: a["ground_truth"] for a in truths}
        for entry in questions[::2]:  # every other entry: enough variety, half the time
            truth = answers[entry["id"]]
            for output in _variants(truth):
                try:
                    args = copy.deepcopy((entry["function"], output, truth))
                    theirs = original(*args, python, category, "model")
                except Exception:  # BFCL's checker crashes on some shapes; nothing to compare
                    continue
                ours = check(category, entry["function"], output, truth)
                compared += 1
                same_type = theirs["valid"] or (
                    theirs["error_type"].split(":")[-1] not in COMPARED_ERROR_TYPES
                    or theirs["error_type"] == ours.error_type
                )
                if ours.valid != theirs["valid"] or not same_type:
                    disagreements += 1
                    print(entry["id"], output, theirs, ours)
    assert compared > 5_000
    assert disagreements == 0
