"""The OpenAI chat-completions protocol as the server reads it (no web framework here).

`parse_chat` turns a request body into a `ChatCall`: the transcript as `Message`s, checked the
way the protocol requires (a tool message answers a call of the assistant turn just before it,
the last message is the user's or a tool's), and what the client asked of the reply. Everything
the server sends back (completions, stream chunks, errors) is shaped here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentkit.messages import Message, ToolCall

__all__ = ["ApiError", "ChatCall", "ResumeRequest", "error_body", "parse_chat", "to_messages"]

_TEXT_PART = "text"


class ApiError(Exception):
    """A request the server answers with an error status, in OpenAI's error shape.

    Attributes:
        status: the HTTP status.
        message: what was wrong, for the client (never a traceback or a secret).
        type: OpenAI's error `type` (e.g. `"invalid_request_error"`).
        code: a short machine-readable code, or None.
        param: the request field at fault, or None.
        headers: extra response headers (e.g. `Retry-After`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {"message", "type", "param", "code"}}`."""
        return error_body(self.message, self.type, self.code, self.param)


def error_body(
    message: str, type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error in OpenAI's shape."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


# -- the request -----------------------------------------------------------------------------------
class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class _Function(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    arguments: str | dict[str, Any] = ""


class _CallIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    type: Literal["function"] = "function"
    function: _Function


class _MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_Part] | None = None
    tool_calls: list[_CallIn] | None = None
    tool_call_id: str | None = None


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class _JsonSchema(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = "response"
    schema_: dict[str, Any] = Field(alias="schema")


class _ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchema | None = None


class _ChatIn(BaseModel):
    # Sampling fields (temperature, max_tokens, stop...) are accepted and left to the agent's
    # model: the served agent's settings apply.
    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[_MessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    response_format: _ResponseFormat | None = None
    n: int | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    tool_choice: Any = None
    logprobs: bool | None = None


class _ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str = Field(min_length=1)
    approve: list[str] = Field(default_factory=list)
    reject: dict[str, str] = Field(default_factory=dict)


class _ResumeChatIn(_ChatIn):
    # The state carries the transcript: the messages are not read (they may be left out).
    messages: list[Any] = Field(default_factory=list)
    agentkit_resume: _ResumeIn


@dataclass(frozen=True)
class ResumeRequest:
    """The `agentkit_resume` extension: a paused run's state and the decisions on its calls.

    Attributes:
        state: the `agentkit_state` token of the paused reply.
        approve: ids of the pending calls to run.
        reject: ids of the pending calls refused, each with a reason the model sees.
    """

    state: str
    approve: tuple[str, ...]
    reject: dict[str, str]


@dataclass(frozen=True)
class ChatCall:
    """A checked chat-completions request.

    Attributes:
        messages: the transcript the run starts from.
        stream: whether the reply is a server-sent-event stream.
        include_usage: whether a streamed reply ends with a usage chunk.
        output_schema: the JSON schema the answer must match (`response_format`), if any;
            `{"type": "object"}` for `json_object`.
        resume: the paused run to go on with (`agentkit_resume`), if any: `messages` is then
            empty.
    """

    messages: list[Message]
    stream: bool
    include_usage: bool
    output_schema: dict[str, Any] | None
    resume: ResumeRequest | None = None


def parse_chat(body: bytes, *, model_name: str, system_prompt: str | None) -> ChatCall:
    """Read and check a request body.

    Args:
        body: the raw JSON body.
        model_name: the one model this server serves.
        system_prompt: the agent's own system prompt: a client's system message must then be
            this same text (or be left out).

    Raises:
        ApiError: 400 for malformed or unsupported input, 404 for another model.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    shape = _ChatIn if data.get("agentkit_resume") is None else _ResumeChatIn
    try:
        request = shape.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        param = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise ApiError(400, f"{param}: {first['msg']}{more}", param=param) from None
    if request.model != model_name:
        raise ApiError(
            404,
            f"the model {request.model!r} does not exist here: this server serves {model_name!r}",
            code="model_not_found",
            param="model",
        )
    _check_unsupported(request)
    resume = _resume(request)
    messages = [] if resume is not None else to_messages(request.messages, system_prompt)
    options = request.stream_options
    return ChatCall(
        messages=messages,
        stream=request.stream,
        include_usage=bool(options and options.include_usage),
        output_schema=_output_schema(request.response_format),
        resume=resume,
    )


def _resume(request: _ChatIn) -> ResumeRequest | None:
    if not isinstance(request, _ResumeChatIn):
        return None
    given = request.agentkit_resume
    return ResumeRequest(state=given.state, approve=tuple(given.approve), reject=given.reject)


def _check_unsupported(request: _ChatIn) -> None:
    if request.n not in (None, 1):
        raise ApiError(400, "only n=1 is supported", param="n")
    if request.tools or request.functions:
        raise ApiError(
            400,
            "the served agent runs its own tools on the server: a request cannot add tools",
            param="tools" if request.tools else "functions",
        )
    if request.tool_choice not in (None, "auto", "none"):
        raise ApiError(400, "tool_choice can only be 'auto' or 'none' here", param="tool_choice")
    if request.logprobs:
        raise ApiError(400, "logprobs are not supported", param="logprobs")


def _output_schema(response_format: _ResponseFormat | None) -> dict[str, Any] | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return {"type": "object"}
    if response_format.json_schema is None:
        raise ApiError(
            400, "response_format of type json_schema needs a json_schema", param="response_format"
        )
    return response_format.json_schema.schema_


# -- messages --------------------------------------------------------------------------------------
def to_messages(items: list[_MessageIn], system_prompt: str | None) -> list[Message]:
    """The OpenAI messages as a transcript, checked.

    A system (or developer) message may only come first; when the agent has a system prompt, it
    must be that same text (a different one is refused rather than silently replaced).
    """
    out: list[Message] = []
    pending: dict[str, str] = {}  # call id -> tool name, for calls not yet answered
    for i, item in enumerate(items):
        where = f"messages.{i}"
        if item.role != "tool" and pending:
            missing = ", ".join(sorted(pending))
            raise ApiError(
                400, f"{where}: tool calls without a tool message: {missing}", param=where
            )
        message = _message(item, i, pending)
        if message.role == "system":
            _check_system(message.content, i, system_prompt)
        out.append(message)
    if pending:
        raise ApiError(400, f"tool calls without a tool message: {', '.join(sorted(pending))}")
    if out[-1].role not in ("user", "tool"):
        raise ApiError(400, "the last message must be the user's or a tool's", param="messages")
    return out


def _message(item: _MessageIn, index: int, pending: dict[str, str]) -> Message:
    where = f"messages.{index}"
    text = _text(item.content, f"{where}.content")
    if item.role in ("system", "developer"):
        return Message.system(text)
    if item.role == "user":
        return Message.user(text)
    if item.role == "assistant":
        calls = [
            _call(call, f"{where}.tool_calls.{j}") for j, call in enumerate(item.tool_calls or [])
        ]
        pending.update({call.id: call.name for call in calls})
        return Message.assistant(text, calls)
    call_id = item.tool_call_id
    if not call_id:
        raise ApiError(400, f"{where}: a tool message needs a tool_call_id", param=where)
    name = pending.pop(call_id, None)
    if name is None:
        raise ApiError(
            400,
            f"{where}: tool_call_id {call_id!r} answers no call of the assistant message before",
            param=f"{where}.tool_call_id",
        )
    return Message.tool(text, call_id=call_id, name=name)


def _check_system(text: str, index: int, system_prompt: str | None) -> None:
    if index:
        raise ApiError(
            400,
            f"messages.{index}: only the first message may be a system message",
            param="messages",
        )
    if system_prompt and text != system_prompt:
        raise ApiError(
            400,
            "the served agent has its own system prompt: leave the system message out",
            param="messages.0",
        )


def _text(content: str | list[_Part] | None, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for j, part in enumerate(content):
        if part.type != _TEXT_PART or part.text is None:
            raise ApiError(
                400, f"{where}.{j}: only text content is supported, not {part.type!r}", param=where
            )
        texts.append(part.text)
    return "\n".join(texts)


def _call(call: _CallIn, where: str) -> ToolCall:
    arguments: Any = call.function.arguments
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError):
            raise ApiError(400, f"{where}: arguments are not valid JSON", param=where) from None
    if not isinstance(arguments, dict):
        raise ApiError(400, f"{where}: arguments must be a JSON object", param=where)
    return ToolCall(name=call.function.name, arguments=arguments, id=call.id)
