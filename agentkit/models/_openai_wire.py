"""The OpenAI chat-completions wire format: request fields, replies, streams, errors, retries."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import httpx
from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential

from agentkit.errors import ModelError
from agentkit.formats import ToolChoice
from agentkit.formats._base import dumps
from agentkit.formats._parse import decode_json_lenient
from agentkit.messages import Message, ToolCall
from agentkit.models._base import ModelRequest, ModelResponse

logger = logging.getLogger("agentkit.models.openai")

RETRY_STATUSES = frozenset({408, 429})
Mode: TypeAlias = Literal["text", "native", "native_lenient"]
"""How a reply is read: as text for the format, as native calls, or as native calls else text."""
_ERROR_SNIPPET = 500


class TransientError(Exception):
    """A reply worth retrying (429, 5xx); carries the server's Retry-After, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Connection failures, timeouts and dropped connections are worth another try.
RETRYABLE = (
    TransientError,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


# -- native mode: transcript and tools in, tool_calls out ------------------------------------------
def native_fields(request: ModelRequest) -> dict[str, Any]:
    """The `messages`, `tools`, `tool_choice` and `response_format` of a native request."""
    messages = (
        _transcript_messages(request.transcript)
        if request.transcript
        else [dict(m) for m in request.messages]  # a request made by hand, without a transcript
    )
    fields: dict[str, Any] = {"messages": messages}
    if request.tools:
        fields["tools"] = [t.schema for t in request.tools]
        fields["tool_choice"] = _tool_choice(request.tool_choice)
    schema = request.output_schema
    if schema is not None and (not request.tools or request.tool_choice == "none"):
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "final_answer", "schema": schema},
        }
    elif schema is not None:
        # With tools on offer a forced JSON reply would rule out calls: state the schema instead.
        prompt = request.format.output_prompt(schema)
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{messages[0]['content']}\n\n{prompt}"
        else:
            messages.insert(0, {"role": "system", "content": prompt})
    return fields


def _transcript_messages(transcript: list[Message]) -> list[dict[str, Any]]:
    """A transcript as OpenAI messages: calls with JSON-string arguments, results by call id."""
    out: list[dict[str, Any]] = []
    for msg in transcript:
        item: dict[str, Any] = {"role": msg.role, "content": msg.content or ""}
        if msg.role == "assistant" and msg.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": dumps(call.arguments)},
                }
                for call in msg.tool_calls
            ]
        elif msg.role == "tool":
            item["tool_call_id"] = msg.tool_call_id or ""
        out.append(item)
    return out


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """`tool_choice` as the API takes it: a mode, or the one function to call."""
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def to_response(
    message: dict[str, Any], finish_reason: Any, usage: Any, *, mode: Mode
) -> ModelResponse:
    """A reply's `message` object (streamed or not) as a `ModelResponse`."""
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    calls: list[ToolCall] | None = None
    if mode != "text":
        raw = message.get("tool_calls")
        if isinstance(raw, list) and raw:
            calls, text = _native_calls(raw, text)
        elif mode == "native":
            calls = []
    prompt, prefilled, completion = _token_counts(usage)
    return ModelResponse(
        text=text,
        calls=calls,
        prompt_tokens=prompt,
        prefilled_tokens=prefilled,
        completion_tokens=completion,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )


def _native_calls(raw: list[Any], text: str) -> tuple[list[ToolCall] | None, str]:
    """The calls of a reply; if one cannot be decoded, all of them as text for the format.

    The format's lenient parser then reports the broken call to the model as a parse error,
    the same way it reports a broken call written as text.
    """
    plain = [_plain_call(item) for item in raw]
    calls: list[ToolCall] = []
    for call in plain:
        name, arguments = call["name"], _decode_arguments(call["arguments"])
        if not isinstance(name, str) or not name or arguments is None:
            logger.info("undecodable native call %s; handing it to the format's parser", call)
            written = dumps(plain)
            return None, f"{text}\n{written}" if text.strip() else written
        given_id = {"id": call["id"]} if "id" in call else {}
        calls.append(ToolCall(name=name, arguments=arguments, **given_id))
    return calls, text


