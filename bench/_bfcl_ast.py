"""The Berkeley Function Calling Leaderboard's AST check for Python, as a pure function.

A port of `bfcl_eval/eval_checker/ast_eval/ast_checker.py` (bfcl-eval 2026.3.23), Python only,
kept faithful rule by rule so that scores compare with the leaderboard's:

- the function name must match (no `.` -> `_` renaming: agentkit keeps dotted names);
- every required parameter must be present, and no parameter may appear that is not both in the
  function's description and in the ground truth;
- each value must have the declared type (`float` accepts an `int`; a value of the ground truth's
  own type is accepted as a "variable") and be one of the ground truth's allowed values, strings
  compared after BFCL's normalisation (spaces and `,./-_*^` removed, lower case, `'` -> `"`),
  lists element by element, dicts key by key;
- a ground-truth parameter whose allowed values do not include `""` must be given;
- `simple`: exactly one call; `multiple`: one call, checked against the expected function;
  `parallel*`: as many calls as expected, matched in any order (BFCL's greedy matching);
  `irrelevance`: correct when no call is made.

Where BFCL would crash (a parameter without `type`, an array without `items`, a JSON Schema type
name such as `number`), this port degrades gracefully instead: those cases do not occur in the
categories benchmarked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Verdict", "check", "standardize_string", "to_bfcl_calls"]

# BFCL's PYTHON_TYPE_MAPPING, plus JSON Schema's own names (not in BFCL; harmless extras).
_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
    "number": float,
    "object": dict,
}
_NESTED = ("array", "tuple")
_STRIP = re.compile(r"[ \,\.\/\-\_\*\^]")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    Attributes:
        valid: the model output matches the ground truth.
        error: why not (empty when valid).
        error_type: BFCL's error category, e.g. `simple_function_checker:missing_required`.
    """

    valid: bool
    error: str = ""
    error_type: str = ""


_OK = Verdict(True)


def _fail(error_type: str, error: str) -> Verdict:
    return Verdict(False, error, error_type)


def to_bfcl_calls(
    calls: Sequence[tuple[str, Mapping[str, Any]]],
) -> list[dict[str, dict[str, Any]]]:
    """`[(name, arguments), ...]` as BFCL's decoded output `[{name: {param: value}}, ...]`."""
    return [{name: dict(arguments)} for name, arguments in calls]


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and `,./-_*^`, lower case, `'` -> `"`."""
    return _STRIP.sub("", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standardize_string(value) if type(value) is str else value


# -- types ----------------------------------------------------------------------------------------
def _answer_type(possible: Sequence[Any]) -> type | None:
    """The type of the first allowed value that is not the optional marker `""`."""
    for answer in possible:
        if answer != "":
            return type(answer)
    return None


def _type_check(
    value: Any, possible: Sequence[Any], expected: type, nested: type | None
) -> bool | str:
    """BFCL's `type_checker`: whether the value is a "variable", or the error type (a string).

    A value of the ground truth's own type (other than the declared one) is a "variable": BFCL
    then only checks that it is one of the allowed values.
    """
    possible_type = _answer_type(possible)
    is_variable = possible_type is not None and possible_type is not expected
    if type(value) is expected:
        if nested is None:
            return is_variable
        for candidate in possible:
            items_ok = type(candidate) is not list or all(
                isinstance(_type_check(item, candidate, nested, None), bool) for item in value
            )
            if items_ok:
                return is_variable
        return "type_error:nested" if type(value) is possible_type else "type_error:simple"
    if possible_type is not None and type(value) is possible_type:
        return True
    return "type_error:simple"


# -- values ---------------------------------------------------------------------------------------
def _dict_matches(value: Mapping[str, Any], candidate: Any) -> bool:
    """BFCL's `dict_checker` against one allowed dict."""
    if not isinstance(candidate, Mapping) or not isinstance(value, Mapping):
        return False
    for key, item in value.items():
        if key not in candidate:
            return False
        if _std(item) not in [_std(option) for option in candidate[key]]:
            return False
    return all(key in value or "" in options for key, options in candidate.items())


def _dict_ok(value: Mapping[str, Any], possible: Sequence[Any]) -> bool:
    return any(_dict_matches(value, candidate) for candidate in possible if candidate != "")


def _list_of_dicts_ok(value: Sequence[Any], possible: Sequence[Any]) -> bool:
    """BFCL's `list_dict_checker`: same length, each dict matching in order."""
    for candidate in possible:
        if not hasattr(candidate, "__len__") or len(value) != len(candidate):
            continue
        if all(_dict_matches(v, c) for v, c in zip(value, candidate, strict=True)):
            return True
    return False


def _list_ok(value: Sequence[Any], possible: Sequence[Any]) -> bool:
    """BFCL's `list_checker`: the normalised list equals one allowed list (`""` is `[]`)."""
    got = [_std(item) for item in value]
    for candidate in possible:
        if isinstance(candidate, list | tuple | str) and got == [_std(c) for c in candidate]:
            return True
    return False


def _string_ok(value: str, possible: Sequence[Any]) -> bool:
    return standardize_string(value) in [standardize_string(p) for p in possible if type(p) is str]


def _value_ok(value: Any, possible: Sequence[Any], expected: type, nested: type | None) -> bool:
    """The value check for a non-variable value of the declared type."""
    if expected is dict:
        return _dict_ok(value, possible)
    if expected is list and nested is dict:
        return _list_of_dicts_ok(value, possible)
    if expected is str:
        return _string_ok(value, possible)
    if expected is list:
        return _list_ok(value, possible)
    return value in possible


