"""`OpenAICompatibleModel` against malformed, cut, empty, oversized and failing replies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from agentkit import Agent, Message
from agentkit.errors import ModelError, UsageError
from agentkit.messages import ToolCall
from agentkit.models import ModelRequest, ModelResponse, OpenAICompatibleModel
from tests.test_openai_compat import FakeServer, completion, request_for, run

MIB = 1 << 20
SSE = "text/event-stream"
DONE = b"data: [DONE]\n\n"


def event(chunk: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(chunk)}\n\n".encode()


ROLE = event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})


def text(content: str) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": content}}]})


def finish(reason: str) -> bytes:
    return event({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})


def answer(body: bytes, content_type: str = SSE) -> Callable[[httpx.Request], httpx.Response]:
    """A reply with this body, made afresh for each request."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    return respond


def complete(model: OpenAICompatibleModel, request: ModelRequest | None = None) -> ModelResponse:
    return asyncio.run(model.complete(request or request_for()))


def drain(model: OpenAICompatibleModel, request: ModelRequest) -> list[str | ModelResponse]:
    async def main() -> list[str | ModelResponse]:
        return [part async for part in model.stream(request)]

    return asyncio.run(main())


# -- malformed JSON --------------------------------------------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (DEEP, "application/json"),
        (b'{"choices": ' + DEEP + b"}", "application/json"),
        (b"data: " + DEEP + b"\n\n" + DONE, SSE),
    ],
    ids=["body", "field", "event"],
)
def test_a_reply_nested_100000_deep_is_a_model_error(body: bytes, content_type: str) -> None:
    server = FakeServer([answer(body, content_type)])
    with pytest.raises(ModelError, match="nested too deeply") as info:
        complete(server.model())
    assert not getattr(info.value, "retryable", True)
    assert len(str(info.value)) < 1500


HUGE = "7" * 5000


@pytest.mark.parametrize("where", ["event", "body"])
def test_a_5000_digit_integer_is_a_model_error(where: str) -> None:
    if where == "event":
        chunk = '{"created": ' + HUGE + ', "choices": [{"delta": {"content": "x"}}]}'
        body, content_type = f"data: {chunk}\n\n".encode() + DONE, SSE
    else:
        body, content_type = f'{{"created": {HUGE}, "choices": []}}'.encode(), "application/json"
    server = FakeServer([answer(body, content_type)])
    with pytest.raises(ModelError, match=r"not valid JSON.*integer string conversion"):
        complete(server.model())


def test_absurd_token_counts_are_dropped() -> None:
    reply = completion("ok")
    reply["usage"] = {"prompt_tokens": 10**4000, "completion_tokens": -3}
    response = complete(FakeServer([reply]).model())
    assert (response.text, response.prompt_tokens, response.completion_tokens) == ("ok", None, None)


# -- cut, empty and mislabelled streams ------------------------------------------------------------
def test_a_stream_closed_before_done_is_a_retryable_error_with_a_hint() -> None:
    server = FakeServer([answer(ROLE + text("The answer is"))])
    with pytest.raises(ModelError, match=r"ended before `data: \[DONE\]`") as info:
        complete(server.model())
    assert getattr(info.value, "retryable", False)
    assert "closed the connection early" in str(info.value)
    assert len(server.requests) == 1  # text had reached the caller: no silent second attempt


def test_a_stream_cut_before_any_text_is_retried() -> None:
    server = FakeServer([answer(ROLE), completion("Whole.")])
    assert complete(server.model()).text == "Whole."
    assert len(server.requests) == 2


def test_a_stream_with_a_finish_reason_but_no_done_is_complete() -> None:
    server = FakeServer([answer(ROLE + text("Hi.") + finish("stop"))])
    response = complete(server.model())
    assert (response.text, response.finish_reason) == ("Hi.", "stop")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", SSE),
        (DONE, SSE),
        (ROLE + DONE, SSE),
        (b": keep-alive\n\n" + ROLE + DONE, SSE),
        (json.dumps(completion(None, finish=None)).encode(), "application/json"),
    ],
    ids=["nothing", "done-only", "role-then-done", "comment-role-done", "json-null"],
)
def test_an_empty_reply_is_a_retryable_error_never_an_empty_answer(
    body: bytes, content_type: str
) -> None:
    server = FakeServer([answer(body, content_type)] * 3)
    with pytest.raises(ModelError, match="empty reply") as info:
        complete(server.model(http_retries=2))
    assert getattr(info.value, "retryable", False)
    assert len(server.requests) == 3


