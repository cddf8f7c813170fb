"""`OpenAICompatibleModel` against a fake chat-completions server (`httpx.MockTransport`)."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from agentkit import Agent, Message, tool
from agentkit.events import Event, FinalEvent, RetryEvent, TextDelta, ToolCallEvent
from agentkit.models import ModelRequest, ModelResponse, OpenAICompatibleModel


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


Reply = dict[str, Any] | httpx.Response | Callable[[httpx.Request], httpx.Response]


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    finish: str | None = "stop",
    usage: tuple[int, int] = (10, 5),
) -> dict[str, Any]:
    """A non-streamed chat-completions reply."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        },
    }


def native_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def sse(reply: dict[str, Any]) -> bytes:
    """The same reply as a stream: content in small deltas, call arguments in two pieces."""
    choice = reply["choices"][0]
    message = choice["message"]
    chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    content = message.get("content") or ""
    for i in range(0, len(content), 4):
        chunks.append({"choices": [{"index": 0, "delta": {"content": content[i : i + 4]}}]})
    for index, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        half = len(args) // 2
        head = {"index": index, "id": call["id"], "type": "function"}
        head["function"] = {"name": call["function"]["name"], "arguments": args[:half]}
        tail = {"index": index, "function": {"arguments": args[half:]}}
        for part in (head, tail):
            chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [part]}}]})
    finish = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    chunks.append({"choices": [finish]})
    chunks.append({"choices": [], "usage": reply["usage"]})
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