def _plain_call(item: Any) -> dict[str, Any]:
    """One `tool_calls` entry as `{"name", "arguments", "id"}`, values as the server sent them."""
    item = item if isinstance(item, dict) else {}
    function = item["function"] if isinstance(item.get("function"), dict) else {}
    plain = {"name": function.get("name"), "arguments": function.get("arguments")}
    if isinstance(item.get("id"), str) and item["id"]:
        plain["id"] = item["id"]
    return plain


def _decode_arguments(value: Any) -> dict[str, Any] | None:
    """Arguments as a dict, from a JSON string (leniently) or an object; None if impossible."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = decode_json_lenient(value)
            json.dumps(value)  # Python literals may hold sets or bytes, which JSON cannot
        except (ValueError, TypeError):
            return None
    return value if isinstance(value, dict) else None


def _token_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
    """Prompt, computed-prompt and completion tokens from a `usage` object."""
    if not isinstance(usage, dict):
        return None, None, None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prefilled = prompt - cached if prompt is not None and isinstance(cached, int) else None
    return prompt, prefilled, completion


# -- streaming -------------------------------------------------------------------------------------
@dataclass
class StreamState:
    """What the chunks of a stream add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; return its text delta ("" if none)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return ""
        for item in delta.get("tool_calls") or ():
            if isinstance(item, dict):
                self._add_call_delta(item)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.text.append(content)
            return content
        return ""

    def _add_call_delta(self, item: dict[str, Any]) -> None:
        index = item.get("index")
        if not isinstance(index, int):  # servers that omit it send each call whole, with an id
            index = len(self.calls) if item.get("id") or not self.calls else max(self.calls)
        empty = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        call = self.calls.setdefault(index, empty)
        if isinstance(item.get("id"), str):
            call["id"] = item["id"]
        function = item.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        if isinstance(name, str):  # sent once, in pieces, or (by some servers) whole each time
            sofar = call["function"]["name"]
            call["function"]["name"] = name if name.startswith(sofar) else sofar + name
        if isinstance(function.get("arguments"), str):
            call["function"]["arguments"] += function["arguments"]

    def message(self) -> dict[str, Any]:
        """The accumulated reply, shaped like the `message` of a non-streamed reply."""
        calls = [self.calls[index] for index in sorted(self.calls)]
        return {"content": "".join(self.text), "tool_calls": calls}


async def read_events(response: httpx.Response, state: StreamState) -> AsyncIterator[str]:
    """Feed each `data:` event of a server-sent-event stream to `state`; yield text deltas."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, `event:`, `id:` and `:` comments
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            raise ModelError(f"the stream sent invalid JSON: {snippet(payload)}") from None
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            raise ModelError(f"the server failed mid-stream: {_error_text(chunk)}")
        delta = state.feed(chunk)
        if delta:
            yield delta


# -- errors and retries ----------------------------------------------------------------------------
def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ModelError(f"the server's reply is not JSON: {snippet(response.text)}") from None
    if not isinstance(data, dict):
        raise ModelError(f"the server's reply is not a JSON object: {snippet(response.text)}")
    if "error" in data and "choices" not in data:
        raise ModelError(f"the server reported an error: {_error_text(data)}")
    return data


def error_message(response: httpx.Response) -> str:
    """The server's own explanation of a failed request."""
    try:
        return _error_text(response.json())
    except ValueError:
        return snippet(response.text) or response.reason_phrase


def _error_text(data: Any) -> str:
    """The message of `{"error": {"message": ...}}`, `{"error": "..."}`, `{"detail": ...}`."""
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        for key in ("message", "detail", "msg"):
            if key in error:
                return snippet(str(error[key]))
    return snippet(error if isinstance(error, str) else dumps(data))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `retry-after-ms` or a numeric `Retry-After` (a date is ignored)."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(response.headers[header]) * scale)
        except (KeyError, ValueError):
            continue
    return None


def backoff(longest: float) -> Callable[[RetryCallState], float]:
    """Exponential backoff with full jitter, or the server's Retry-After; never over `longest`."""
    jittered = wait_random_exponential(multiplier=0.5, max=longest)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, longest)
        return jittered(state)

    return wait


def log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    logger.info(
        "attempt %d failed (%s); retrying in %.2f s", state.attempt_number, describe(exc), wait
    )


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc)
    if isinstance(exc, TransientError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def snippet(text: str) -> str:
    return text if len(text) <= _ERROR_SNIPPET else text[:_ERROR_SNIPPET] + " ..."
