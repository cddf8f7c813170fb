"""A backend for any server with an OpenAI-compatible `/chat/completions` endpoint.

vLLM, llama.cpp's server, Ollama, TGI, LM Studio and OpenAI itself all speak this protocol. In
text mode (the default) the server receives the chat messages as the format rendered them and
the format parses the completion text; in native mode the server receives the transcript and the
tool schemas and returns structured `tool_calls`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from agentkit.errors import ModelError, UsageError
from agentkit.formats import StableLMFormat, ToolFormat
from agentkit.formats._base import dumps
from agentkit.models._base import Model, ModelRequest, ModelResponse
from agentkit.models._openai_wire import (
    RETRY_STATUSES,
    RETRYABLE,
    Mode,
    StreamState,
    TransientError,
    backoff,
    describe,
    error_message,
    json_body,
    log_retry,
    native_fields,
    read_events,
    retry_after,
    snippet,
    to_response,
)

__all__ = ["OpenAICompatibleModel"]

logger = logging.getLogger("agentkit.models.openai")


class OpenAICompatibleModel(Model):
    """A model served over the OpenAI chat-completions protocol.

    Args:
        base_url: the API root, `/v1` included (e.g. `"http://localhost:8000/v1"`); requests go to
            `{base_url}/chat/completions` (a URL that already ends so is used as is).
        model: the model name the server knows.
        api_key: sent as a bearer token, if given.
        format: the `ToolFormat` that renders prompts and parses replies in text mode
            (StableLM 2's by default). Servers that reject `tool` turns without a call id want
            a format with `result_role="user"`.
        native_tools: send the transcript and tool schemas and read the server's `tool_calls`
            instead of rendering and parsing text.
        timeout: seconds allowed for connecting and for each read or write; while streaming,
            the longest silence between two chunks.
        max_retries: retries after a connection error, a timeout, a 408, a 429 or a 5xx reply.
        retry_wait: the longest wait between two attempts, in seconds (exponential backoff with
            full jitter; a server's `Retry-After` is honoured up to this bound).
        temperature: the sampling temperature, if set.
        max_tokens: the most tokens to generate, if set.
        http_client: a client to send requests with; it is not closed by this model. By default
            the model keeps one client per event loop and closes it with `aclose()` or when
            its loop shuts down.
        extra_body: more request fields (e.g. `{"top_p": 0.9}`), merged into every body last.

    Example:
        >>> model = OpenAICompatibleModel("http://localhost:8000/v1", model="qwen2.5-7b")
        >>> model.url
        'http://localhost:8000/v1/chat/completions'
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        format: ToolFormat | None = None,
        native_tools: bool = False,
        timeout: float = 60.0,
        max_retries: int = 3,
        retry_wait: float = 30.0,
        temperature: float | None = None,
        max_tokens: int | None = None,
        http_client: httpx.AsyncClient | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if timeout <= 0 or retry_wait < 0:
            raise UsageError("timeout must be positive and retry_wait not negative")
        if max_retries < 0:
            raise UsageError(f"max_retries must be 0 or more, got {max_retries}")
        self.format = format or StableLMFormat()
        self.base_url = base_url
        stripped = base_url.rstrip("/")
        self.url = (
            stripped if stripped.endswith("/chat/completions") else stripped + "/chat/completions"
        )
        self.model = model
        self.native_tools = native_tools
        self.max_retries = max_retries
        self.retry_wait = retry_wait
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_body = dict(extra_body or {})
        self._timeout = httpx.Timeout(timeout)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http_client = http_client
        # Connections belong to the loop that opened them, and `Agent.run` starts a loop per run.
        self._owned: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.base_url!r}, model={self.model!r}, "
            f"native_tools={self.native_tools!r})"
        )

    # -- the Model interface -----------------------------------------------------------------------
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Send one chat-completions request and return the reply.

        Raises:
            ModelError: the server refused the request, or failed after every retry.
        """
        response = await self._send(self._body(request, stream=False), stream=False)
        return self._reply(request, json_body(response))

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Stream one reply over server-sent events: text deltas, then the `ModelResponse`.

        Raises:
            ModelError: the request failed, or the stream broke off.
        """
        response = await self._send(self._body(request, stream=True), stream=True)
        state = StreamState()
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # Some servers ignore `stream` and answer with one JSON body.
                await response.aread()
                reply = self._reply(request, json_body(response))
                if reply.text:
                    yield reply.text
                yield reply
                return
            async for delta in read_events(response, state):
                yield delta
        except httpx.TransportError as exc:
            raise ModelError(f"the stream broke off: {describe(exc)}") from exc
        finally:
            await response.aclose()
        mode = self._mode(request)
        yield to_response(state.message(), state.finish_reason, state.usage, mode=mode)

    # -- lifecycle --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the client this model opened in the running event loop.

        A client passed as `http_client` stays open; clients of other loops close with their
        loop.
        """
        with self._lock:
            owned = self._owned.pop(asyncio.get_running_loop(), None)
        if owned is not None:
            await owned.keeper.aclose()

    async def __aenter__(self) -> OpenAICompatibleModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- requests ---------------------------------------------------------------------------------
    def _mode(self, request: ModelRequest) -> Mode:
        if not self.native_tools:
            return "text"
        # A reply without native calls still goes through the format's lenient parser, so
        # calls that a server failed to extract (left as text in `content`) are not lost.
        return "native_lenient" if request.tools and request.tool_choice != "none" else "native"

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of one request."""
        body: dict[str, Any] = {"model": self.model}
        if self.native_tools:
            body.update(native_fields(request))
        else:
            body["messages"] = [dict(m) for m in request.messages]
            if request.format.stop:
                body["stop"] = list(request.format.stop)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return body

    def _reply(self, request: ModelRequest, data: dict[str, Any]) -> ModelResponse:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelError(f"the server's reply has no choices: {snippet(dumps(data))}")
        message = choices[0].get("message")
        return to_response(
            message if isinstance(message, dict) else {},
            choices[0].get("finish_reason"),
            data.get("usage"),
            mode=self._mode(request),
        )

    async def _client(self) -> httpx.AsyncClient:
        if self._http_client is not None:
            return self._http_client
        loop = asyncio.get_running_loop()
        with self._lock:
            owned = self._owned.get(loop)
            fresh = owned is None
            if owned is None:
                owned = _LoopClient(httpx.AsyncClient(timeout=self._timeout))
                self._owned[loop] = owned
        if fresh:
            # Registers the keeper with the loop, whose shutdown (`asyncio.run` does it) closes it.
            await owned.keeper.__anext__()
        return owned.client

    async def _send(self, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """POST `body`, retrying transient failures; the response has a success status."""
        client = await self._client()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RETRYABLE),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=backoff(self.retry_wait),
            before_sleep=log_retry,
            reraise=True,
        )
        logger.debug("POST %s (model %s, stream=%s)", self.url, self.model, stream)
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(client, body, stream=stream)
        except (TransientError, httpx.TransportError) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise ModelError(
                f"{self.url} failed after {attempts} attempt(s): {describe(exc)}"
            ) from exc
        raise ModelError(f"{self.url}: no attempt was made")  # pragma: no cover

    async def _send_once(
        self, client: httpx.AsyncClient, body: dict[str, Any], *, stream: bool
    ) -> httpx.Response:
        headers = dict(self._headers)
        if stream:
            headers["Accept"] = "text/event-stream"
        request = client.build_request(
            "POST", self.url, json=body, headers=headers, timeout=self._timeout
        )
        response = await client.send(request, stream=stream)
        if response.is_success:
            return response
        try:
            await response.aread()
        finally:
            await response.aclose()
        status = response.status_code
        message = f"HTTP {status}: {error_message(response)}"
        if status in RETRY_STATUSES or status >= 500:
            raise TransientError(message, retry_after(response))
        raise ModelError(f"{self.url} refused the request: {message}")


@dataclass
class _LoopClient:
    """A client owned by the model in one event loop, and the generator that closes it."""

    client: httpx.AsyncClient
    keeper: AsyncGenerator[None, None] = field(init=False)

    def __post_init__(self) -> None:
        self.keeper = _close_at_shutdown(self.client)


async def _close_at_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Suspend until closed: by `aclose()`, or by the loop's `shutdown_asyncgens()`."""
    try:
        yield
    finally:
        await client.aclose()