class FakeServer:
    """Answers each request with the next reply, as JSON or as an SSE stream as asked."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if callable(reply):
            return reply(request)
        if isinstance(reply, httpx.Response):
            return reply
        if json.loads(request.content).get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, content=sse(reply), headers=headers)
        return httpx.Response(200, json=reply)

    def model(self, **options: Any) -> OpenAICompatibleModel:
        transport = httpx.MockTransport(self.handle)
        client = httpx.AsyncClient(transport=transport, base_url="http://fake")
        options.setdefault("retry_wait", 0.001)
        return OpenAICompatibleModel("http://fake/v1", model="m", http_client=client, **options)


def run(agent: Agent[Any], prompt: str) -> Any:
    return asyncio.run(agent.run_async(prompt))


def collect(agent: Agent[Any], prompt: str) -> list[Event]:
    async def main() -> list[Event]:
        return [event async for event in agent.stream(prompt)]

    return asyncio.run(main())


def request_for(**fields: Any) -> ModelRequest:
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    return ModelRequest(**fields)


# -- text mode -------------------------------------------------------------------------------------
def test_text_mode_runs_a_tool_end_to_end() -> None:
    server = FakeServer(
        [
            completion('[{"name": "add", "arguments": {"a": 2, "b": 3}}]'),
            completion("The sum is 5."),
        ]
    )
    result = run(Agent(server.model(), tools=[add]), "What is 2 + 3?")
    assert result.output == "The sum is 5."
    assert [(c.name, c.arguments, c.result) for c in result.tool_calls] == [
        ("add", {"a": 2, "b": 3}, 5)
    ]
    first, second = server.bodies
    assert first["model"] == "m"
    assert first["stop"] == ["<|im_end|>"]
    assert "tools" not in first and "tool_choice" not in first
    assert first["messages"][0]["role"] == "system"
    assert '"name": "add"' in first["messages"][0]["content"]
    assert first["messages"][1] == {"role": "user", "content": "What is 2 + 3?"}
    assert second["messages"][2:] == [
        {"role": "assistant", "content": '[{"name": "add", "arguments": {"a": 2, "b": 3}}]'},
        {"role": "tool", "content": "5", "tool_call_id": result.tool_calls[0].id},
    ]


def test_stream_request_asks_for_usage_and_sends_options() -> None:
    server = FakeServer([completion("Hi.")])
    model = server.model(
        api_key="sk-test", temperature=0.2, max_tokens=64, extra_body={"top_p": 0.9}
    )
    run(Agent(model), "Hello")
    body = server.bodies[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.2, 64, 0.9)
    request = server.requests[0]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert str(request.url) == "http://fake/v1/chat/completions"


def test_streamed_text_reaches_agent_stream_as_deltas() -> None:
    answer = "Streaming works, piece by piece."
    server = FakeServer([completion(answer)])
    events = collect(Agent(server.model()), "Go")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    assert "".join(deltas) == answer
    assert isinstance(events[-1], FinalEvent)
    assert events[-1].result.output == answer


def test_usage_tokens_reach_the_run_result() -> None:
    server = FakeServer(
        [
            completion('[{"name": "add", "arguments": {"a": 1, "b": 1}}]', usage=(100, 12)),
            completion("2", usage=(130, 3)),
        ]
    )
    usage = run(Agent(server.model(), tools=[add]), "1 + 1?").usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.model_turns) == (230, 15, 2)


def test_complete_without_streaming() -> None:
    reply = completion("Hello.", finish="length", usage=(40, 2))
    reply["usage"]["prompt_tokens_details"] = {"cached_tokens": 32}
    server = FakeServer([reply])
    response = asyncio.run(server.model(stream=False).complete(request_for()))
    assert response == ModelResponse(
        text="Hello.",
        prompt_tokens=40,
        prefilled_tokens=8,
        completion_tokens=2,
        finish_reason="length",
    )
    assert "stream" not in server.bodies[0]
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_a_server_that_ignores_stream_still_works() -> None:
    server = FakeServer([httpx.Response(200, json=completion("Plain."))])
    assert run(Agent(server.model()), "Hi").output == "Plain."


# -- native mode -----------------------------------------------------------------------------------
def test_native_mode_runs_a_tool_end_to_end() -> None:
    server = FakeServer(
        [
            completion(None, [native_call("add", '{"a": 2, "b": 3}')], finish="tool_calls"),
            completion("It is 5."),
        ]
    )
    agent = Agent(server.model(native_tools=True), tools=[add], system_prompt="Be brief.")
    result = run(agent, "2 + 3?")
    assert result.output == "It is 5."
    assert [(c.id, c.result) for c in result.tool_calls] == [("call_1", 5)]
    first, second = server.bodies
    assert first["tools"] == [add.schema]
    assert first["tool_choice"] == "auto"
    assert "stop" not in first
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2 + 3?"},
    ]
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [native_call("add", '{"a": 2, "b": 3}')],
        },
        {"role": "tool", "content": "5", "tool_call_id": "call_1"},
    ]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("required", "required"),
        ("none", "none"),
        ("add", {"type": "function", "function": {"name": "add"}}),
    ],
)
def test_native_tool_choice(choice: str, sent: Any) -> None:
    server = FakeServer([completion("ok")])
    run(Agent(server.model(native_tools=True), tools=[add], tool_choice=choice), "Hi")
    assert server.bodies[0]["tool_choice"] == sent


def test_native_streaming_accumulates_parallel_calls() -> None:
    calls = [
        native_call("add", '{"a": 1, "b": 2}', "c1"),
        native_call("add", '{"a": 3, "b": 4}', "c2"),
    ]
    server = FakeServer([completion("Adding.", calls, finish="tool_calls"), completion("3 and 7")])
    events = collect(Agent(server.model(native_tools=True), tools=[add]), "Sums?")
    called = [(e.call.id, e.arguments) for e in events if isinstance(e, ToolCallEvent)]
    assert called == [("c1", {"a": 1, "b": 2}), ("c2", {"a": 3, "b": 4})]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Adding.3 and 7"
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.result.output == "3 and 7"


def test_native_arguments_are_decoded_leniently() -> None:
    server = FakeServer(
        [completion(None, [native_call("add", "{'a': 2, 'b': 3,}")]), completion("5")]
    )
    result = run(Agent(server.model(native_tools=True), tools=[add]), "2 + 3?")
    assert result.tool_calls[0].arguments == {"a": 2, "b": 3}


def test_undecodable_native_arguments_are_a_failed_turn_not_a_crash() -> None:
    server = FakeServer(
        [
            completion(None, [native_call("add", '{"a": 2, "b":')]),
            completion(None, [native_call("add", '{"a": 2, "b": 3}', "call_2")]),
            completion("5"),
        ]
    )
    events = collect(Agent(server.model(native_tools=True), tools=[add]), "2 + 3?")
    retries = [e for e in events if isinstance(e, RetryEvent)]
    assert len(retries) == 1
    assert retries[0].error.kind == "parse"
    assert "add" in retries[0].error.message
    final = events[-1]
    assert isinstance(final, FinalEvent) and final.result.output == "5"
    assert [c.result for c in final.result.tool_calls] == [5]


def test_calls_a_server_left_in_the_text_are_still_found() -> None:
    text = '<tool_call>{"name": "add", "arguments": {"a": 4, "b": 4}}</tool_call>'
    server = FakeServer([completion(text), completion("8")])
    result = run(Agent(server.model(native_tools=True), tools=[add]), "4 + 4?")
    assert [c.result for c in result.tool_calls] == [8]


class Answer(BaseModel):
    value: int


def test_native_structured_output_uses_response_format() -> None:
    server = FakeServer([completion('{"value": 42}')])
    result = run(Agent(server.model(native_tools=True), output_type=Answer), "Answer?")
    assert result.output == Answer(value=42)
    response_format = server.bodies[0]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"]["properties"]["value"]["type"] == "integer"


def test_native_structured_output_with_tools_states_the_schema() -> None:
    server = FakeServer([completion('{"value": 1}')])
    request = request_for(
        transcript=[Message.user("Answer?")], tools=[add], output_schema={"type": "object"}
    )
    response = asyncio.run(server.model(native_tools=True).complete(request))
    assert response.calls is None and response.text == '{"value": 1}'
    body = server.bodies[0]
    assert "response_format" not in body
    assert body["messages"][0]["role"] == "system"
    assert '{"type": "object"}' in body["messages"][0]["content"]
    assert body["messages"][1] == {"role": "user", "content": "Answer?"}


def test_a_query_in_base_url_stays_last() -> None:
    model = OpenAICompatibleModel("https://host/deployments/d/?api-version=2024-06-01", model="m")
    assert model.url == "https://host/deployments/d/chat/completions?api-version=2024-06-01"


# -- lifecycle -------------------------------------------------------------------------------------
def test_a_supplied_client_is_not_closed() -> None:
    server = FakeServer([completion("ok")])

    async def main() -> httpx.AsyncClient:
        model = server.model()
        async with model:
            await model.complete(request_for())
        assert model._http_client is not None
        return model._http_client

    client = asyncio.run(main())
    assert not client.is_closed
    asyncio.run(client.aclose())


@pytest.fixture
def local_server() -> Iterator[str]:
    """A real keep-alive HTTP server on the loopback interface."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps(completion("pong")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
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
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_owned_client_survives_one_event_loop_per_run(local_server: str) -> None:
    # `Agent.run` starts a fresh event loop per run; pooled connections must not cross loops,
    # and each loop's client must be closed when that loop shuts down (no ResourceWarning).
    model = OpenAICompatibleModel(local_server, model="m")
    agent = Agent(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        assert agent.run("ping").output == "pong"
        assert agent.run("ping").output == "pong"
        gc.collect()

    async def in_one_loop() -> str:
        async with OpenAICompatibleModel(local_server, model="m") as owned:
            result = await Agent(owned).run_async([Message.user("ping")])
            return result.output

    assert asyncio.run(in_one_loop()) == "pong"
