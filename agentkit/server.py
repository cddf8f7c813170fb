"""Serve an `Agent` as an OpenAI-compatible HTTP service (`pip install 'agentkit[serve]'`).

`create_app(agent)` returns an ASGI app (Starlette) with:

- `POST /v1/chat/completions`: each request is one independent run of the agent over the
  messages it sends (the protocol is stateless). The agent's tools run on the server; the reply
  is the final answer, plainly or as a server-sent-event stream, with `usage` (every model turn
  of the run). `response_format` (`json_object`, or `json_schema`) makes the answer structured
  output: the agent states the schema to its model and retries answers that do not match.
- `GET /v1/models` (and `/v1/models/{id}`): the one model name the app serves.
- `GET /health`: `{"status": "ok"}`, never behind the API key.

`agentkit serve MODULE:ATTRIBUTE` runs it with uvicorn; mount it in an existing Starlette or
FastAPI app with `Mount("/agent", app=create_app(agent))` (see `examples/embedded_service.py`).

Requests:
- Messages may be `system` (or `developer`) first, then `user`, `assistant` (with `tool_calls`)
  and `tool` messages; text content only. A tool message answers a call of the assistant
  message just before it; the last message is the user's or a tool's.
- **System messages.** An agent with a `system_prompt` keeps it: a client's system message is
  refused (400) unless it is that exact text. An agent without one uses the client's.
- Sampling fields (`temperature`, `max_tokens`, `stop`...) are accepted and ignored: the served
  agent's model settings apply. A request cannot add `tools`, ask for `n > 1` or `logprobs`
  (400), nor name another model (404).

Replies:
- A streamed reply starts when it has something to send (until then a failed run gets its own
  status): a role chunk, keep-alive comments while the run works, then the answer as one content
  chunk when the run has it (after output guardrails: the raw model text, call syntax included,
  is never streamed), the finish chunk, a usage chunk if `stream_options.include_usage`, and
  `[DONE]`.
- With `expose_tool_calls=True`, the message (or a stream chunk's delta, as each call ends)
  carries `agentkit_tool_calls`: each call's `id`, `name`, `arguments`, `content` (what the
  model saw) and `error`. Official clients ignore the field (`message.model_extra` shows it).

Errors come in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`: 400 bad input
(`UsageError` too), 400 with type `content_filter` for an input guardrail's block, 400 with
code `invalid_run_state` for a resume that cannot be made (see below), 401 without the API key,
404 another model, 413 a body past `max_body_bytes`, 422 `MaxStepsExceeded` or
`RetriesExhausted` (with their message), 429 past `max_concurrency` (with `Retry-After`), 502
`ModelError`, 504 past `request_timeout`, 500 otherwise; never a traceback
(the server logs the details under the request id). An output or tool guardrail's block is a
normal reply with `finish_reason: "content_filter"` and no content. After a stream has started,
an error comes as a last `data: {"error": ...}` event. A client that disconnects cancels its
run.

Approval (tools with `requires_approval`):
- A run that pauses for a person's approval is answered 200 with `finish_reason:
  "approval_required"` (which the official `openai` client accepts), `content: null`, and two
  extension fields on the message: `agentkit_pending_calls` (each call's `id`, `name` and
  `arguments`) and `agentkit_state` (an opaque token, the paused run's state). Streamed, they
  come in the delta of the finish chunk (after it the usage chunk, if asked for, and `[DONE]`).
- The follow-up request resumes the run: the same endpoint and body, plus the extension field
  `agentkit_resume: {"state": TOKEN, "approve": [ids], "reject": {id: reason}}` (with the
  official client: `extra_body={"agentkit_resume": ...}`). Every pending call needs a decision.
  `messages` is not read then (it may be left out or sent again as it was): the state carries
  the transcript. The reply is the run's answer, or another pause; `stream` works as usual, but
  the run's new calls (`agentkit_tool_calls`) and its answer come once the resumed run is over.
- The token is sealed: encrypted (it holds the system prompt and the tool results, which a
  client does not otherwise see) and authenticated with the server's state key, so a client
  can neither read nor alter it. The key is the agent's own `state_key`, else `create_app`'s
  `state_key`, else a random key of this process: then a state resumes only in the process
  that paused it (not after a restart, nor on another replica); give every process the same
  key to resume anywhere (`agentkit serve --workers N` gives its workers one key).
- A state resumes once: each process remembers the states it resumed (the last 65,536) and
  refuses them again with 400, even if the resumed run then failed. A refusal before anything
  ran (an unknown call id, a call left undecided) does not use the state up. That memory is per
  process: the workers of `agentkit serve --workers N` and replicas sharing a key do not share
  it, so a state replayed to another process (or after a restart, or once forgotten) resumes
  again: make approved tools idempotent where that matters.
- 400 `invalid_run_state` says why a resume is refused (never repeating the state): a token
  altered, or sealed under another key, a state already resumed, decisions naming unknown calls
  or leaving one undecided, or an agent whose tools changed since the pause.
"""

from __future__ import annotations

import copy
import hmac
import math
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentkit._server_app import ChatEndpoint, Limits
from agentkit._server_approval import Approvals
from agentkit._server_wire import ApiError, error_body
from agentkit.agent import Agent
from agentkit.errors import UsageError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

__all__ = ["create_app"]

_MIB = 1 << 20
INSTALL_HINT = "pip install 'agentkit[serve]'"