def test_an_empty_stream_then_a_good_one_succeeds() -> None:
    server = FakeServer([answer(ROLE + DONE), completion("Second time.")])
    assert complete(server.model()).text == "Second time."


def test_a_json_body_labelled_event_stream_is_read_as_json() -> None:
    body = json.dumps(completion("Plain JSON.", finish="length")).encode()
    response = complete(FakeServer([answer(body, SSE)]).model())
    assert (response.text, response.truncated) == ("Plain JSON.", True)


def test_an_event_stream_labelled_json_is_read_as_events() -> None:
    body = ROLE + text("Str") + text("eamed.") + finish("stop") + DONE
    assert complete(FakeServer([answer(body, "application/json")]).model()).text == "Streamed."


def test_events_split_across_reads_and_crlf_line_ends() -> None:
    body = (ROLE + text("Split ") + text("well.") + finish("stop") + DONE).replace(b"\n", b"\r\n")

    class Dribble(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for i in range(0, len(body), 7):
                yield body[i : i + 7]

    reply = httpx.Response(200, stream=Dribble(), headers={"content-type": SSE})
    assert complete(FakeServer([reply]).model()).text == "Split well."


# -- size bound ------------------------------------------------------------------------------------
class Endless(httpx.AsyncByteStream):
    """Text events of 64 KiB each, up to `total` bytes, counting what was sent."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        piece = text("x" * (64 * 1024 - 60))
        while self.sent < self.total:
            self.sent += len(piece)
            yield piece


def test_a_50_mb_stream_is_not_read_in_full() -> None:
    stream = Endless(50 * MIB)
    server = FakeServer([httpx.Response(200, stream=stream, headers={"content-type": SSE})])
    with pytest.raises(ModelError, match="max_response_bytes") as info:
        complete(server.model())
    assert stream.sent <= 5 * MIB
    assert not getattr(info.value, "retryable", True)


def test_the_size_bound_is_configurable_and_counts_declared_lengths() -> None:
    big = httpx.Response(200, json=completion("x" * 5000))
    with pytest.raises(ModelError, match=r"would be \d+ bytes.*max_response_bytes=1000"):
        complete(FakeServer([big]).model(max_response_bytes=1000))
    stream = Endless(MIB)
    streamed = httpx.Response(200, stream=stream, headers={"content-type": SSE})
    with pytest.raises(ModelError, match="max_response_bytes=100000"):
        complete(FakeServer([streamed]).model(max_response_bytes=100_000))
    assert stream.sent < 200_000


# -- request bodies --------------------------------------------------------------------------------
def test_stream_false_sends_one_plain_request_and_yields_the_whole_text() -> None:
    server = FakeServer([completion("All at once.")])
    parts = drain(server.model(stream=False), request_for())
    assert parts[0] == "All at once."
    assert isinstance(parts[1], ModelResponse) and parts[1].text == "All at once."
    assert len(parts) == 2
    assert "stream" not in server.bodies[0]
    assert server.requests[0].headers["accept"] == "application/json"


def test_max_tokens_is_sent_by_default_and_can_be_omitted() -> None:
    server = FakeServer([completion("a"), completion("b")])
    complete(server.model())
    complete(server.model(max_tokens=None))
    assert server.bodies[0]["max_tokens"] == 1024
    assert "max_tokens" not in server.bodies[1]


def test_a_streamed_reply_cut_at_the_token_limit_is_truncated() -> None:
    response = complete(FakeServer([completion("Cut he", finish="length")]).model())
    assert (response.text, response.finish_reason, response.truncated) == ("Cut he", "length", True)


@pytest.mark.parametrize("native", [False, True])
def test_lone_surrogates_do_not_break_the_request(native: bool) -> None:
    call = ToolCall(name="add", arguments={"a": "half \udfff"}, id="c1")
    transcript = [
        Message.user("bad \ud800 text, fine \ud83d\ude00"),
        Message.assistant("", [call]),
        Message.tool("result \ud800", call_id="c1", name="add"),
    ]
    server = FakeServer([completion("ok")])
    response = complete(server.model(native_tools=native), ModelRequest(transcript=transcript))
    assert response.text == "ok"
    sent = json.dumps(server.bodies[0]["messages"], ensure_ascii=False)
    assert "bad \ufffd text, fine \U0001f600" in sent
    assert "result \ufffd" in sent
    assert "half \ufffd" in sent or "half \\ufffd" in sent


# -- error replies ---------------------------------------------------------------------------------
TRACEBACK = (
    "Traceback (most recent call last):\n"
    + '  File "/srv/app/chat.py", line 123, in render\n    prompt = template(messages)\n' * 40
    + "KeyError: 'tool_call_id' (messages[2] is a tool result without it)"
)


def test_a_500_that_blames_the_request_is_not_retried_and_keeps_the_cause() -> None:
    def invalid(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": TRACEBACK}})

    server = FakeServer([invalid] * 4)
    with pytest.raises(ModelError) as info:
        complete(server.model())
    message = str(info.value)
    assert "KeyError: 'tool_call_id' (messages[2] is a tool result without it)" in message
    assert "HTTP 500" in message and "not retried" in message
    assert len(message) < 1500
    assert len(server.requests) == 1
    assert not getattr(info.value, "retryable", True)


def test_a_plain_500_is_still_retried() -> None:
    oops = httpx.Response(500, json={"error": {"message": "Internal Server Error"}})
    server = FakeServer([oops, completion("Recovered.")])
    assert complete(server.model()).text == "Recovered."
    assert len(server.requests) == 2


def test_a_long_400_keeps_the_tail_of_its_message() -> None:
    long = "x" * 3000 + " the field 'messages.3.content' is required"
    server = FakeServer([httpx.Response(400, text=long)])
    with pytest.raises(ModelError, match=r"'messages\.3\.content' is required$"):
        complete(server.model())


# -- retries and transport failures --------------------------------------------------------------
def test_retries_a_503_then_succeeds() -> None:
    busy = httpx.Response(503, json={"error": {"message": "overloaded"}})
    server = FakeServer([busy, busy, completion("Made it.")])
    assert run(Agent(server.model()), "Hi").output == "Made it."
    assert len(server.requests) == 3


def test_retries_a_429_and_a_connect_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    limited = httpx.Response(429, headers={"Retry-After": "0"}, text="slow down")
    server = FakeServer([refuse, limited, completion("ok")])
    assert asyncio.run(server.model().complete(request_for())).text == "ok"
    assert len(server.requests) == 3


def test_a_400_raises_at_once_with_the_server_message() -> None:
    bad = httpx.Response(400, json={"error": {"message": "model 'm' does not exist"}})
    server = FakeServer([bad, completion("never")])
    with pytest.raises(ModelError, match=r"400.*model 'm' does not exist"):
        run(Agent(server.model()), "Hi")
    assert len(server.requests) == 1


def test_retries_exhausted_raise_model_error() -> None:
    down = httpx.Response(502, text="bad gateway")
    server = FakeServer([down] * 3)
    with pytest.raises(ModelError, match=r"3 attempt\(s\).*502.*bad gateway"):
        run(Agent(server.model(http_retries=2)), "Hi")
    assert len(server.requests) == 3


def test_timeouts_are_retried_then_raise_model_error() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    server = FakeServer([hang, hang])
    with pytest.raises(ModelError, match="ReadTimeout"):
        asyncio.run(server.model(http_retries=1).complete(request_for()))
    assert len(server.requests) == 2


def test_an_error_mid_stream_raises_model_error() -> None:
    body = b'data: {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}\n\n'
    body += b'data: {"error": {"message": "out of memory"}}\n\n'
    broken = httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    server = FakeServer([broken])
    with pytest.raises(ModelError, match="out of memory"):
        run(Agent(server.model(http_retries=0)), "Hi")


def test_a_stream_that_breaks_off_raises_model_error() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b'data: {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}\n\n'
            raise httpx.ReadError("connection reset")

    headers = {"content-type": "text/event-stream"}
    server = FakeServer([httpx.Response(200, stream=Broken(), headers=headers)])
    with pytest.raises(ModelError, match=r"broke off.*connection reset"):
        run(Agent(server.model()), "Hi")


def test_invalid_options_are_refused() -> None:
    with pytest.raises(UsageError, match="http_retries"):
        OpenAICompatibleModel("http://fake/v1", model="m", http_retries=-1)
