"""A backend for any server with an OpenAI-compatible `/chat/completions` endpoint.

vLLM, llama.cpp's server, Ollama, TGI, LM Studio and OpenAI itself all speak this protocol. In
text mode (the default) the server receives the chat messages as the format rendered them and
the format parses the completion text; in native mode the server receives the transcript and the
tool schemas and returns structured `tool_calls`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from agentkit.errors import ModelError, UsageError
from agentkit.formats import StableLMFormat, ToolChoice, ToolFormat
from agentkit.formats._base import dumps
from agentkit.formats._parse import decode_json_lenient
from agentkit.messages import Message, ToolCall
from agentkit.models._base import Model, ModelRequest, ModelResponse

__all__ = ["OpenAICompatibleModel"]

logger = logging.getLogger("agentkit.models.openai")

_RETRY_STATUSES = frozenset({408, 429})
_Mode: TypeAlias = Literal["text", "native", "native_lenient"]
"""How a reply is read: as text for the format, as native calls, or as native calls else text."""
_ERROR_SNIPPET = 500


class _TransientError(Exception):
    """A reply worth retrying (429, 5xx); carries the server's Retry-After, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# Connection failures, timeouts and dropped connections are worth another try.
_RETRYABLE = (
    _TransientError,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


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
        return self._reply(request, _json_body(response))

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Stream one reply over server-sent events: text deltas, then the `ModelResponse`.

        Raises:
            ModelError: the request failed, or the stream broke off.
        """
        response = await self._send(self._body(request, stream=True), stream=True)
        state = _StreamState()
        try:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                # Some servers ignore `stream` and answer with one JSON body.
                await response.aread()
                reply = self._reply(request, _json_body(response))
                if reply.text:
                    yield reply.text
                yield reply
                return
            async for delta in _read_events(response, state):
                yield delta
        except httpx.TransportError as exc:
            raise ModelError(f"the stream broke off: {_describe(exc)}") from exc
        finally:
            await response.aclose()
        mode = self._mode(request)
        yield _to_response(state.message(), state.finish_reason, state.usage, mode=mode)

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
    def _mode(self, request: ModelRequest) -> _Mode:
        if not self.native_tools:
            return "text"
        # A reply without native calls still goes through the format's lenient parser, so
        # calls that a server failed to extract (left as text in `content`) are not lost.
        return "native_lenient" if request.tools and request.tool_choice != "none" else "native"

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of one request."""
        body: dict[str, Any] = {"model": self.model}
        if self.native_tools:
            body.update(_native_fields(request))
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
            raise ModelError(f"the server's reply has no choices: {_snippet(dumps(data))}")
        message = choices[0].get("message")
        return _to_response(
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
            retry=retry_if_exception_type(_RETRYABLE),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=_backoff(self.retry_wait),
            before_sleep=_log_retry,
            reraise=True,
        )
        logger.debug("POST %s (model %s, stream=%s)", self.url, self.model, stream)
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._send_once(client, body, stream=stream)
        except (_TransientError, httpx.TransportError) as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise ModelError(
                f"{self.url} failed after {attempts} attempt(s): {_describe(exc)}"
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
        message = f"HTTP {status}: {_error_message(response)}"
        if status in _RETRY_STATUSES or status >= 500:
            raise _TransientError(message, _retry_after(response))
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


# -- native mode: transcript and tools in, tool_calls out ------------------------------------------
def _native_fields(request: ModelRequest) -> dict[str, Any]:
    """The `messages`, `tools`, `tool_choice` and `response_format` of a native request."""
    messages = (
        _transcript_messages(request.transcript)
        if request.transcript
        else [dict(m) for m in request.messages]  # a request made by hand, without a transcript
    )
    fields: dict[str, Any] = {"messages": messages}
    if request.tools:
        fields["tools"] = [t.schema for t in request.tools]
        fields["tool_choice"] = _tool_choice(request.tool_choice)
    schema = request.output_schema
    if schema is not None and (not request.tools or request.tool_choice == "none"):
        fields["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "final_answer", "schema": schema},
        }
    elif schema is not None:
        # With tools on offer a forced JSON reply would rule out calls: state the schema instead.
        prompt = request.format.output_prompt(schema)
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{messages[0]['content']}\n\n{prompt}"
        else:
            messages.insert(0, {"role": "system", "content": prompt})
    return fields


def _transcript_messages(transcript: list[Message]) -> list[dict[str, Any]]:
    """A transcript as OpenAI messages: calls with JSON-string arguments, results by call id."""
    out: list[dict[str, Any]] = []
    for msg in transcript:
        item: dict[str, Any] = {"role": msg.role, "content": msg.content or ""}
        if msg.role == "assistant" and msg.tool_calls:
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": dumps(call.arguments)},
                }
                for call in msg.tool_calls
            ]
        elif msg.role == "tool":
            item["tool_call_id"] = msg.tool_call_id or ""
        out.append(item)
    return out


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    """`tool_choice` as the API takes it: a mode, or the one function to call."""
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def _to_response(
    message: dict[str, Any], finish_reason: Any, usage: Any, *, mode: _Mode
) -> ModelResponse:
    """A reply's `message` object (streamed or not) as a `ModelResponse`."""
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    calls: list[ToolCall] | None = None
    if mode != "text":
        raw = message.get("tool_calls")
        if isinstance(raw, list) and raw:
            calls, text = _native_calls(raw, text)
        elif mode == "native":
            calls = []
    prompt, prefilled, completion = _token_counts(usage)
    return ModelResponse(
        text=text,
        calls=calls,
        prompt_tokens=prompt,
        prefilled_tokens=prefilled,
        completion_tokens=completion,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )


