"""Sending chat-completions requests: one deadline a turn, retries, bounded replies, no secrets.

One turn is a series of attempts (tenacity decides on the next one) inside one deadline. An
attempt posts the body and reads the reply until its first text delta, or its end: until then
any transient failure is retried, since nothing has reached the caller yet. After that the
`Reply` is read delta by delta, still within the deadline and the size bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_random_exponential

from agentkit.models._openai_sse import ReplyDecoder
from agentkit.models._openai_wire import ReplyError, StreamState, error_body_text, looks_invalid

logger = logging.getLogger("agentkit.models.openai")

# Statuses worth another try whatever the body says: they come from gateways and rate limits.
_ALWAYS_RETRY = frozenset({408, 429, 502, 503, 504})
_DRAIN_SECONDS = 0.5
_DRAIN_BYTES = 64 * 1024
_TIMEOUT_WHILE = {
    httpx.ConnectTimeout: "connecting",
    httpx.WriteTimeout: "sending the request",
    httpx.PoolTimeout: "waiting for a free connection",
}


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets (an API key, a URL's credentials) in text meant for people or logs.

    Example:
        >>> Redactor(("sk-123",))("bad key sk-123")
        'bad key ***'
    """

    secrets: tuple[str, ...] = ()

    def __call__(self, text: str) -> str:
        """`text` with each secret replaced by `***`."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def scrub(self, exc: BaseException) -> None:
        """Redact an exception's message in place; drop a chained cause that shows a secret."""
        if not self.secrets:
            return
        exc.args = tuple(self(a) if isinstance(a, str) else a for a in exc.args)
        linked, seen = exc.__cause__ or exc.__context__, {id(exc)}
        while linked is not None and id(linked) not in seen:
            if self(str(linked)) != str(linked):
                exc.__cause__ = None
                exc.__suppress_context__ = True
                return
            seen.add(id(linked))
            linked = linked.__cause__ or linked.__context__


@dataclass(frozen=True)
class Policy:
    """Where and how one model sends, and the bounds on each turn.

    Attributes:
        url: the endpoint, without credentials.
        headers: headers sent with every request (credentials included).
        timeout: seconds allowed to connect, and for each read or write.
        deadline: seconds for the whole turn: every attempt, wait and read.
        http_retries: attempts after the first for a transient failure.
        retry_wait: the longest wait between two attempts.
        max_response_bytes: the most bytes of one reply read (decompressed).
        redact: hides the secrets in messages and logs.
    """

    url: str
    headers: Mapping[bytes, bytes]
    timeout: float
    deadline: float
    http_retries: int
    retry_wait: float
    max_response_bytes: int
    redact: Redactor


class _Turn:
    """The deadline, attempts and retry policy of one turn."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ends_at = asyncio.get_running_loop().time() + policy.deadline
        self.attempts = 0
        self.last_failure = ""
        self._jitter = wait_random_exponential(multiplier=0.5, max=policy.retry_wait)

    def remaining(self) -> float:
        return self.ends_at - asyncio.get_running_loop().time()

    @asynccontextmanager
    async def bound(self, doing: str) -> AsyncIterator[None]:
        """Run the body within the deadline; running out is a ReplyError saying so."""
        limit = asyncio.timeout_at(self.ends_at)
        try:
            async with limit:
                yield
        except TimeoutError:
            if not limit.expired():
                raise
            last = f"; the attempt before failed: {self.last_failure}" if self.last_failure else ""
            raise ReplyError(
                f"the turn's deadline ran out while {doing} "
                f"(deadline={self.policy.deadline:g} s for the whole turn){last}"
            ) from None

    def retrying(self) -> AsyncRetrying:
        """Tenacity's loop: transient failures only, within both `http_retries` and the deadline."""
        return AsyncRetrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, ReplyError) and exc.retryable),
            stop=self._stop,
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def _stop(self, state: RetryCallState) -> bool:
        out_of_attempts = state.attempt_number > self.policy.http_retries
        return out_of_attempts or state.upcoming_sleep >= self.remaining()

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with full jitter, or the server's Retry-After, within bounds."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ReplyError) and exc.retry_after is not None:
            wait = min(exc.retry_after, self.policy.retry_wait)
        else:
            wait = self._jitter(state)
        return max(0.0, min(wait, self.remaining()))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        self.last_failure = self.policy.redact(str(exc))
        logger.info(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            self.policy.url,
            state.attempt_number,
            self.last_failure,
            state.upcoming_sleep,
        )

    def failure(self, exc: ReplyError) -> ReplyError:
        """The error the caller sees once no attempt is left."""
        url, attempts = self.policy.url, self.attempts
        if not exc.retryable:
            where = f" (attempt {attempts})" if attempts > 1 else ""
            return ReplyError(f"{url}{where}: {exc}")
        why = ""
        if attempts <= self.policy.http_retries:
            why = (
                f"; the turn's deadline (deadline={self.policy.deadline:g} s) left no time for more"
            )
        return ReplyError(
            f"{url} failed after {attempts} attempt(s): {exc}{why}",
            retryable=True,
            retry_after=exc.retry_after,
        )


