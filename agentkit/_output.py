"""Structured output: the final answer's text parsed as JSON and validated against `output_type`."""

from __future__ import annotations

import json
import re
from typing import Any, Generic

from pydantic import TypeAdapter, ValidationError

from agentkit._schema import compact_schema
from agentkit.formats._parse import decode_json_lenient, find_json_end
from agentkit.messages import CallError, OutputT

__all__ = ["OutputParser"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


class OutputParser(Generic[OutputT]):
    r"""Turns a final answer into an `OutputT`, or a `CallError` that tells the model what is wrong.

    For `str` every text is valid and `schema` is None.

    Example:
        >>> from pydantic import BaseModel
        >>> class Point(BaseModel):
        ...     x: int
        >>> OutputParser(Point).parse('Here: {"x": 1}')
        Point(x=1)
        >>> OutputParser(Point).parse("no").kind
        'invalid_output'
    """

    def __init__(self, output_type: type[OutputT]) -> None:
        self._adapter: TypeAdapter[OutputT] | None = (
            None if output_type is str else TypeAdapter(output_type)
        )
        self.schema: dict[str, Any] | None = (
            compact_schema(self._adapter.json_schema()) if self._adapter else None
        )

    @property
    def structured(self) -> bool:
        """Whether answers must be JSON (an `output_type` other than `str`)."""
        return self._adapter is not None

    def parse(self, text: str) -> OutputT | CallError:
        """The output for a final answer's text, or why it is not valid."""
        if self._adapter is None:
            return text  # type: ignore[return-value]  # OutputT is str here
        schema = json.dumps(self.schema)
        candidate = _json_candidate(text)
        if candidate is None:
            return CallError(
                "invalid_output", f"the final answer must be a JSON object matching {schema}"
            )
        try:
            value = decode_json_lenient(candidate)
        except (ValueError, RecursionError) as exc:
            reason = exc if isinstance(exc, ValueError) else "nested too deeply"
            return CallError("invalid_output", f"the final answer is not valid JSON ({reason})")
        try:
            return self._adapter.validate_python(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"`{'.'.join(map(str, e['loc'])) or '(root)'}`: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return CallError(
                "invalid_output",
                f"the final answer does not match the schema: {problems}; schema: {schema}",
            )


def _json_candidate(text: str) -> str | None:
    """The JSON part of a structured answer: the whole text, a code fence, or the first object."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        return stripped
    fence = _FENCE.search(text)
    if fence:
        return fence.group(1).strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    end = find_json_end(text, start)
    return text[start:end] if end else text[start:]