def create_app(
    agent: Agent[Any, Any] | Callable[[], Agent[Any, Any]],
    *,
    model_name: str = "agentkit",
    api_key: str | None = None,
    max_body_bytes: int = _MIB,
    max_concurrency: int = 64,
    request_timeout: float = 300.0,
    keepalive: float = 15.0,
    retry_after: int = 1,
    expose_tool_calls: bool = False,
    state_key: str | bytes | None = None,
) -> Starlette:
    """The ASGI app that serves `agent` over the OpenAI chat-completions protocol.

    Args:
        agent: the agent, or a function without arguments that returns one (called now).
        model_name: the model name clients send (and `/v1/models` lists).
        api_key: if given, every request but `/health` needs `Authorization: Bearer <api_key>`
            (compared in constant time).
        max_body_bytes: the largest request body; larger ones get 413.
        max_concurrency: runs at once; a request past it gets 429 with `Retry-After`.
        request_timeout: seconds a run may take (a streamed one included); then 504, or an
            error event once a stream has started.
        keepalive: seconds of silence after which a stream sends a keep-alive comment.
        retry_after: the seconds `Retry-After` asks a refused client to wait.
        expose_tool_calls: add `agentkit_tool_calls` to replies.
        state_key: the secret (at least 16 bytes) that seals the states of paused runs, for an
            agent without its own `state_key`; by default a random key of this process (a state
            then resumes only here). Give all the processes that serve one agent the same key.

    Raises:
        UsageError: Starlette is not installed, `agent` is not an Agent, an option is out of
            range, or `state_key` differs from the agent's own.

    Example:
        >>> from agentkit.models import ScriptedModel
        >>> app = create_app(Agent(ScriptedModel(lambda request: "Hello.")), model_name="hello")
        >>> [route.path for route in app.routes]
        ['/v1/chat/completions', '/v1/models', '/v1/models/{model_id:path}', '/health']
    """
    try:
        from starlette.applications import Starlette
    except ImportError:
        raise UsageError(f"serving needs Starlette: {INSTALL_HINT}") from None
    limits = Limits(
        model_name=_name(model_name),
        api_key=_key(api_key),
        max_body_bytes=_count("max_body_bytes", max_body_bytes),
        max_concurrency=_count("max_concurrency", max_concurrency),
        request_timeout=_seconds("request_timeout", request_timeout),
        keepalive=_seconds("keepalive", keepalive),
        retry_after=_count("retry_after", retry_after),
        expose_tool_calls=bool(expose_tool_calls),
    )
    served = _agent(agent)
    key = _state_key(state_key, served.state_key)
    if served.state_key != key:  # a copy signs with the server's key: the agent is unchanged
        served = copy.copy(served)
        served.state_key = key
    chat = ChatEndpoint(served, limits, Approvals(key))
    handlers = {404: _http_error, 405: _http_error}
    app = Starlette(routes=_routes(chat), exception_handlers=handlers)
    app.state.agentkit = chat
    return app


def _routes(chat: ChatEndpoint) -> list[Route]:
    from starlette.routing import Route

    info = _Info(chat.limits, chat)
    return [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", info.models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", info.model, methods=["GET"]),
        Route("/health", info.health, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """An unknown path or method, answered in OpenAI's error shape."""
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = exc.headers if isinstance(exc, HTTPException) else None
    message = f"{request.method} {request.url.path}: " + (
        "no such route" if status == 404 else "method not allowed"
    )
    body = error_body(message, "invalid_request_error", "not_found" if status == 404 else None)
    return JSONResponse(body, status_code=status, headers=headers)


class _Info:
    """The small read-only endpoints."""

    def __init__(self, limits: Limits, chat: ChatEndpoint) -> None:
        self.limits = limits
        self.chat = chat
        self.created = int(time.time())

    async def models(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        denied = await self._denied(request)
        if denied is not None:
            return denied
        return JSONResponse({"object": "list", "data": [self._entry()]})

    async def model(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        denied = await self._denied(request)
        if denied is not None:
            return denied
        name = request.path_params["model_id"]
        if name != self.limits.model_name:
            message = f"the model {name!r} does not exist here"
            error = error_body(message, "invalid_request_error", "model_not_found", "model")
            return JSONResponse(error, status_code=404)
        return JSONResponse(self._entry())

    async def health(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok", "active": self.chat.active})

    def _entry(self) -> dict[str, Any]:
        name = self.limits.model_name
        return {"id": name, "object": "model", "created": self.created, "owned_by": "agentkit"}

    async def _denied(self, request: Request) -> Response | None:
        from starlette.responses import JSONResponse

        try:
            self.chat.authorize(request.scope)
        except ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
        return None


def _agent(agent: object) -> Agent[Any, Any]:
    if isinstance(agent, Agent):
        return agent
    if callable(agent):
        made = agent()
        if isinstance(made, Agent):
            return made
        raise UsageError(f"the agent factory returned a {type(made).__name__}, not an Agent")
    raise UsageError(f"create_app needs an Agent or a function returning one, not {agent!r:.80}")


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UsageError("model_name must be a non-empty string")
    return name


def _key(key: object) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip():
        raise UsageError("api_key must be a non-empty string (or None for no authorization)")
    stripped = key.strip()
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in stripped):
        raise UsageError(
            "api_key must be printable ASCII without spaces (an HTTP header carries it)"
        )
    return stripped


def _state_key(given: object, own: bytes | None) -> bytes:
    """The key that seals paused states: the agent's, the given one, or a random one."""
    key: bytes | None = None
    if given is not None:
        key = given.encode() if isinstance(given, str) else given  # type: ignore[assignment]
        if not isinstance(key, bytes) or len(key.strip()) < _MIN_STATE_KEY:
            raise UsageError(f"state_key must be str or bytes of at least {_MIN_STATE_KEY} bytes")
    if own is not None:
        if key is not None and not hmac.compare_digest(key, own):
            raise UsageError("the agent has its own state_key, and state_key differs from it")
        return own
    return key if key is not None else secrets.token_bytes(32)


_MIN_STATE_KEY = 16


def _count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0:  # type: ignore[operator]
        raise UsageError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]