class Reply:
    """One attempt's open reply, read delta by delta within the turn's bounds.

    Attributes:
        state: what the reply adds up to so far.
    """

    def __init__(self, response: httpx.Response, turn: _Turn) -> None:
        self.state = StreamState()
        self._decoder = ReplyDecoder(self.state)
        self._response = response
        self._chunks = response.aiter_bytes()
        self._turn = turn

    @property
    def finished(self) -> bool:
        """Whether the whole reply has been read and checked."""
        return self._decoder.done

    async def next(self) -> list[str]:
        """Read until text deltas come or the reply ends (then `finished` is true).

        Raises:
            ReplyError: the reply broke off, ran past a bound, or is malformed or empty.
        """
        while not self._decoder.done:
            chunk = await self._read()
            deltas = self._decoder.feed(chunk) if chunk else []
            if chunk is None or self._decoder.done:
                deltas += self._decoder.end()
            if deltas:
                return deltas
        return []

    async def _read(self) -> bytes | None:
        received, limit = self._decoder.received, self._turn.policy.max_response_bytes
        async with self._turn.bound(f"reading the reply ({received} bytes so far)"):
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                return None
            except httpx.HTTPError as exc:
                raise _transport_error(exc, self._turn.policy, "the stream broke off") from exc
        if received + len(chunk) > limit:
            raise ReplyError(
                f"the reply is larger than max_response_bytes={limit} "
                f"({received + len(chunk)} bytes read); nothing more is read"
            )
        return chunk

    async def aclose(self) -> None:
        """Close the response; after a complete reply, its connection goes back to the pool."""
        if self._decoder.done:
            await self._drain()
        await self._response.aclose()

    async def _drain(self) -> None:
        """Read what follows `[DONE]` (the body's end), briefly.

        A body left unread costs its connection, and the next turn a new handshake.
        """
        left = _DRAIN_BYTES
        try:
            async with asyncio.timeout(min(_DRAIN_SECONDS, max(0.0, self._turn.remaining()))):
                async for chunk in self._chunks:
                    left -= len(chunk)
                    if left < 0:
                        return
        except (TimeoutError, httpx.HTTPError):
            pass  # the connection is closed instead


async def open_reply(
    client: httpx.AsyncClient, policy: Policy, body: bytes, *, streaming: bool
) -> tuple[Reply, list[str]]:
    """Post `body` until an attempt yields its first text deltas, or its whole reply.

    Raises:
        ReplyError: no attempt succeeded; `retryable` tells whether a later turn might.
    """
    turn = _Turn(policy)
    logger.debug("POST %s (stream=%s, %d bytes)", policy.url, streaming, len(body))
    try:
        async for attempt in turn.retrying():
            with attempt:
                turn.attempts += 1
                reply = Reply(await _send(client, turn, body, streaming=streaming), turn)
                try:
                    first = await reply.next()
                except BaseException:
                    await reply.aclose()
                    raise
                return reply, first
    except ReplyError as exc:
        raise turn.failure(exc) from exc
    raise AssertionError("tenacity made no attempt")  # pragma: no cover


async def _send(
    client: httpx.AsyncClient, turn: _Turn, body: bytes, *, streaming: bool
) -> httpx.Response:
    """Post once; return a success response not yet read, whose size fits the bound."""
    policy = turn.policy
    headers = {
        **policy.headers,
        b"Content-Type": b"application/json",
        b"Accept": b"text/event-stream" if streaming else b"application/json",
    }
    try:
        request = client.build_request(
            "POST", policy.url, content=body, headers=headers, timeout=policy.timeout
        )
        async with turn.bound("waiting for the server to answer"):
            response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise _transport_error(exc, policy) from exc
    if response.is_success:
        declared = _content_length(response.headers)
        if declared is None or declared <= policy.max_response_bytes:
            return response
        await response.aclose()
        raise ReplyError(
            f"the reply would be {declared} bytes, more than "
            f"max_response_bytes={policy.max_response_bytes}"
        )
    try:
        content = await _read_error_body(response, turn)
    finally:
        await response.aclose()
    raise _status_error(response, content)


async def _read_error_body(response: httpx.Response, turn: _Turn) -> bytes:
    """As much of an error reply as the size bound allows (it only explains the status)."""
    limit = turn.policy.max_response_bytes
    content = bytearray()
    async with turn.bound("reading an error reply"):
        try:
            async for chunk in response.aiter_bytes():
                content += chunk
                if len(content) >= limit:
                    break
        except httpx.HTTPError:
            pass  # what came is still the best explanation there is
    return bytes(content[:limit])


def _status_error(response: httpx.Response, content: bytes) -> ReplyError:
    status = response.status_code
    text = error_body_text(content) or response.reason_phrase
    retryable = status in _ALWAYS_RETRY or (status >= 500 and not looks_invalid(text))
    message = f"HTTP {status}: {text}"
    if status >= 500 and not retryable:
        message += " (not retried: the server's message blames the request)"
    retry_after = _retry_after(response.headers) if retryable else None
    return ReplyError(message, retryable=retryable, retry_after=retry_after)


def _transport_error(exc: httpx.HTTPError, policy: Policy, prefix: str = "") -> ReplyError:
    """A connection failure or timeout as a ReplyError that names the bound it hit."""
    lead = f"{prefix}: " if prefix else ""
    if isinstance(exc, httpx.TimeoutException):
        doing = _TIMEOUT_WHILE.get(type(exc), "waiting for data")
        return ReplyError(
            f"{lead}{type(exc).__name__}: nothing for {policy.timeout:g} s while {doing} "
            "(the per-read timeout)",
            retryable=True,
        )
    retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
    text = str(exc)
    return ReplyError(
        f"{lead}{type(exc).__name__}: {text}" if text else f"{lead}{type(exc).__name__}",
        retryable=retryable,
    )


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isdigit() and len(value) < 20 else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or a numeric `Retry-After` (a date is ignored)."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers[header]) * scale
        except (KeyError, ValueError):
            continue
        if seconds == seconds:  # not NaN
            return max(0.0, seconds)
    return None
