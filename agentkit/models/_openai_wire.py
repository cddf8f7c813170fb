"""The OpenAI chat-completions wire format, as pure mapping.

Request fields and bodies out (`native_fields`, `encode_body`); protocol JSON in (`loads`,
`StreamState`, `to_response`, `error_text`). Nothing here sends a request or decides on
retries: that is `_openai_http`'s job.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from agentkit.errors import ModelError, UsageError
from agentkit.formats import ToolChoice
from agentkit.formats._base import dumps
from agentkit.formats._parse import decode_json_lenient
from agentkit.messages import Message, ToolCall
from agentkit.models._base import ModelRequest, ModelResponse

logger = logging.getLogger("agentkit.models.openai")

Mode: TypeAlias = Literal["text", "native", "native_lenient"]
"""How a reply is read: as text for the format, as native calls, or as native calls else text."""

_SNIPPET_HEAD = 250
_SNIPPET_TAIL = 750
_SNIPPET_RAW = 8 * (_SNIPPET_HEAD + _SNIPPET_TAIL)
_TOKEN_LIMIT = 2**53  # a token count past this is garbage (and could not even be printed)
# Words of a server complaining about the request itself, which another try will not change.
_INVALID_REQUEST = re.compile(
    r"valid|missing|required|unprocessable|malformed|must (be|have|not)|expected|not allowed|"
    r"unsupported|unknown (field|param|argument|key|role)|no attribute|undefined|"
    r"keyerror|typeerror|valueerror|template|schema|\bfield\b|tool_call_id",
    re.IGNORECASE,
)


class ReplyError(ModelError):
    """An exchange with the server that produced no usable reply.

    Attributes:
        retryable: whether another attempt may well succeed (a dropped or empty stream, a
            timeout, a 429 or a 5xx that does not blame the request).
        retry_after: seconds the server asked to wait before the next attempt, if it said.
    """

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


# -- requests --------------------------------------------------------------------------------------
def encode_body(body: dict[str, Any]) -> bytes:
    """A request body as UTF-8 JSON; lone surrogates (which UTF-8 cannot carry) become U+FFFD.

    Raises:
        UsageError: the body holds a value JSON cannot carry (NaN, an object, a cycle).
    """
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise UsageError(f"the request cannot be written as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A surrogate pair split into two code points is rejoined; a lone one is replaced.
        repaired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return repaired.encode("utf-8")


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


def text_messages(request: ModelRequest) -> list[dict[str, Any]]:
    """The chat messages as the format rendered them, each `tool` turn with a `tool_call_id`.

    Servers that read `tool` turns as OpenAI's want the id of the call a result answers
    (llama-cpp-python answers 500 without one). It is the call's own id where the format
    rendered one turn per result, as `result_role="tool"` does; a stand-in otherwise. A server
    whose template insists that the call be declared in the assistant turn's `tool_calls`
    (OpenAI itself, Mistral's templates) wants a format with `result_role="user"`, which sends
    results as a user turn.

    Example:
        >>> from agentkit.messages import ChatMessage
        >>> rendered = [ChatMessage("user", "2+3?"), ChatMessage("assistant", "[...]"),
        ...             ChatMessage("tool", "5")]
        >>> text_messages(ModelRequest(rendered))[2]
        {'role': 'tool', 'content': '5', 'tool_call_id': 'call_0'}
    """
    messages: list[dict[str, Any]] = [dict(m) for m in request.messages]
    turns = [m for m in messages if m["role"] == "tool"]
    if not turns:
        return messages
    ids = [m.tool_call_id or "" for m in request.transcript if m.role == "tool"]
    if len(ids) != len(turns):
        ids = [""] * len(turns)
    for i, (turn, call_id) in enumerate(zip(turns, ids, strict=True)):
        turn["tool_call_id"] = call_id or f"call_{i}"
    return messages


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


# -- replies ---------------------------------------------------------------------------------------
def loads(data: str | bytes, what: str) -> Any:
    """Decode JSON from the server; any failure (depth, huge numbers, bad UTF-8) is a ReplyError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ReplyError(f"{what} is nested too deeply to decode: {snippet(data)}") from None
    except ValueError as exc:  # also UnicodeDecodeError and the integer-digits limit
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(";")[0]
        raise ReplyError(f"{what} is not valid JSON ({reason}): {snippet(data)}") from None


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
            logger.info("undecodable native call %.200s; handing it to the format's parser", call)
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
        except (ValueError, TypeError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _token_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
    """Prompt, computed-prompt and completion tokens from a `usage` object."""
    if not isinstance(usage, dict):
        return None, None, None
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
    prefilled = prompt - cached if prompt is not None and cached is not None else None
    return prompt, prefilled, completion


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _TOKEN_LIMIT
    return value if ok else None


@dataclass
class StreamState:
    """What the chunks of a stream (or one whole JSON reply) add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> str:
        """Take one streamed chunk; return its text delta ("" if none)."""
        if "error" in chunk:
            message = error_text(chunk)
            raise ReplyError(
                f"the server failed mid-stream: {message}", retryable=not looks_invalid(message)
            )
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choice = _first_choice(chunk)
        if choice is None:
            return ""
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

    def take_reply(self, data: Any) -> str:
        """Take a whole non-streamed reply; return its text."""
        if not isinstance(data, dict):
            raise ReplyError(f"the server's reply is not a JSON object: {snippet(dumps(data))}")
        choice = _first_choice(data)
        if choice is None:
            if "error" in data:
                message = error_text(data)
                raise ReplyError(
                    f"the server reported an error: {message}",
                    retryable=not looks_invalid(message),
                )
            raise ReplyError(f"the server's reply has no choices: {snippet(dumps(data))}")
        reply = choice.get("message")
        reply = reply if isinstance(reply, dict) else {}
        content = reply.get("content")
        self.text = [content] if isinstance(content, str) and content else []
        calls = reply.get("tool_calls")
        self.calls = dict(enumerate(calls)) if isinstance(calls, list) else {}
        finish = choice.get("finish_reason")
        self.finish_reason = finish if isinstance(finish, str) else None
        self.usage = data["usage"] if isinstance(data.get("usage"), dict) else None
        return "".join(self.text)

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

    @property
    def empty(self) -> bool:
        """Whether nothing came: no text, no calls, no finish reason."""
        return not self.text and not self.calls and self.finish_reason is None

    def response(self, mode: Mode) -> ModelResponse:
        """The accumulated reply as a `ModelResponse`."""
        calls = [self.calls[index] for index in sorted(self.calls)]
        message = {"content": "".join(self.text), "tool_calls": calls}
        return to_response(message, self.finish_reason, self.usage, mode=mode)


def _first_choice(data: dict[str, Any]) -> dict[str, Any] | None:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


# -- errors ----------------------------------------------------------------------------------------
def error_body_text(body: bytes) -> str:
    """The server's own explanation in the body of a failed request ("" if none)."""
    try:
        return error_text(loads(body, "the error body"))
    except ReplyError:
        return snippet(body)


def error_text(data: Any) -> str:
    """The message of `{"error": {"message": ...}}`, `{"error": "..."}`, `{"detail": ...}`."""
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        for key in ("message", "detail", "msg"):
            if key in error:
                return snippet(str(error[key]))
    return snippet(error if isinstance(error, str) else dumps(data))


def looks_invalid(message: str) -> bool:
    """Whether a server's error message blames the request (which a retry would send again)."""
    return _INVALID_REQUEST.search(message) is not None


def snippet(text: str | bytes) -> str:
    """Text on one line, bounded: its head and its tail, where the cause usually is."""
    # Cut a huge body first, so that it is not split into words whole.
    if isinstance(text, bytes):
        if len(text) > _SNIPPET_RAW:
            text = text[: 4 * _SNIPPET_HEAD] + b" " + text[-4 * _SNIPPET_TAIL :]
        text = text.decode("utf-8", "replace")
    elif len(text) > _SNIPPET_RAW:
        text = text[: 4 * _SNIPPET_HEAD] + " " + text[-4 * _SNIPPET_TAIL :]
    line = " ".join(text.split())
    if len(line) <= _SNIPPET_HEAD + _SNIPPET_TAIL:
        return line
    return f"{line[:_SNIPPET_HEAD]} ... {line[-_SNIPPET_TAIL:]}"
