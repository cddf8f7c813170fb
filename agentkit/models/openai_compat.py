"""A backend for any server with an OpenAI-compatible `/chat/completions` endpoint.

vLLM, llama.cpp's server, Ollama, TGI, LM Studio and OpenAI itself all speak this protocol. In
text mode (the default) the server receives the chat messages as the format rendered them and
the format parses the completion text; in native mode the server receives the transcript and the
tool schemas and returns structured `tool_calls`.

The protocol mapping lives in `_openai_wire` (and `_openai_sse` for replies as they arrive), the
sending, bounds and retries in `_openai_http`; this module holds the options and the lifecycle.
"""

from __future__ import annotations

import asyncio
import base64
import math
import threading
import unicodedata
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from agentkit.errors import AgentkitError, UsageError
from agentkit.formats import StableLMFormat, ToolFormat
from agentkit.models._base import Model, ModelRequest, ModelResponse
from agentkit.models._openai_checks import DroppedToolsCheck
from agentkit.models._openai_http import Policy, Redactor, open_reply
from agentkit.models._openai_wire import (
    Mode,
    ReplyError,
    encode_body,
    native_fields,
    text_messages,
)

__all__ = ["OpenAICompatibleModel"]

_MIB = 1 << 20


class OpenAICompatibleModel(Model):
    """A model served over the OpenAI chat-completions protocol.

    Every failure is a `ModelError` whose `retryable` attribute tells whether another try may
    succeed later (a dropped or empty stream, a timeout, a 429 or 5xx); its message names the
    bound that was hit and never shows the API key or the URL's password.

    Args:
        base_url: the API root, `/v1` included (e.g. `"http://localhost:8000/v1"`); requests go to
            `{base_url}/chat/completions` (a URL that already ends so is used as is). Credentials
            in it (`http://user:password@host/v1`) are sent as Basic authentication.
        model: the model name the server knows.
        api_key: sent as a bearer token, if given; surrounding whitespace (a key read from a
            file) is stripped.
        format: the `ToolFormat` that renders prompts and parses replies in text mode
            (StableLM 2's by default). Results rendered as `tool` turns carry a `tool_call_id`;
            a server that also wants the call declared in the assistant turn (OpenAI itself,
            Mistral's templates) wants a format with `result_role="user"`.
        native_tools: send the transcript and tool schemas and read the server's `tool_calls`
            instead of rendering and parsing text. A server whose chat template has no tools
            section drops the tools silently: the model logs a warning, once, when the replies
            show it (see `_openai_checks`); use text mode with such a server.
        stream: ask for a server-sent-event stream (text arrives as it is generated); with
            False, one plain request whose whole text is yielded at once.
        timeout: seconds allowed for connecting and for each read or write; while streaming,
            the longest silence between two chunks.
        deadline: seconds for a whole turn, every attempt, wait and read included.
        http_retries: attempts after the first for a transient failure: a connection error, a
            timeout, a dropped or empty reply, a 408, 429, 502, 503 or 504, or another 5xx whose
            message does not blame the request. (The agent's `max_retries` is a different thing:
            failed turns in a row.)
        retry_wait: the longest wait between two attempts, in seconds (exponential backoff with
            full jitter; a server's `Retry-After` is honoured up to this bound).
        temperature: the sampling temperature, if set.
        max_tokens: the most tokens to generate (None: the server's own limit). A reply cut
            there has `finish_reason == "length"` (`ModelResponse.truncated`).
        max_response_bytes: the most bytes read from one reply, streamed or not.
        http_client: a client to send requests with; it is not closed by this model. By default
            the model keeps one client per event loop and closes it with `aclose()` or when
            its loop shuts down.
        extra_body: more request fields (e.g. `{"top_p": 0.9}`), merged into every body last.

    Raises:
        UsageError: an option is out of range, `base_url` is not an http(s) URL, or the API key
            holds characters an HTTP header cannot carry.

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
        stream: bool = True,
        timeout: float = 60.0,
        deadline: float = 120.0,
        http_retries: int = 3,
        retry_wait: float = 30.0,
        temperature: float | None = None,
        max_tokens: int | None = 1024,
        max_response_bytes: int = 4 * _MIB,
        http_client: httpx.AsyncClient | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        _check_seconds(timeout=timeout, deadline=deadline)
        _check_count("http_retries", http_retries, least=0)
        _check_count("max_response_bytes", max_response_bytes, least=1)
        if max_tokens is not None:
            _check_count("max_tokens", max_tokens, least=1)
        if not _finite(retry_wait) or retry_wait < 0:
            raise UsageError(f"retry_wait must be a finite number of seconds >= 0: {retry_wait!r}")
        if temperature is not None and (not _finite(temperature) or temperature < 0):
            raise UsageError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if not isinstance(model, str) or not model.strip():
            raise UsageError("model must name the server's model")
        self.extra_body = dict(extra_body or {})
        encode_body(self.extra_body)  # a value JSON cannot carry is refused now, not each turn
        self.url, self.base_url, headers, secrets = _endpoint(base_url, api_key)
        self.format = format or StableLMFormat()
        self.model = model
        self.native_tools = native_tools
        self.streaming = stream
        self.timeout = timeout
        self.deadline = deadline
        self.http_retries = http_retries
        self.retry_wait = retry_wait
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_response_bytes = max_response_bytes
        self._headers = headers
        self._redact = Redactor(secrets)
        self._http_client = http_client
        # Connections belong to the loop that opened them, and `Agent.run` starts a loop per run.
        self._owned: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._tools_check = DroppedToolsCheck()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.base_url!r}, model={self.model!r}, "
            f"native_tools={self.native_tools!r}, stream={self.streaming!r})"
        )

    # -- the Model interface -----------------------------------------------------------------------
    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Yield the reply's text deltas as they arrive, then the `ModelResponse`.

        Transient failures before the first delta are retried; after it they are raised.

        Raises:
            ModelError: the request failed, the reply broke off or ran past a bound, or it
                was malformed or empty.
            UsageError: the request holds a value JSON cannot carry (NaN, say).
        """
        mode = self._mode(request)
        try:
            reply, first = await open_reply(
                await self._client(),
                self._policy(),
                self._encode(request),
                streaming=self.streaming,
            )
        except AgentkitError as exc:
            self._redact.scrub(exc)
            raise
        try:
            for delta in first:
                yield delta
            while not reply.finished:
                try:
                    deltas = await reply.next()
                except ReplyError as exc:
                    error = ReplyError(
                        f"{self.url}: {exc} (after part of the reply was streamed)",
                        retryable=exc.retryable,
                    )
                    self._redact.scrub(error)
                    raise error from exc
                for delta in deltas:
                    yield delta
        finally:
            await reply.aclose()
        response = reply.state.response(mode)
        if mode != "text":
            self._tools_check.observe(request, response, self.base_url)
        yield response

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

    def _encode(self, request: ModelRequest) -> bytes:
        """The JSON body of one request, as bytes."""
        body: dict[str, Any] = {"model": self.model}
        if self.native_tools:
            body.update(native_fields(request))  # reads the transcript: nothing is rendered
        else:
            body["messages"] = text_messages(request)
            if request.format.stop:
                body["stop"] = list(request.format.stop)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.streaming:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra_body)
        return encode_body(body)

    def _policy(self) -> Policy:
        return Policy(
            url=self.url,
            headers=self._headers,
            timeout=self.timeout,
            deadline=self.deadline,
            http_retries=self.http_retries,
            retry_wait=self.retry_wait,
            max_response_bytes=self.max_response_bytes,
            redact=self._redact,
        )

    async def _client(self) -> httpx.AsyncClient:
        if self._http_client is not None:
            return self._http_client
        loop = asyncio.get_running_loop()
        with self._lock:
            owned = self._owned.get(loop)
            fresh = owned is None
            if owned is None:
                owned = _LoopClient(httpx.AsyncClient(timeout=httpx.Timeout(self.timeout)))
                self._owned[loop] = owned
        if fresh:
            # Registers the keeper with the loop, whose shutdown (`asyncio.run` does it) closes it.
            await owned.keeper.__anext__()
        return owned.client


