"""One MCP client connection, owned by one background task.

The official client enters anyio cancel scopes and task groups when it connects, and they must
be left by the task that entered them: closing a client from another task (an ASGI shutdown
hook, a finaliser, a different request) is the classic "exit cancel scope in a different task"
error. So here one task, started by `Connection.open`, enters the client, lists the tools, then
serves requests it receives over a bounded queue (each in a child task, at most
`max_concurrent` at once) until `close` cancels it; it alone leaves the client. Any task of the
same event loop may call `request` or `close`.

Every wait is bounded: connecting (`connect_timeout`), queueing (`timeout`), each request
(`timeout`), closing (`CLOSE_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agentkit.errors import MCPConnectionError, MCPToolError

if TYPE_CHECKING:
    import anyio
    from mcp import Client
    from mcp.types import Tool as MCPTool

__all__ = ["CLOSE_TIMEOUT", "Connection", "MCPConnectionError", "MCPToolError"]

logger = logging.getLogger("agentkit.mcp")

_T = TypeVar("_T")
CLOSE_TIMEOUT = 15.0
"""Seconds `close` waits for the owner task (a stdio server gets 2 s to exit, then is killed)."""
_MAX_PAGES = 100  # tools/list pages read at most
_NOT_CONNECTED = "not connected: use `async with toolset:` or `await toolset.connect()` first"


@dataclass(eq=False)
class _Request(Generic[_T]):
    """One request for the owner task: what to run with the client, and where the answer goes."""

    run: Callable[[Client], Awaitable[_T]]
    future: asyncio.Future[_T]
    timeout: float
    scope: anyio.CancelScope | None = None
    given_up: bool = False


class Connection:
    """A client session in its owner task (see the module docstring).

    Args:
        label: how errors name the server (`stdio: python server.py`, a URL).
        make_client: builds a fresh, unentered `mcp.Client`.
        timeout: seconds a request may take, queueing included.
        connect_timeout: seconds connecting and listing the tools may take.
        max_concurrent: requests in flight at once.
        max_queued: requests waiting for a slot.
    """

    def __init__(
        self,
        label: str,
        make_client: Callable[[], AbstractAsyncContextManager[Client]],
        *,
        timeout: float,
        connect_timeout: float,
        max_concurrent: int,
        max_queued: int,
    ) -> None:
        self.label = label
        self._make_client = make_client
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._max_concurrent = max_concurrent
        self._queue: asyncio.Queue[_Request[Any]] = asyncio.Queue(max_queued)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner: asyncio.Task[None] | None = None
        self._scope: anyio.CancelScope | None = None
        self._in_flight: set[_Request[Any]] = set()
        self.failure: str | None = None  # why the connection ended, once it has
        self.lost = False  # it ended without `close`: the next call may reconnect
        self._closing = False

    @property
    def alive(self) -> bool:
        """Whether requests can be sent (open, and not lost)."""
        return self._owner is not None and not self._owner.done() and self.failure is None

    async def open(self) -> list[MCPTool]:
        """Connect in a new owner task; return the server's tools.

        Raises:
            MCPConnectionError: the server could not be started or reached, or did not answer
                within `connect_timeout`.
        """
        await self.close()  # an earlier owner must be gone before this one starts
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._queue = asyncio.Queue(self._queue.maxsize)
        self.failure, self.lost, self._closing = None, False, False
        self._in_flight = set()
        ready: asyncio.Future[list[MCPTool]] = loop.create_future()
        self._owner = loop.create_task(self._own(ready), name=f"agentkit-mcp {self.label}")
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.shield(ready)
        except TimeoutError:
            await self.close()
            raise MCPConnectionError(
                f"{self.label}: no answer within {self.connect_timeout:g} s while connecting"
            ) from None
        except asyncio.CancelledError:
            await self.close()
            raise

    async def request(self, run: Callable[[Client], Awaitable[_T]]) -> _T:
        """Run `run(client)` in the owner task; its value.

        Raises:
            MCPConnectionError: the connection is closed or lost, busy past `timeout`, the
                request took longer than `timeout`, or the caller is in another event loop.
            Exception: what `run` raised (e.g. `MCPToolError`).
        """
        loop = asyncio.get_running_loop()
        if self._loop is None:
            raise MCPConnectionError(f"{self.label}: {_NOT_CONNECTED}")
        if loop is not self._loop:
            raise MCPConnectionError(
                f"{self.label}: the connection was opened in another event loop; use it from "
                "that loop (e.g. `await agent.run_async(...)` there)"
            )
        if not self.alive:
            raise MCPConnectionError(f"{self.label}: {self.failure or _NOT_CONNECTED}")
        item: _Request[_T] = _Request(run, loop.create_future(), self.timeout)
        try:
            async with asyncio.timeout(self.timeout):
                await self._queue.put(item)
                return await asyncio.shield(item.future)
        except TimeoutError:
            raise MCPConnectionError(f"{self.label}: no answer within {self.timeout:g} s") from None
        finally:
            if not item.future.done():  # given up (timeout, cancelled): stop it in the owner
                item.given_up = True
                if item.scope is not None:
                    item.scope.cancel()

    async def close(self) -> None:
        """Stop the owner task, which closes the client (ends a stdio server); idempotent."""
        owner = self._owner
        if owner is None or owner.done():
            return
        self._closing = True
        if self._scope is not None:
            self._scope.cancel()
        else:  # still connecting: cancelling the task makes the client unwind there
            owner.cancel()
        done, _ = await asyncio.wait({owner}, timeout=CLOSE_TIMEOUT)
        if not done:
            owner.cancel()
            logger.warning(
                "%s: the MCP connection did not close within %s s", self.label, CLOSE_TIMEOUT
            )
        self.failure = self.failure or "closed"

    # -- the owner task ----------------------------------------------------------------------------
    async def _own(self, ready: asyncio.Future[list[MCPTool]]) -> None:
        import anyio

        try:
            async with self._make_client() as client:
                tools = await _list_tools(client)
                async with anyio.create_task_group() as group:
                    self._scope = group.cancel_scope
                    ready.set_result(tools)
                    slots = asyncio.Semaphore(self._max_concurrent)
                    while True:
                        item = await self._queue.get()
                        await slots.acquire()
                        group.start_soon(self._serve, client, item, slots)
        except BaseException as exc:  # the client's own failure, or our cancellation
            reason = _describe(exc)
            if not ready.done():
                ready.set_exception(MCPConnectionError(f"{self.label}: {reason}"))
            elif not self._closing:
                self._lost(reason)
            self.failure = self.failure or reason
            if not isinstance(exc, Exception | asyncio.CancelledError):
                raise
        finally:
            if self._owner is asyncio.current_task():  # not an old owner, late to finish
                self.failure = self.failure or "closed"
                self._scope = None
                self._fail_pending()

    async def _serve(self, client: Client, item: _Request[Any], slots: asyncio.Semaphore) -> None:
        """Run one request; a failure of the connection is left for the owner to report."""
        import anyio
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        self._in_flight.add(item)
        try:
            if item.given_up:
                return
            with anyio.CancelScope() as scope:
                item.scope = scope
                try:
                    _settle(item.future, await item.run(client))
                except MCPError as exc:
                    if exc.code != CONNECTION_CLOSED:
                        _fail(item.future, MCPToolError(exc.message))
                    else:
                        self._lost("the server closed the connection")
                except (MCPToolError, MCPConnectionError) as exc:
                    _fail(item.future, exc)
                except Exception as exc:  # the transport broke (a dead HTTP server...)
                    self._lost(_describe(exc))
        finally:
            slots.release()
            if item.future.done() or item.given_up:
                self._in_flight.discard(item)
            # else the connection is going down: the owner fails the call with the reason

    def _lost(self, reason: str) -> None:
        """The connection is gone: stop serving; calls fail until it is opened again."""
        if self.failure is None:
            logger.warning("%s: %s", self.label, reason)
            self.failure = f"{reason}; the next call reconnects"
            self.lost = True
        if self._scope is not None:
            self._scope.cancel()

    def _fail_pending(self) -> None:
        """Fail the calls in flight and those queued, with why the connection ended."""
        pending = list(self._in_flight)
        self._in_flight.clear()
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending:
            _fail(item.future, MCPConnectionError(f"{self.label}: {self.failure}"))


async def _list_tools(client: Client) -> list[MCPTool]:
    tools: list[MCPTool] = []
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _describe(exc: BaseException) -> str:
    """One line for an exception, unwrapping the exception groups task groups raise."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, asyncio.CancelledError):
        return "closed"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
