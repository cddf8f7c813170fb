"""One request's run and its reply: watched for the client leaving and for the time limit.

A streamed reply starts when it has something to send: the answer, tool progress (if the
server exposes it), or a keep-alive comment after `keepalive` seconds of silence. So a run that
fails before then (a guardrail's block, `MaxStepsExceeded`) still gets its own status; later,
the error is the stream's last event. The raw model text (call syntax included) is never sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from agentkit._server_reply import (
    PAUSED,
    api_error,
    chunk,
    completion,
    filtered_completion,
    reply_text,
    send_json,
    sse,
    usage_entry,
)
from agentkit._server_wire import ApiError, ChatCall
from agentkit.agent import Agent
from agentkit.errors import GuardrailTripped, InputGuardrailTripped
from agentkit.events import Event, FinalEvent, ToolCallEvent, ToolResultEvent
from agentkit.messages import RunResult

if TYPE_CHECKING:
    from starlette.types import Receive, Send

    from agentkit._server_app import Limits
    from agentkit._server_approval import Approvals, PreparedResume

__all__ = ["Reply"]

logger = logging.getLogger("agentkit.server")

CLEANUP_SECONDS = 10.0
"""How long a cancelled run may take to wind down before the request lets go of it."""
_DONE = b"data: [DONE]\n\n"
_KEEPALIVE = b": keep-alive\n\n"


class ClientGone(Exception):
    """The client closed the connection before the reply was complete."""


class Filtered(Exception):
    """A guardrail blocked the answer: the reply ends with `finish_reason="content_filter"`."""


class Reply:
    """The reply to one request: a whole completion or an event stream."""

    def __init__(
        self,
        limits: Limits,
        request_id: str,
        send: Send,
        receive: Receive,
        approvals: Approvals,
        *,
        ended: Callable[[], None] = lambda: None,
    ) -> None:
        self.ended = ended  # called once the run is over, before the last of the reply is sent
        self.approvals = approvals
        self.limits = limits
        self.request_id = request_id
        self.created = int(time.time())
        self.send = send
        self.receive = receive

    async def complete(
        self, agent: Agent[Any, Any], call: ChatCall, resume: PreparedResume | None = None
    ) -> None:
        """Run (or resume) to the end, or to a pause, and send one `chat.completion`."""
        watch = _Watch(self.receive, self.limits.request_timeout)
        task = asyncio.create_task(_run(agent, call, resume))
        try:
            await watch.wait(task)
            self.ended()
            result = task.result()
        except ClientGone:
            logger.info("%s: the client left; run cancelled", self.request_id)
        except Filtered:
            await self._send(
                200, filtered_completion(self.request_id, self.created, self.limits.model_name)
            )
        except Exception as exc:
            await self._send_error(api_error(exc, self.request_id))
        else:
            data = completion(
                self.request_id,
                self.created,
                self.limits.model_name,
                result,
                with_tool_calls=self.limits.expose_tool_calls,
                paused=self.approvals.paused_fields(result),
            )
            await self._send(200, data)
        finally:
            await watch.close(task)

    async def stream(
        self, agent: Agent[Any, Any], call: ChatCall, resume: PreparedResume | None = None
    ) -> None:
        """Run (or resume), sending server-sent events: the answer once the run has it."""
        watch = _Watch(self.receive, self.limits.request_timeout)
        events = agent.stream(call.messages) if resume is None else resume.events(agent)
        stream = _EventChunks(self, call)
        pending = asyncio.create_task(_next(events))
        try:
            while not await self._forward(watch, pending, stream):
                pending = asyncio.create_task(_next(events))
        except ClientGone:
            logger.info("%s: the client left; run cancelled", self.request_id)
        except Exception as exc:
            await self._stream_failed(exc, stream.started)
        finally:
            await watch.close(pending)
            close = getattr(events, "aclose", None)  # an async generator: ends the run
            if close is not None:
                await _bounded(close())

    async def _forward(
        self, watch: _Watch, pending: asyncio.Task[Any], stream: _EventChunks
    ) -> bool:
        """Send what the run's next event makes, keep-alives while it comes; True after the last."""
        while not await watch.wait(pending, tick=self.limits.keepalive):
            await self._start(stream)
            await self._body(_KEEPALIVE)
        try:
            event = pending.result()
        except Exception:
            self.ended()  # the run failed: its error goes out next
            raise
        last = event is None or isinstance(event, FinalEvent)
        if last:
            self.ended()
        chunks = stream.chunks(event)
        if chunks:
            await self._start(stream)
        for data in chunks:
            await self._body(data)
        if last:
            await self._body(b"", more=False)
        return last

    async def _stream_failed(self, exc: Exception, started: bool) -> None:
        if isinstance(exc, Filtered):
            if not started:
                await self._start_stream()
            finish = chunk(
                self.request_id,
                self.created,
                self.limits.model_name,
                {},
                finish_reason="content_filter",
            )
            await self._body(sse(finish) + _DONE, more=False)
            return
        error = api_error(exc, self.request_id)
        if not started:
            await self._send_error(error)
        else:  # the status is sent: the error goes as an event, as OpenAI's servers do
            await self._body(sse(error.body()), more=False)

    # -- sending -----------------------------------------------------------------------------------
    async def _send(self, status: int, data: dict[str, Any]) -> None:
        await send_json(self.send, status, data, self.request_id)

    async def _send_error(self, error: ApiError) -> None:
        await send_json(self.send, error.status, error.body(), self.request_id, error.headers)

    async def _start(self, stream: _EventChunks) -> None:
        """Send the status and the role chunk, once: when there is a first thing to send."""
        if not stream.started:
            stream.started = True
            await self._start_stream()

    async def _start_stream(self) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-request-id", self.request_id.encode()),
        ]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        role = {"role": "assistant", "content": ""}
        await self._body(sse(chunk(self.request_id, self.created, self.limits.model_name, role)))

    async def _body(self, data: bytes, *, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})