# -- options ---------------------------------------------------------------------------------------
def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_seconds(**bounds: float) -> None:
    for name, value in bounds.items():
        if not _finite(value) or value <= 0:
            raise UsageError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _check_count(name: str, value: int, *, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise UsageError(f"{name} must be an integer >= {least}, got {value!r}")


def _endpoint(
    base_url: str, api_key: str | None
) -> tuple[str, str, dict[bytes, bytes], tuple[str, ...]]:
    """The endpoint URL without credentials, `base_url` as shown, auth headers, the secrets."""
    try:
        url = httpx.URL(base_url.strip()) if isinstance(base_url, str) else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise UsageError("base_url must be an http:// or https:// URL with a host")
    user, password = url.username, url.password
    raw_user, _, raw_password = url.userinfo.decode("ascii").partition(":")
    secrets = tuple(s for s in {password, raw_password} if s)
    if user and not password:  # `https://TOKEN@host`: the name is the secret
        secrets += tuple({user, raw_user})
    bare = url.copy_with(userinfo=b"")
    shown = str(bare)
    if url.userinfo:
        shown = shown.replace("://", f"://{raw_user + ':***' if password else '***'}@", 1)
    path = bare.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions"
    endpoint = str(bare.copy_with(path=path))  # a query (`?api-version=...`) stays last
    headers: dict[bytes, bytes] = {}
    key = _api_key(api_key)
    if key is not None:
        headers[b"Authorization"] = b"Bearer " + key.encode("latin-1")
        secrets += (key,)
    elif url.userinfo:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers[b"Authorization"] = f"Basic {basic}".encode("ascii")
        secrets += (basic,)
    return endpoint, shown, headers, secrets


def _api_key(api_key: str | None) -> str | None:
    """The key without surrounding whitespace; refused if a header cannot carry it."""
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise UsageError(f"api_key must be a string, not {type(api_key).__name__}")
    key = api_key.strip()
    bad = [c for c in key if ord(c) > 0xFF or unicodedata.category(c) == "Cc"]
    if bad:
        raise UsageError(
            f"api_key holds {len(bad)} character(s) an HTTP header cannot carry (control or "
            f"non-Latin-1 characters, the first U+{ord(bad[0]):04X}); check how it was read"
        )
    return key or None


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
