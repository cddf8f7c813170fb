"""`OpenAICompatibleModel`'s time bounds: the per-read timeout and the per-turn deadline."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from agentkit.errors import ModelError
from agentkit.models import OpenAICompatibleModel
from tests.test_openai_compat import FakeServer, request_for
from tests.test_openai_replies import ROLE, SSE, text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port whose connections are accepted (by the kernel) and never answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def fail_timed(model: OpenAICompatibleModel) -> tuple[ModelError, float]:
    """Run one turn that must fail; return its error and how long it took."""
    started = time.monotonic()
    with pytest.raises(ModelError) as info:
        asyncio.run(model.complete(request_for()))
    return info.value, time.monotonic() - started


def test_defaults_bound_a_turn_well_under_four_timeouts() -> None:
    model = OpenAICompatibleModel("http://fake/v1", model="m")
    assert model.deadline <= 120 < (model.http_retries + 1) * model.timeout


def test_a_silent_server_costs_one_deadline_not_every_retry(silent_server: str) -> None:
    model = OpenAICompatibleModel(
        silent_server, model="m", timeout=0.2, deadline=0.5, http_retries=3, retry_wait=0.01
    )
    error, took = fail_timed(model)
    message = str(error)
    assert "deadline ran out while waiting for the server to answer" in message
    assert "deadline=0.5 s" in message
    assert "ReadTimeout: nothing for 0.2 s" in message  # the attempt before hit the read bound
    assert 0.45 < took < 3.0  # loose above: a loaded machine is slow, the message says the rest


def test_the_per_read_timeout_is_named_when_it_is_the_bound_hit(silent_server: str) -> None:
    model = OpenAICompatibleModel(
        silent_server, model="m", timeout=0.1, deadline=30, http_retries=1, retry_wait=0.01
    )
    error, took = fail_timed(model)
    assert "failed after 2 attempt(s): ReadTimeout: nothing for 0.1 s" in str(error)
    assert "per-read timeout" in str(error)
    assert getattr(error, "retryable", False)
    assert took < 1.5


class Trickle(httpx.AsyncByteStream):
    """A stream that sends `first`, then a keep-alive comment every 20 ms, forever."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        while True:
            await asyncio.sleep(0.02)  # the server's pace, not the test waiting
            yield b": keep-alive\n\n"


@pytest.mark.parametrize("first", [ROLE, ROLE + text("Partial")], ids=["no-text", "text"])
def test_a_trickling_server_is_bounded_by_the_deadline(first: bytes) -> None:
    reply = httpx.Response(200, stream=Trickle(first), headers={"content-type": SSE})
    server = FakeServer([reply])
    error, took = fail_timed(server.model(timeout=5, deadline=0.3))
    assert "deadline ran out while reading the reply" in str(error)
    assert "deadline=0.3 s for the whole turn" in str(error)
    assert took < 1.5
    assert len(server.requests) == 1


def test_backoff_never_outlasts_the_deadline() -> None:
    busy = httpx.Response(503, headers={"Retry-After": "30"}, text="busy")
    server = FakeServer([busy] * 4)
    error, took = fail_timed(server.model(deadline=0.3, retry_wait=60))
    assert "failed after 1 attempt(s): HTTP 503: busy" in str(error)
    assert "deadline (deadline=0.3 s) left no time for more" in str(error)
    assert took < 1.0


@pytest.fixture
def sse_server() -> Iterator[tuple[str, list[int]]]:
    """A real keep-alive server streaming one short reply; it records each request's client port."""
    ports: list[int] = []
    body = ROLE + text("Hi.") + b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n\n'
    body += b"data: [DONE]\n\n"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Type", SSE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", ports
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_streamed_turns_reuse_one_connection(sse_server: tuple[str, list[int]]) -> None:
    url, ports = sse_server

    async def two_turns() -> list[str]:
        async with OpenAICompatibleModel(url, model="m") as model:
            return [(await model.complete(request_for())).text for _ in range(2)]

    assert asyncio.run(two_turns()) == ["Hi.", "Hi."]
    assert len(ports) == 2 and ports[0] == ports[1]


def test_closing_a_stream_early_closes_the_reply() -> None:
    class Watched(httpx.AsyncByteStream):
        closed = False

        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield ROLE + text("Hi")
            yield text(" there")

        async def aclose(self) -> None:
            self.closed = True

    stream = Watched()
    server = FakeServer([httpx.Response(200, stream=stream, headers={"content-type": SSE})])
    model = server.model()

    async def first_delta_only() -> str | object:
        parts = model.stream(request_for())
        first = await anext(parts)
        await parts.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(first_delta_only()) == "Hi"
    assert stream.closed