class _EventChunks:
    """Turns a run's events into the stream's chunks (the raw model text is never sent)."""

    def __init__(self, reply: Reply, call: ChatCall) -> None:
        self.reply = reply
        self.call = call
        self.started = False
        self._calls: dict[str, dict[str, Any]] = {}

    def chunks(self, event: Event[Any] | None) -> list[bytes]:
        """The chunks an event makes (`None`: the run ended without a final event)."""
        reply = self.reply
        ids = (reply.request_id, reply.created, reply.limits.model_name)
        if event is None:
            error = ApiError(500, "the run ended without an answer", type="server_error")
            return [sse(error.body())]
        if isinstance(event, FinalEvent):
            result = event.result
            paused = reply.approvals.paused_fields(result)
            if paused is not None:  # the pending calls and the state, in the finish chunk
                out = [sse(chunk(*ids, paused, finish_reason=PAUSED))]
            else:
                finish = "length" if result.truncated else "stop"
                out = [
                    sse(chunk(*ids, {"content": reply_text(result.output)})),
                    sse(chunk(*ids, {}, finish_reason=finish)),
                ]
            if self.call.include_usage:
                out.append(sse(chunk(*ids, None, usage=usage_entry(result))))
            return [*out, _DONE]
        if not reply.limits.expose_tool_calls:
            return []
        if isinstance(event, ToolCallEvent):
            self._calls[event.call.id] = {"name": event.name, "arguments": event.arguments}
        elif isinstance(event, ToolResultEvent):
            made = self._calls.pop(event.call_id, {"arguments": {}})
            entry = {
                "id": event.call_id,
                "name": event.name,
                "arguments": made["arguments"],
                "content": event.content,
                "error": event.error,
            }
            return [sse(chunk(*ids, {"agentkit_tool_calls": [entry]}))]
        return []


class _Watch:
    """Waits on behalf of one request: each wait ends early if the client leaves or time is up."""

    def __init__(self, receive: Receive, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + timeout
        self._timeout = timeout
        self._gone = asyncio.create_task(_disconnected(receive))

    async def wait(self, task: asyncio.Task[Any], *, tick: float | None = None) -> bool:
        """Whether `task` is done; False when `tick` seconds passed first.

        Raises:
            ClientGone: the client closed the connection.
            TimeoutError: the request's time is up.
        """
        loop = asyncio.get_running_loop()
        left = self._deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"no answer within the request timeout ({self._timeout:g} s)")
        timeout = left if tick is None else min(left, tick)
        done, _ = await asyncio.wait(
            (task, self._gone), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return True
        if self._gone in done:
            raise ClientGone
        if loop.time() >= self._deadline:
            raise TimeoutError(f"no answer within the request timeout ({self._timeout:g} s)")
        return False

    async def close(self, task: asyncio.Task[Any]) -> None:
        """Cancel the run (if still going) and the watch, and let them wind down (bounded)."""
        task.cancel()
        self._gone.cancel()
        await asyncio.wait((task, self._gone), timeout=CLEANUP_SECONDS)
        if not task.done():
            logger.warning("a cancelled run did not end within %g s", CLEANUP_SECONDS)


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _run(
    agent: Agent[Any, Any], call: ChatCall, resume: PreparedResume | None
) -> RunResult[Any]:
    try:
        if resume is not None:
            return await resume.run(agent)
        return await agent.run_async(call.messages)
    except InputGuardrailTripped:
        raise
    except GuardrailTripped as exc:
        raise _filtered(exc) from exc


async def _next(events: AsyncIterator[Event[Any]]) -> Event[Any] | None:
    try:
        return await anext(events)
    except InputGuardrailTripped:
        raise
    except GuardrailTripped as exc:
        raise _filtered(exc) from exc
    except StopAsyncIteration:
        return None


def _filtered(exc: GuardrailTripped) -> Filtered:
    """A block of the answer or of a tool filters the reply (an input block stays a 400)."""
    logger.info("a guardrail blocked the reply: %s", exc)
    return Filtered(str(exc))


async def _bounded(coroutine: Any) -> None:
    try:
        await asyncio.wait_for(coroutine, CLEANUP_SECONDS)
    except Exception:  # winding down a run must never hide how the request ended
        logger.debug("closing a run's events failed", exc_info=True)