def _native_calls(raw: list[Any], text: str) -> tuple[list[ToolCall] | None, str]:
    """The calls of a reply; if one cannot be decoded, all of them as text for the format.

    The format's lenient parser then reports the broken call to the model as a parse error,
    the same way it reports a broken call written as text.
    """
    plain = [_plain_call(item) for item in raw]
    calls: list[ToolCall] = []
    for call in plain:
        name, arguments = call["name"], _decode_arguments(call["arguments"])
        if not isinstance(name, str) or not name or arguments is None:
            logger.info("undecodable native call %s; handing it to the format's parser", call)
            written = dumps(plain)
            return None, f"{text}\n{written}" if text.strip() else written
        given_id = {"id": call["id"]} if "id" in call else {}
        calls.append(ToolCall(name=name, arguments=arguments, **given_id))
    return calls, text


def _plain_call(item: Any) -> dict[str, Any]:
    """One `tool_calls` entry as `{"name", "arguments", "id"}`, values as the server sent them."""
    item = item if isinstance(item, dict) else {}
    function = item["function"] if isinstance(item.get("function"), dict) else {}
    plain = {"name": function.get("name"), "arguments": function.get("arguments")}
    if isinstance(item.get("id"), str) and item["id"]:
        plain["id"] = item["id"]
    return plain


def _decode_arguments(value: Any) -> dict[str, Any] | None:
    """Arguments as a dict, from a JSON string (leniently) or an object; None if impossible."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        try:
            value = decode_json_lenient(value)
            json.dumps(value)  # Python literals may hold sets or bytes, which JSON cannot
        except (ValueError, TypeError):
            return None
    return value if isinstance(value, dict) else None


def _token_counts(usage: Any) -> tuple[int | None, int | None, int | None]:
    """Prompt, computed-prompt and completion tokens from a `usage` object."""
    if not isinstance(usage, dict):
        return None, None, None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    prompt = prompt if isinstance(prompt, int) else None
    completion = completion if isinstance(completion, int) else None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    prefilled = prompt - cached if prompt is not None and isinstance(cached, int) else None
    return prompt, prefilled, completion


# -- streaming -------------------------------------------------------------------------------------
@dataclass
class _StreamState:
    """What the chunks of a stream add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; return its text delta ("" if none)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return ""
        for item in delta.get("tool_calls") or ():
            if isinstance(item, dict):
                self._add_call_delta(item)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self.text.append(content)
            return content
        return ""

    def _add_call_delta(self, item: dict[str, Any]) -> None:
        index = item.get("index")
        if not isinstance(index, int):  # servers that omit it send each call whole, with an id
            index = len(self.calls) if item.get("id") or not self.calls else max(self.calls)
        empty = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
        call = self.calls.setdefault(index, empty)
        if isinstance(item.get("id"), str):
            call["id"] = item["id"]
        function = item.get("function")
        if not isinstance(function, dict):
            return
        name = function.get("name")
        if isinstance(name, str):  # sent once, in pieces, or (by some servers) whole each time
            sofar = call["function"]["name"]
            call["function"]["name"] = name if name.startswith(sofar) else sofar + name
        if isinstance(function.get("arguments"), str):
            call["function"]["arguments"] += function["arguments"]

    def message(self) -> dict[str, Any]:
        """The accumulated reply, shaped like the `message` of a non-streamed reply."""
        calls = [self.calls[index] for index in sorted(self.calls)]
        return {"content": "".join(self.text), "tool_calls": calls}


async def _read_events(response: httpx.Response, state: _StreamState) -> AsyncIterator[str]:
    """Feed each `data:` event of a server-sent-event stream to `state`; yield text deltas."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, `event:`, `id:` and `:` comments
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            raise ModelError(f"the stream sent invalid JSON: {_snippet(payload)}") from None
        if not isinstance(chunk, dict):
            continue
        if "error" in chunk:
            raise ModelError(f"the server failed mid-stream: {_error_text(chunk)}")
        delta = state.feed(chunk)
        if delta:
            yield delta


# -- errors and retries ----------------------------------------------------------------------------
def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ModelError(f"the server's reply is not JSON: {_snippet(response.text)}") from None
    if not isinstance(data, dict):
        raise ModelError(f"the server's reply is not a JSON object: {_snippet(response.text)}")
    if "error" in data and "choices" not in data:
        raise ModelError(f"the server reported an error: {_error_text(data)}")
    return data


def _error_message(response: httpx.Response) -> str:
    """The server's own explanation of a failed request."""
    try:
        return _error_text(response.json())
    except ValueError:
        return _snippet(response.text) or response.reason_phrase


def _error_text(data: Any) -> str:
    """The message of `{"error": {"message": ...}}`, `{"error": "..."}`, `{"detail": ...}`."""
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        for key in ("message", "detail", "msg"):
            if key in error:
                return _snippet(str(error[key]))
    return _snippet(error if isinstance(error, str) else dumps(data))


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `retry-after-ms` or a numeric `Retry-After` (a date is ignored)."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(response.headers[header]) * scale)
        except (KeyError, ValueError):
            continue
    return None


def _backoff(longest: float) -> Callable[[RetryCallState], float]:
    """Exponential backoff with full jitter, or the server's Retry-After; never over `longest`."""
    jittered = wait_random_exponential(multiplier=0.5, max=longest)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _TransientError) and exc.retry_after is not None:
            return min(exc.retry_after, longest)
        return jittered(state)

    return wait


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    logger.info(
        "attempt %d failed (%s); retrying in %.2f s", state.attempt_number, _describe(exc), wait
    )


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc)
    if isinstance(exc, _TransientError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _snippet(text: str) -> str:
    return text if len(text) <= _ERROR_SNIPPET else text[:_ERROR_SNIPPET] + " ..."
