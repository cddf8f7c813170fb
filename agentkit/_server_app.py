"""The chat-completions endpoint: authorization, the body's size, admission, then the run."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentkit._server_approval import Approvals, PreparedResume
from agentkit._server_output import AgentVariants
from agentkit._server_reply import send_json
from agentkit._server_run import Reply
from agentkit._server_wire import ApiError, parse_chat
from agentkit.agent import Agent

logger = logging.getLogger("agentkit.server")

BODY_TIMEOUT = 30.0
"""Seconds a client has to send its whole request body (a stalled upload holds no slot)."""

_INTERNAL = ApiError(500, "internal error", type="server_error", code="internal_error")

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

__all__ = ["ChatEndpoint", "Limits"]


@dataclass(frozen=True)
class Limits:
    """What the server allows (see `agentkit.server.create_app`)."""

    model_name: str
    api_key: str | None
    max_body_bytes: int
    max_concurrency: int
    request_timeout: float
    keepalive: float
    retry_after: int
    expose_tool_calls: bool


class ChatEndpoint:
    """The ASGI app of `POST /v1/chat/completions` for one agent."""

    def __init__(self, agent: Agent[Any, Any], limits: Limits, approvals: Approvals) -> None:
        self.agent = agent  # its state_key is the approvals' key
        self.limits = limits
        self.approvals = approvals
        self.active = 0
        self._variants = AgentVariants(agent)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = "chatcmpl-" + uuid.uuid4().hex
        try:
            self.authorize(scope)
            body = await _read_body(scope, receive, self.limits.max_body_bytes, BODY_TIMEOUT)
            call = parse_chat(
                body, model_name=self.limits.model_name, system_prompt=self.agent.system_prompt
            )
            agent = self._variants.get(call.output_schema)
            self._admit()
            resume: PreparedResume | None = None
            if call.resume is not None:  # last: a state is claimed only by a request that runs
                resume = self.approvals.prepare(call.resume)
        except ApiError as exc:
            await send_json(send, exc.status, exc.body(), request_id, exc.headers)
            return
        except Exception:  # never a traceback, nor a plain-text 500, for the client
            logger.exception("request %s failed before its run", request_id)
            await send_json(send, 500, _INTERNAL.body(), request_id, {})
            return
        self.active += 1
        held = True

        def release() -> None:
            # Once the run has ended, before its reply goes out: a client that sends its next
            # request as soon as it has the reply must find the slot free.
            nonlocal held
            if held:
                held = False
                self.active -= 1

        try:
            reply = Reply(self.limits, request_id, send, receive, self.approvals, ended=release)
            if call.stream:
                await reply.stream(agent, call, resume)
            else:
                await reply.complete(agent, call, resume)
        except Exception:  # the reply could not be built: an OpenAI-shaped 500, if still possible
            logger.exception("request %s failed", request_id)
            with contextlib.suppress(Exception):
                await send_json(send, 500, _INTERNAL.body(), request_id, {})
        finally:
            release()

    def authorize(self, scope: Scope) -> None:
        """Check the bearer token, if the server has an API key.

        Raises:
            ApiError: 401 without the right key.
        """
        key = self.limits.api_key
        if key is None:
            return
        given = b""
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                given = value
        scheme, _, token = given.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), key.encode()):
            raise ApiError(
                401,
                "a valid API key is required (Authorization: Bearer <key>)",
                code="invalid_api_key",
                headers={"www-authenticate": "Bearer"},
            )

    def _admit(self) -> None:
        if self.active >= self.limits.max_concurrency:
            seconds = self.limits.retry_after
            raise ApiError(
                429,
                f"the server is running {self.active} requests, its limit: retry in {seconds} s",
                type="rate_limit_exceeded",
                code="rate_limit_exceeded",
                headers={"retry-after": str(seconds)},
            )


async def _read_body(scope: Scope, receive: Receive, limit: int, timeout: float) -> bytes:
    """The request body, refused past `limit` bytes or `timeout` seconds (a stalled upload)."""
    try:
        async with asyncio.timeout(timeout):
            return await _read_body_parts(scope, receive, limit)
    except TimeoutError:
        raise ApiError(
            408, f"the request body did not arrive within {timeout:g} s", code="request_timeout"
        ) from None


async def _read_body_parts(scope: Scope, receive: Receive, limit: int) -> bytes:
    too_large = ApiError(
        413, f"the request body is larger than {limit} bytes", code="request_too_large"
    )
    for name, value in scope["headers"]:
        if name.lower() == b"content-length" and value.isdigit() and int(value) > limit:
            raise too_large
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client closed the connection while sending the body")
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)