# -- one call -------------------------------------------------------------------------------------
def _check_param(
    param: str, value: Any, details: Mapping[str, Any], possible: list[Any]
) -> Verdict:
    type_name = str(details.get("type", "any"))
    expected = _PYTHON_TYPES.get(type_name, str)
    nested: type | None = None
    if type_name in _NESTED:
        items = details.get("items")
        item_type = items.get("type") if isinstance(items, Mapping) else None
        nested = _PYTHON_TYPES.get(str(item_type), str) if item_type else None
    if type_name == "tuple" and type(value) is tuple:
        value = list(value)
    if type_name == "float" and type(value) is int:
        value = float(value)  # BFCL allows Python's int -> float conversion
    is_variable = _type_check(value, possible, expected, nested)
    if isinstance(is_variable, str):
        return _fail(
            is_variable,
            f"Incorrect type for parameter {param!r}. Expected type {type_name}, got "
            f"{type(value).__name__}. Parameter value: {value!r}.",
        )
    if is_variable:
        ok = value in possible
    else:
        ok = _value_ok(value, possible, expected, nested)
    if not ok:
        return _fail(
            "value_error:others" if is_variable else _value_error_type(expected, nested),
            f"Invalid value for parameter {param!r}: {value!r}. Expected one of {possible}.",
        )
    return _OK


def _value_error_type(expected: type, nested: type | None) -> str:
    if expected is dict:
        return "value_error:dict_value"
    if expected is list and nested is dict:
        return "value_error:list_dict_count"
    if expected is str:
        return "value_error:string"
    if expected is list:
        return "value_error:list/tuple"
    return "value_error:others"


def check_call(
    function: Mapping[str, Any], output: Mapping[str, Any], answer: Mapping[str, Any]
) -> Verdict:
    """BFCL's `simple_function_checker`: one call `{name: params}` against `{name: {param: [...]}}`.

    Args:
        function: the function's description (`name`, `parameters` with `properties`).
        output: the model's call, `{name: {param: value}}`.
        answer: the ground truth for this call, `{name: {param: [allowed values]}}`.
    """
    possible: Mapping[str, list[Any]] = next(iter(answer.values()))
    name = function["name"]
    parameters = function.get("parameters") or {}
    details: Mapping[str, Any] = parameters.get("properties") or {}
    if name not in output:
        return _fail(
            "simple_function_checker:wrong_func_name",
            f"Function name {name!r} not found in model output.",
        )
    params: Mapping[str, Any] = output[name]
    for param in parameters.get("required") or ():
        if param not in params:
            return _fail(
                "simple_function_checker:missing_required",
                f"Missing required parameter: {param!r}.",
            )
    for param, value in params.items():
        if param not in details or param not in possible:
            return _fail(
                "simple_function_checker:unexpected_param", f"Unexpected parameter: {param!r}."
            )
        verdict = _check_param(param, value, details[param], possible[param])
        if not verdict.valid:
            return verdict
    for param, options in possible.items():
        if param not in params and "" not in options:
            return _fail(
                "simple_function_checker:missing_optional",
                f"Optional parameter {param!r} not provided and not marked as optional.",
            )
    return _OK


# -- categories -----------------------------------------------------------------------------------
def _find(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    for function in functions:
        if function["name"] == name:
            return function
    return {"name": name, "parameters": {"properties": {}}}


def _parallel(
    functions: Sequence[Mapping[str, Any]],
    output: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
) -> Verdict:
    """BFCL's `parallel_function_checker_no_order`: greedy, first unmatched call that fits."""
    matched: set[int] = set()
    for i, answer in enumerate(answers):
        function = _find(functions, next(iter(answer)))
        last = _OK
        for index, call in enumerate(output):
            if index in matched:
                continue
            last = check_call(function, call, answer)
            if last.valid:
                matched.add(index)
                break
        if not last.valid:
            return _fail(
                "parallel_function_checker_no_order:cannot_find_match",
                f"Could not find a matching function for index {i} of possible answers "
                f"({last.error_type}: {last.error})",
            )
    return _OK


def check(
    category: str,
    functions: Sequence[Mapping[str, Any]],
    output: Sequence[Mapping[str, Any]],
    ground_truth: Sequence[Mapping[str, Any]] = (),
) -> Verdict:
    """Score one BFCL entry.

    Args:
        category: the BFCL category, e.g. `simple_python`, `multiple`, `parallel_multiple`,
            `irrelevance`.
        functions: the entry's `function` list.
        output: the model's calls in BFCL's form `[{name: {param: value}}, ...]` (see
            `to_bfcl_calls`); empty when the model made no call.
        ground_truth: the entry's `ground_truth` (none for irrelevance).

    Example:
        >>> fn = {"name": "f", "parameters": {"properties": {"x": {"type": "float"}},
        ...       "required": ["x"]}}
        >>> check("simple_python", [fn], [{"f": {"x": 2}}], [{"f": {"x": [2.0]}}]).valid
        True
    """
    if "irrelevance" in category:
        if output and any(output):
            return _fail("irrelevance_error:decoder_success", "a function was called")
        return _OK
    if "parallel" in category:
        checker = "parallel_function_checker_no_order"
    elif "multiple" in category:
        checker = "multiple_function_checker"
    else:
        checker = "simple_function_checker"
    if len(output) != (len(ground_truth) if checker != "simple_function_checker" else 1):
        return _fail(f"{checker}:wrong_count", "Wrong number of functions.")
    if checker.startswith("parallel"):
        return _parallel(functions, output, ground_truth)
    expected = next(iter(ground_truth[0]))
    function = _find(functions, expected) if checker.startswith("multiple") else functions[0]
    return check_call(function, output[0], ground_truth[0])
