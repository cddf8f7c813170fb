"""The run loop on a scripted model: error paths, events, concurrency, transcripts, rendering."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import Agent, Message, RunResult, tool
from agentkit.errors import (
    AgentkitError,
    MaxStepsExceeded,
    ModelError,
    RetriesExhausted,
    UsageError,
)
from agentkit.events import FinalEvent, RetryEvent, TextDelta, ToolCallEvent, ToolResultEvent
from agentkit.formats import HermesFormat, StableLMFormat
from agentkit.models import ModelRequest, ScriptedModel

PREAMBLE = (
    "You are a helpful assistant with access to the following functions. "
    "You must use them if required -\n"
)


def call(name: str, **arguments: Any) -> str:
    """A StableLM 2 call, as the model writes it."""
    return json.dumps([{"name": name, "arguments": arguments}])


def calls(*items: tuple[str, dict[str, Any]]) -> str:
    return json.dumps([{"name": n, "arguments": a} for n, a in items])


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def boom(reason: str = "kaput") -> str:
    """Always fails."""
    raise ValueError(reason)


def sent(model: ScriptedModel, turn: int) -> str:
    """Everything the model received at `turn`, as one text."""
    return "\n".join(m["content"] for m in model.requests[turn].messages)


def collect(agent: Agent[Any], prompt: str, **kwargs: Any) -> list[Any]:
    async def main() -> list[Any]:
        return [event async for event in agent.stream(prompt, **kwargs)]

    return asyncio.run(main())


# -- the happy path --------------------------------------------------------------------------------


def test_a_final_answer_without_tools() -> None:
    model = ScriptedModel(["Hello there."])
    result = Agent(model).run("Hi")
    assert isinstance(result, RunResult)
    assert result.output == "Hello there."
    assert result.tool_calls == []
    assert result.usage.model_turns == 1 and result.usage.failed_turns == 0
    assert [(m.role, m.content) for m in result.messages] == [
        ("user", "Hi"),
        ("assistant", "Hello there."),
    ]


def test_call_then_answer() -> None:
    model = ScriptedModel([call("add", a=2, b=3), "It is 5."])
    result = Agent(model, tools=[add]).run("2 + 3?")
    assert result.output == "It is 5."
    [record] = result.tool_calls
    assert (record.name, record.arguments, record.result, record.error) == (
        "add",
        {"a": 2, "b": 3},
        5,
        None,
    )
    assert result.usage.model_turns == 2
    assert result.usage.tool_calls == 1
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    tool_message = result.messages[2]
    assert tool_message.content == "5"
    assert tool_message.tool_call_id == record.id
    assert result.messages[1].tool_calls[0].id == record.id


def test_run_async() -> None:
    model = ScriptedModel([call("add", a=1, b=1), "2"])
    result = asyncio.run(Agent(model, tools=[add]).run_async("1 + 1?"))
    assert result.output == "2"


def test_plain_functions_are_wrapped_as_tools() -> None:
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    model = ScriptedModel([call("shout", text="hi"), "HI"])
    agent = Agent(model, tools=[shout])
    assert [t.name for t in agent.tools] == ["shout"]
    assert agent.run("Shout hi").tool_calls[0].result == "HI"


@pytest.mark.parametrize("kwargs", [{"max_steps": 0}, {"max_retries": -1}, {"tool_timeout": 0}])
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        Agent(ScriptedModel([]), **kwargs)


# -- failed turns: each answered with a precise message --------------------------------------------


def test_unknown_tool_lists_the_valid_names() -> None:
    model = ScriptedModel([call("subtract", a=1, b=2), "Sorry."])
    events = collect(Agent(model, tools=[add, boom]), "1 - 2?")
    [retry] = [e for e in events if isinstance(e, RetryEvent)]
    assert retry.error.kind == "unknown_tool"
    assert "subtract" in retry.error.message
    assert "add" in retry.error.message and "boom" in retry.error.message
    assert retry.error.message in sent(model, 1)
    result = events[-1].result
    assert result.usage.failed_turns == 1
    assert result.tool_calls[0].error == retry.error.message


def test_invalid_arguments_name_tool_argument_and_schema() -> None:
    model = ScriptedModel([call("add", a="two", b=2), call("add", a=2, b=2), "4"])
    events = collect(Agent(model, tools=[add]), "2 + 2?")
    [retry] = [e for e in events if isinstance(e, RetryEvent)]
    message = retry.error.message
    assert retry.error.kind == "invalid_arguments"
    assert retry.error.tool == "add"
    assert "add" in message and "`a`" in message and "'two'" in message
    assert '{"type": "integer"}' in message
    assert message in sent(model, 1)
    result = events[-1].result
    assert [r.error is None for r in result.tool_calls] == [False, True]
    assert result.tool_calls[1].result == 4


def test_missing_argument_is_named() -> None:
    model = ScriptedModel([call("add", a=1), "?"])
    events = collect(Agent(model, tools=[add]), "1 + ?")
    [retry] = [e for e in events if isinstance(e, RetryEvent)]
    assert "`b`" in retry.error.message and "missing" in retry.error.message


def test_lax_coercion_in_a_run() -> None:
    model = ScriptedModel([call("add", a="2", b="3"), "5"])
    result = Agent(model, tools=[add]).run("2 + 3?")
    assert result.tool_calls[0].result == 5
    assert result.usage.failed_turns == 0


@pytest.mark.parametrize(
    "reply",
    [
        '[{"name": "add", "arguments": {"a": 1',
        '<tool_call>{"name": "add", "arguments": {"a": 1}',
        "<tool_call>not json</tool_call>",
        '{"name": "add", "arguments": "{oops"}',
    ],
    ids=["truncated array", "truncated tag", "not json", "bad argument string"],
)
def test_parse_errors_are_failed_turns_not_answers(reply: str) -> None:
    model = ScriptedModel([reply, call("add", a=1, b=2), "3"])
    events = collect(Agent(model, tools=[add]), "1 + 2?")
    [retry] = [e for e in events if isinstance(e, RetryEvent)]
    assert retry.error.kind == "parse"
    result = events[-1].result
    assert result.output == "3"
    told = sent(model, 1)
    assert retry.error.message in told
    assert '[{"name": ' in told.split(retry.error.message, 1)[1]  # the call syntax is shown


def test_the_truncated_reply_is_never_the_output() -> None:
    model = ScriptedModel(['[{"name": "add", "arguments": {"a": 1'] * 5)
    with pytest.raises(RetriesExhausted) as info:
        Agent(model, tools=[add], max_retries=2).run("1 + ?")
    assert all(e.kind == "parse" for e in info.value.errors)


def test_a_valid_call_beside_an_unknown_one_runs_and_the_turn_fails() -> None:
    model = ScriptedModel([calls(("add", {"a": 1, "b": 2}), ("nope", {})), "3"])
    events = collect(Agent(model, tools=[add]), "1 + 2?")
    assert [e.error.kind for e in events if isinstance(e, RetryEvent)] == ["unknown_tool"]
    result = events[-1].result
    assert [(r.name, r.result) for r in result.tool_calls] == [("add", 3), ("nope", None)]


# -- tool failures are results, not failed turns ---------------------------------------------------


def test_tool_exception_is_the_result_the_model_sees() -> None:
    model = ScriptedModel([call("boom", reason="disk full"), "It failed."])
    result = Agent(model, tools=[boom], max_retries=0).run("Go")
    assert result.output == "It failed."
    [record] = result.tool_calls
    assert record.result is None
    assert "ValueError" in record.error and "disk full" in record.error
    assert result.usage.failed_turns == 0
    tool_message = next(m for m in result.messages if m.role == "tool")
    assert tool_message.is_error and "disk full" in tool_message.content
    assert "disk full" in sent(model, 1)


def test_tool_timeout_is_the_result_the_model_sees() -> None:
    @tool(timeout=0.05)
    async def stuck() -> str:
        """Never finishes."""
        await asyncio.Event().wait()
        return "never"

    model = ScriptedModel([call("stuck"), "It timed out."])
    events = collect(Agent(model, tools=[stuck], max_retries=0), "Go")
    result = events[-1].result
    [record] = result.tool_calls
    assert "timed out" in record.error and "stuck" in record.error
    assert result.usage.failed_turns == 0
    assert not any(isinstance(e, RetryEvent) for e in events)
    assert "timed out" in sent(model, 1)


def test_agent_tool_timeout_applies_to_tools_without_their_own() -> None:
    @tool
    async def stuck() -> str:
        """Never finishes."""
        await asyncio.Event().wait()
        return "never"

    model = ScriptedModel([call("stuck"), "Timed out."])
    result = Agent(model, tools=[stuck], tool_timeout=0.05).run("Go")
    assert "timed out" in result.tool_calls[0].error


def test_a_timed_out_sync_tool_does_not_hold_the_run() -> None:
    release = threading.Event()
    finished = threading.Event()

    @tool(timeout=0.05)
    def blocking() -> str:
        """Blocks until released."""
        release.wait(timeout=1.5)
        finished.set()
        return "late"

    model = ScriptedModel([call("blocking"), "Timed out."])
    try:
        result = Agent(model, tools=[blocking]).run("Go")
        assert "timed out" in result.tool_calls[0].error
        assert not finished.is_set(), "the run waited for the timed-out tool"
    finally:
        release.set()


def test_tool_failures_are_bounded_by_max_steps() -> None:
    model = ScriptedModel([call("boom", reason=str(i)) for i in range(5)])
    with pytest.raises(MaxStepsExceeded):
        Agent(model, tools=[boom], max_steps=5, max_retries=0).run("Go")


# -- retry budget ----------------------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_retries_exhausted_exactly_after_max_retries_plus_one(max_retries: int) -> None:
    model = ScriptedModel([call("nope")] * (max_retries + 1) + ["never reached"])
    with pytest.raises(RetriesExhausted) as info:
        Agent(model, tools=[add], max_retries=max_retries).run("Go")
    assert len(model.requests) == max_retries + 1
    assert len(info.value.errors) == max_retries + 1
    assert all(e.kind == "unknown_tool" for e in info.value.errors)
    assert isinstance(info.value, AgentkitError)


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_max_retries_failed_turns_still_succeed(max_retries: int) -> None:
    model = ScriptedModel([call("nope")] * max_retries + ["Fine."])
    result = Agent(model, tools=[add], max_retries=max_retries).run("Go")
    assert result.output == "Fine."
    assert result.usage.failed_turns == max_retries


def test_retry_counter_resets_after_a_good_turn() -> None:
    bad = call("nope")
    script = [bad, bad, call("add", a=1, b=1), bad, bad, call("add", a=2, b=2), bad, bad, "Done."]
    result = Agent(ScriptedModel(script), tools=[add], max_retries=2, max_steps=20).run("Go")
    assert result.output == "Done."
    assert result.usage.failed_turns == 6


def test_requests_tell_the_model_how_many_failed_turns_came_just_before() -> None:
    bad = call("nope")
    model = ScriptedModel([bad, bad, call("add", a=1, b=1), bad, "Done."])
    Agent(model, tools=[add], max_retries=3).run("Go")
    assert [r.retry for r in model.requests] == [0, 1, 2, 0, 1]


def test_retry_events_count_attempts_in_a_row() -> None:
    bad = call("nope")
    model = ScriptedModel([bad, bad, call("add", a=1, b=1), bad, "Done."])
    events = collect(Agent(model, tools=[add], max_retries=3), "Go")
    assert [e.attempt for e in events if isinstance(e, RetryEvent)] == [1, 2, 1]


def test_invalid_arguments_exhaust_retries_with_their_errors() -> None:
    model = ScriptedModel([call("add", a="x", b=1)] * 3)
    with pytest.raises(RetriesExhausted) as info:
        Agent(model, tools=[add], max_retries=1).run("Go")
    assert [e.kind for e in info.value.errors] == ["invalid_arguments"] * 2


# -- repeated calls --------------------------------------------------------------------------------


def test_a_call_repeated_a_third_time_is_refused() -> None:
    executions: list[int] = []

    @tool
    def lookup(key: int) -> str:
        """Look a key up."""
        executions.append(key)
        return f"value {key}"

    repeat = call("lookup", key=7)
    model = ScriptedModel([repeat, repeat, repeat, call("lookup", key=8), "Done."])
    events = collect(Agent(model, tools=[lookup]), "Go")
    assert executions == [7, 7, 8]
    [retry] = [e for e in events if isinstance(e, RetryEvent)]
    assert retry.error.kind == "repeated_call"
    assert "lookup" in retry.error.message
    assert retry.error.message in sent(model, 3)
    assert events[-1].result.output == "Done."


def test_endless_repeats_are_stopped() -> None:
    model = ScriptedModel([call("add", a=1, b=1)] * 20)
    with pytest.raises(RetriesExhausted) as info:
        Agent(model, tools=[add], max_retries=2, max_steps=20).run("Go")
    assert len(model.requests) == 2 + 3
    assert all(e.kind == "repeated_call" for e in info.value.errors)


def test_same_tool_with_other_arguments_is_not_a_repeat() -> None:
    model = ScriptedModel([call("add", a=i, b=1) for i in range(5)] + ["Done."])
    result = Agent(model, tools=[add], max_retries=0).run("Go")
    assert [r.result for r in result.tool_calls] == [1, 2, 3, 4, 5]


# -- max steps -------------------------------------------------------------------------------------


def test_max_steps_exceeded() -> None:
    model = ScriptedModel([call("add", a=i, b=0) for i in range(10)])
    with pytest.raises(MaxStepsExceeded) as info:
        Agent(model, tools=[add], max_steps=3).run("Go")
    assert len(model.requests) == 3
    assert "3" in str(info.value)


def test_an_answer_at_the_last_step_is_accepted() -> None:
    model = ScriptedModel([call("add", a=1, b=0), call("add", a=2, b=0), "Done."])
    assert Agent(model, tools=[add], max_steps=3).run("Go").output == "Done."


# -- structured output -----------------------------------------------------------------------------


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize(
    "reply",
    [
        '{"name": "Alice", "age": 3}',
        '```json\n{"name": "Alice", "age": 3}\n```',
        'Here you go:\n```\n{"name": "Alice", "age": 3}\n```',
        "{'name': 'Alice', 'age': 3,}",
    ],
    ids=["bare", "json fence", "prose and fence", "python literal"],
)
def test_structured_output(reply: str) -> None:
    model = ScriptedModel([reply])
    result = Agent(model, output_type=Person).run("Who?")
    assert result.output == Person(name="Alice", age=3)


def test_structured_output_schema_is_stated_to_the_model() -> None:
    model = ScriptedModel(['{"name": "Alice", "age": 3}'])
    Agent(model, tools=[add], output_type=Person).run("Who?")
    system = model.requests[0].messages[0]["content"]
    assert '"age"' in system and '"integer"' in system and "JSON" in system
    assert model.requests[0].output_schema is not None


def test_invalid_structured_output_is_retried_with_the_errors() -> None:
    model = ScriptedModel(['{"name": "Alice"}', "no json here", '{"name": "Alice", "age": 3}'])
    events = collect(Agent(model, output_type=Person), "Who?")
    retries = [e for e in events if isinstance(e, RetryEvent)]
    assert [r.error.kind for r in retries] == ["invalid_output", "invalid_output"]
    assert "age" in retries[0].error.message
    assert retries[0].error.message in sent(model, 1)
    assert events[-1].result.output == Person(name="Alice", age=3)


def test_structured_output_after_a_tool_call() -> None:
    model = ScriptedModel([call("add", a=1, b=2), '{"name": "Three", "age": 3}'])
    result = Agent(model, tools=[add], output_type=Person).run("Who?")
    assert result.output.age == 3


def test_invalid_structured_output_exhausts_retries() -> None:
    model = ScriptedModel(['{"name": "Alice"}'] * 3)
    with pytest.raises(RetriesExhausted) as info:
        Agent(model, output_type=Person, max_retries=1).run("Who?")
    assert [e.kind for e in info.value.errors] == ["invalid_output"] * 2


# -- parallel calls --------------------------------------------------------------------------------


def test_parallel_async_calls_run_concurrently() -> None:
    async def main() -> RunResult[str]:
        ready = {"ping": asyncio.Event(), "pong": asyncio.Event()}

        @tool
        async def ping() -> str:
            """Ping."""
            ready["ping"].set()
            await asyncio.wait_for(ready["pong"].wait(), timeout=5)
            return "ping"

        @tool
        async def pong() -> str:
            """Pong."""
            ready["pong"].set()
            await asyncio.wait_for(ready["ping"].wait(), timeout=5)
            return "pong"

        model = ScriptedModel([calls(("ping", {}), ("pong", {})), "Both."])
        return await Agent(model, tools=[ping, pong]).run_async("Go")

    result = asyncio.run(main())
    assert [(r.name, r.result, r.error) for r in result.tool_calls] == [
        ("ping", "ping", None),
        ("pong", "pong", None),
    ]


def test_parallel_sync_calls_run_in_worker_threads() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def make(name: str) -> Any:
        def fn() -> str:
            barrier.wait()
            return name

        fn.__doc__ = f"Wait at the barrier, return {name}."
        return tool(name=name)(fn)

    tools = [make("one"), make("two"), make("three")]
    model = ScriptedModel([calls(("one", {}), ("two", {}), ("three", {})), "All."])
    result = Agent(model, tools=tools).run("Go")
    assert [(r.result, r.error) for r in result.tool_calls] == [
        ("one", None),
        ("two", None),
        ("three", None),
    ]


def test_results_go_back_in_call_order() -> None:
    async def main() -> tuple[RunResult[str], ScriptedModel]:
        first_may_finish = asyncio.Event()

        @tool
        async def slow() -> str:
            """Finishes second."""
            await asyncio.wait_for(first_may_finish.wait(), timeout=5)
            return "slow"

        @tool
        async def fast() -> str:
            """Finishes first."""
            first_may_finish.set()
            return "fast"

        model = ScriptedModel([calls(("slow", {}), ("fast", {})), "Done."])
        return await Agent(model, tools=[slow, fast]).run_async("Go"), model

    result, model = asyncio.run(main())
    assert [m.content for m in result.messages if m.role == "tool"] == ["slow", "fast"]
    assert [m["content"] for m in model.requests[1].messages if m["role"] == "tool"] == [
        "slow",
        "fast",
    ]


def test_duplicate_call_ids_keep_their_own_results() -> None:
    reply = json.dumps(
        [
            {"id": "c1", "name": "add", "arguments": {"a": 1, "b": 2}},
            {"id": "c1", "name": "add", "arguments": {"a": 2, "b": 2}},
        ]
    )
    result = Agent(ScriptedModel([reply, "Done."]), tools=[add]).run("Go")
    assert [r.result for r in result.tool_calls] == [3, 4]


# -- events ----------------------------------------------------------------------------------------


def test_stream_yields_events_in_order() -> None:
    truncated = '[{"name": "add", "arguments": {"a": 1'
    good = call("add", a=1, b=2)
    model = ScriptedModel([truncated, good, "It is 3."])
    events = collect(Agent(model, tools=[add]), "1 + 2?")
    assert [type(e) for e in events] == [
        TextDelta,
        RetryEvent,
        TextDelta,
        ToolCallEvent,
        ToolResultEvent,
        TextDelta,
        FinalEvent,
    ]
    assert events[0].text == truncated
    assert events[1].error.kind == "parse"
    assert events[2].text == good
    assert (events[3].name, events[3].arguments) == ("add", {"a": 1, "b": 2})
    assert (events[4].name, events[4].result, events[4].content, events[4].error) == (
        "add",
        3,
        "3",
        None,
    )
    assert events[4].call_id == events[3].call.id
    assert events[5].text == "It is 3."
    final = events[-1]
    assert final.result.output == "It is 3."
    assert final.result.tool_calls[0].result == 3


def test_stream_reports_tool_errors_in_result_events() -> None:
    model = ScriptedModel([call("boom"), "Failed."])
    events = collect(Agent(model, tools=[boom]), "Go")
    [result_event] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result_event.error is not None and "kaput" in result_event.error
    assert isinstance(events[-1], FinalEvent)


def test_stream_raises_typed_errors() -> None:
    async def main() -> list[Any]:
        seen: list[Any] = []
        async for event in Agent(ScriptedModel([call("nope")] * 2), max_retries=1).stream("Go"):
            seen.append(event)
        return seen

    with pytest.raises(RetriesExhausted):
        asyncio.run(main())


# -- sync API from async code, and one agent for many runs -----------------------------------------


def test_run_from_inside_a_running_event_loop() -> None:
    agent = Agent(ScriptedModel([call("add", a=1, b=2), "3"]), tools=[add])

    async def main() -> str:
        return agent.run("1 + 2?").output

    assert asyncio.run(main()) == "3"


def test_one_agent_serves_many_concurrent_runs() -> None:
    runs = 12

    async def main() -> list[RunResult[str]]:
        arrived = 0
        all_in = asyncio.Event()

        @tool
        async def echo(text: str) -> str:
            """Echo the text, once every run has called."""
            nonlocal arrived
            arrived += 1
            if arrived == runs:
                all_in.set()
            await asyncio.wait_for(all_in.wait(), timeout=5)
            return f"echo {text}"

        def reply(request: ModelRequest) -> str:
            last = request.transcript[-1]
            if last.role == "tool":
                return f"Result: {last.content}"
            return call("echo", text=last.content)

        agent = Agent(ScriptedModel(reply), tools=[echo])
        return await asyncio.gather(*(agent.run_async(f"user {i}") for i in range(runs)))

    results = asyncio.run(main())
    assert [r.output for r in results] == [f"Result: echo user {i}" for i in range(runs)]
    assert len({r.run_id for r in results}) == runs
    for i, r in enumerate(results):
        assert [t.arguments for t in r.tool_calls] == [{"text": f"user {i}"}]
        assert r.messages[0].content == f"user {i}"


def test_scripted_model_running_out_is_a_model_error() -> None:
    model = ScriptedModel([call("add", a=1, b=2)])
    with pytest.raises(ModelError):
        Agent(model, tools=[add]).run("Go")


def test_scripted_model_records_requests() -> None:
    model = ScriptedModel([call("add", a=1, b=2), "3"])
    Agent(model, tools=[add]).run("Go")
    assert len(model.requests) == 2
    assert [r.step for r in model.requests] == [0, 1]
    assert model.requests[0].messages[-1] == {"role": "user", "content": "Go"}


def test_scripted_model_accepts_async_callables() -> None:
    async def reply(request: ModelRequest) -> str:
        await asyncio.sleep(0)
        return "async answer"

    assert Agent(ScriptedModel(reply)).run("Go").output == "async answer"


# -- transcripts -----------------------------------------------------------------------------------


def test_messages_round_trip_through_json_and_continue_a_conversation() -> None:
    first_model = ScriptedModel([call("add", a=2, b=3), "It is 5."])
    first = Agent(first_model, tools=[add], system_prompt="Be brief.").run("2 + 3?")

    stored = [m.model_dump_json() for m in first.messages]
    restored = [Message.model_validate_json(s) for s in stored]
    assert restored == first.messages
    assert json.loads(first.messages_json()) == [json.loads(s) for s in stored]

    second_model = ScriptedModel(["Still 5."])
    second = Agent(second_model, tools=[add], system_prompt="Be brief.").run(
        [*restored, Message.user("And again?")]
    )
    assert second.output == "Still 5."
    rendered = second_model.requests[0].messages
    assert [m["role"] for m in rendered] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert sum("Be brief." in m["content"] for m in rendered) == 1
    assert rendered[3]["content"] == "5"
    assert rendered[-1]["content"] == "And again?"
    assert second.messages[: len(first.messages)] == first.messages


def test_records_and_transcript_hold_errors_too() -> None:
    model = ScriptedModel([call("boom"), "Failed."])
    result = Agent(model, tools=[boom]).run("Go")
    restored = [Message.model_validate_json(m.model_dump_json()) for m in result.messages]
    assert restored == result.messages
    assert any(m.is_error for m in restored if m.role == "tool")


# -- rendering: what the chat template receives ----------------------------------------------------


def test_stablelm_system_prompt_follows_the_users_own() -> None:
    @tool
    def weather(city: str) -> str:
        """Weather in a city."""
        return "sunny"

    model = ScriptedModel(["Hi."])
    Agent(model, tools=[add, weather], system_prompt="You are terse.").run("Hi")
    system = model.requests[0].messages[0]
    assert system["role"] == "system"
    content = system["content"]
    assert content.startswith("You are terse.")
    head, functions = content.split(PREAMBLE)
    assert head.strip() == "You are terse."
    assert json.loads(functions) == [add.schema, weather.schema]


def test_stablelm_system_prompt_without_a_user_system_prompt() -> None:
    model = ScriptedModel(["Hi."])
    Agent(model, tools=[add]).run("Hi")
    content = model.requests[0].messages[0]["content"]
    assert content.startswith(PREAMBLE)
    assert json.loads(content[len(PREAMBLE) :]) == [add.schema]


def test_no_tools_no_function_list() -> None:
    model = ScriptedModel(["Hi."])
    Agent(model, system_prompt="Be nice.").run("Hi")
    assert model.requests[0].messages[0] == {"role": "system", "content": "Be nice."}
    model = ScriptedModel(["Hi."])
    Agent(model).run("Hi")
    assert [m["role"] for m in model.requests[0].messages] == ["user"]


def test_assistant_calls_are_written_back_as_json_text() -> None:
    model = ScriptedModel(['Let me add. [{"name": "add", "arguments": {"a": 1, "b": 2}}]', "3"])
    Agent(model, tools=[add]).run("1 + 2?")
    assistant = [m for m in model.requests[1].messages if m["role"] == "assistant"]
    assert len(assistant) == 1
    content = assistant[0]["content"]
    assert content.strip()
    assert content.startswith("Let me add.")
    array = content[content.index("[") :]
    assert json.loads(array) == [{"name": "add", "arguments": {"a": 1, "b": 2}}]


def test_bare_calls_never_leave_empty_assistant_content() -> None:
    model = ScriptedModel([calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), "Done."])
    Agent(model, tools=[add]).run("Go")
    [assistant] = [m for m in model.requests[1].messages if m["role"] == "assistant"]
    assert json.loads(assistant["content"]) == [
        {"name": "add", "arguments": {"a": 1, "b": 2}},
        {"name": "add", "arguments": {"a": 3, "b": 4}},
    ]


def test_results_under_the_tool_role_by_default() -> None:
    model = ScriptedModel([calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), "Done."])
    Agent(model, tools=[add]).run("Go")
    roles = [m["role"] for m in model.requests[1].messages]
    assert roles == ["system", "user", "assistant", "tool", "tool"]
    assert [m["content"] for m in model.requests[1].messages[3:]] == ["3", "7"]


def test_results_as_a_user_turn_with_function_response_prefix() -> None:
    fmt = StableLMFormat(result_role="user")
    model = ScriptedModel(
        [calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), "Done."], format=fmt
    )
    Agent(model, tools=[add]).run("Go")
    rendered = model.requests[1].messages
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user"]
    results = rendered[-1]["content"]
    assert results.startswith("FUNCTION RESPONSE:")
    assert "3" in results and "7" in results
    assert "tool" not in [m["role"] for m in rendered]


def test_hermes_rendering() -> None:
    model = ScriptedModel(
        ['<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>', "3"],
        format=HermesFormat(),
    )
    result = Agent(model, tools=[add], system_prompt="Be brief.").run("1 + 2?")
    assert result.tool_calls[0].result == 3
    rendered = model.requests[1].messages
    system = rendered[0]["content"]
    assert system.startswith("Be brief.")
    assert "<tools>" in system and json.dumps(add.schema) in system
    [assistant] = [m for m in rendered if m["role"] == "assistant"]
    assert "<tool_call>" in assistant["content"]
    body = assistant["content"].split("<tool_call>")[1].split("</tool_call>")[0]
    assert json.loads(body) == {"name": "add", "arguments": {"a": 1, "b": 2}}
    [response] = [m for m in rendered if m["role"] == "tool"]
    assert "<tool_response>" in response["content"] and "3" in response["content"]


def test_a_retry_message_reaches_the_model_as_a_user_turn() -> None:
    model = ScriptedModel(['[{"name": "add", "arguments": {"a": 1', "Sorry."])
    Agent(model, tools=[add]).run("Go")
    last = model.requests[1].messages[-1]
    assert last["role"] == "user"
    assert "cut off" in last["content"] or "truncated" in last["content"]


@pytest.mark.parametrize("fmt", [StableLMFormat(), HermesFormat()], ids=["stablelm", "hermes"])
def test_reply_schema_accepts_valid_calls_only(fmt: StableLMFormat | HermesFormat) -> None:
    import jsonschema

    schema = fmt.reply_schema([add, boom])
    assert schema is not None
    validator = jsonschema.Draft202012Validator(schema)
    one = {"name": "add", "arguments": {"a": 1, "b": 2}}
    good = [one] if isinstance(fmt, StableLMFormat) else one
    bad_name = {"name": "nope", "arguments": {}}
    bad_args = {"name": "add", "arguments": {"a": "x"}}
    assert validator.is_valid(good)
    for bad in (bad_name, bad_args):
        assert not validator.is_valid([bad] if isinstance(fmt, StableLMFormat) else bad)
    assert fmt.reply_schema([add], tool_choice="none") is None


class _ChunkedModel(ScriptedModel):
    """Streams each scripted reply a few characters at a time, like a real backend."""

    async def stream(self, request):  # type: ignore[no-untyped-def]
        async for part in super().stream(request):
            response = part  # the scripted text, whole, then its response
        for i in range(0, len(response.text), 7):
            yield response.text[i : i + 7]
        yield response


def test_calls_are_announced_as_soon_as_they_are_complete() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    first = '[{"name": "add", "arguments": {"a": 1, "b": 2}}, '
    second = '{"name": "add", "arguments": {"a": 3, "b": 4}}]'
    agent = Agent(_ChunkedModel([first + second, "done"]), tools=[add])

    async def collect() -> list[object]:
        return [event async for event in agent.stream("go")]

    events = asyncio.run(collect())
    kinds = [type(e).__name__ for e in events]
    first_call = kinds.index("ToolCallEvent")
    streamed_before = "".join(e.text for e in events[:first_call] if isinstance(e, TextDelta))
    assert streamed_before.startswith(first) and not streamed_before.startswith(first + second)
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [c.arguments for c in calls] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert {r.call_id for r in results} == {c.call.id for c in calls}
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert [r.result for r in final.result.tool_calls] == [3, 7]
