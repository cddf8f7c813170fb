"""What the server sends: completions, stream chunks and errors in OpenAI's shapes."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from agentkit._server_wire import ApiError
from agentkit.errors import (
    AgentkitError,
    AgentRunError,
    InputGuardrailTripped,
    MaxStepsExceeded,
    ModelError,
    RetriesExhausted,
    RunStateError,
    UsageError,
)
from agentkit.messages import RunResult, ToolCallRecord, encodable

if TYPE_CHECKING:
    from starlette.types import Send

__all__ = [
    "PAUSED",
    "api_error",
    "chunk",
    "completion",
    "filtered_completion",
    "reply_text",
    "send_json",
    "sse",
    "state_error",
    "tool_call_entries",
    "usage_entry",
]

logger = logging.getLogger("agentkit.server")

PAUSED = "approval_required"
"""The `finish_reason` of a run paused for approval (the official `openai` client accepts it)."""


def reply_text(output: object) -> str:
    """The answer as the reply's content: the text itself, or structured output as JSON."""
    if isinstance(output, str):
        return output
    from pydantic_core import to_json

    return to_json(output).decode()


def tool_call_entries(records: list[ToolCallRecord]) -> list[dict[str, Any]]:
    """The `agentkit_tool_calls` extension: each call, its arguments, what the model saw."""
    return [
        {
            "id": r.id,
            "name": r.name,
            "arguments": r.arguments,
            "content": r.content,
            "error": r.error,
        }
        for r in records
    ]


def usage_entry(result: RunResult[Any]) -> dict[str, int]:
    """The run's token counts (every model turn of it) as OpenAI's `usage`."""
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def completion(
    request_id: str,
    created: int,
    model: str,
    result: RunResult[Any],
    *,
    with_tool_calls: bool,
    paused: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole `chat.completion` object for a finished run, or a paused one.

    `paused` holds the extension fields of a paused run (its pending calls and state): the
    message then carries them instead of content, and `finish_reason` is `PAUSED`.
    """
    if paused is None:
        message: dict[str, Any] = {"role": "assistant", "content": reply_text(result.output)}
        finish = "length" if result.truncated else "stop"
    else:
        message = {"role": "assistant", "content": None, **paused}
        finish = PAUSED
    if with_tool_calls:
        message["agentkit_tool_calls"] = tool_call_entries(result.tool_calls)
    return _completion(request_id, created, model, message, finish, usage_entry(result))


def chunk(
    request_id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; `delta=None` makes the usage chunk (no choices)."""
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    )
    data: dict[str, Any] = {
        "id": request_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        data["usage"] = usage
    return data


def filtered_completion(request_id: str, created: int, model: str) -> dict[str, Any]:
    """The reply when a guardrail blocked the answer: no content, `finish_reason` says why."""
    message = {"role": "assistant", "content": None}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return _completion(request_id, created, model, message, "content_filter", usage)


def _completion(
    request_id: str,
    created: int,
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, int],
) -> dict[str, Any]:
    choice = {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage,
    }


def api_error(exc: BaseException, request_id: str) -> ApiError:
    """How a run's failure is reported to the client (never with a traceback)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, TimeoutError):
        logger.warning("%s: %s", request_id, exc)
        return ApiError(504, str(exc), type="timeout", code="timeout")
    if isinstance(exc, InputGuardrailTripped):
        return ApiError(400, str(exc), type="content_filter", code="input_guardrail")
    if isinstance(exc, UsageError):
        return ApiError(400, str(exc))
    if isinstance(exc, RunStateError):
        return state_error(exc)
    if isinstance(exc, AgentRunError):
        code = (
            "max_steps_exceeded"
            if isinstance(exc, MaxStepsExceeded)
            else "retries_exhausted"
            if isinstance(exc, RetriesExhausted)
            else "agent_error"
        )
        return ApiError(422, str(exc), type="agent_error", code=code)
    if isinstance(exc, ModelError):
        logger.warning("%s: the model failed: %s", request_id, exc)
        message = f"the model failed (request {request_id}; the server's log says why)"
        return ApiError(502, message, type="server_error", code="model_error")
    if isinstance(exc, AgentkitError):
        logger.error("%s: %s: %s", request_id, type(exc).__name__, exc)
    else:
        logger.error("%s: the run failed", request_id, exc_info=exc)
    return ApiError(500, f"internal error (request {request_id})", type="server_error")


def state_error(exc: RunStateError) -> ApiError:
    """A state that cannot be resumed: 400, with the reason (bounded; never the state itself)."""
    message = str(exc)
    if len(message) > _MAX_STATE_MESSAGE:
        message = message[: _MAX_STATE_MESSAGE - 3] + "..."
    return ApiError(400, message, code="invalid_run_state", param="agentkit_resume")


_MAX_STATE_MESSAGE = 300


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying `data` as JSON."""
    return b"data: " + _utf8(data) + b"\n\n"


def _utf8(data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot carry, becomes U+FFFD
        return encodable(text).encode()


async def send_json(
    send: Send,
    status: int,
    data: dict[str, Any],
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a whole JSON response."""
    body = _utf8(data)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if request_id is not None:
        raw.append((b"x-request-id", request_id.encode()))
    raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})
