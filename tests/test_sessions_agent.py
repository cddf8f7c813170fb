"""`Agent.run(..., session=...)` against each store (Redis: a real server)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from agentkit import Agent, tool
from agentkit.errors import ModelError
from agentkit.models import ScriptedModel
from agentkit.models._base import ModelRequest
from agentkit.sessions import TrimPolicy
from tests.test_sessions_support import STORES, make_session


def questions(request: ModelRequest) -> list[str]:
    """The user's questions the model was shown, oldest first."""
    return [m.content for m in request.messages if m.role == "user"]


def answer_with_count(request: ModelRequest) -> str:
    """Answers with how many questions it saw, and the first one."""
    seen = questions(request)
    return f"{len(seen)} questions, first: {seen[0]}"


@tool
def note(text: str) -> str:
    """Write a note down."""
    return f"noted {text}"


def noting_model(request: ModelRequest) -> str:
    """Calls `note` once per question, then answers."""
    if request.messages[-1].role == "user":
        return json.dumps([{"name": "note", "arguments": {"text": questions(request)[-1]}}])
    return "Done."


@pytest.mark.parametrize("store", STORES)
def test_a_conversation_continues_across_runs(store: str, where: Any) -> None:
    session = make_session(store, where, uuid.uuid4().hex)
    agent = Agent(ScriptedModel(answer_with_count), system_prompt="Be brief.")
    assert agent.run("My name is Ada.", session=session).output == (
        "1 questions, first: My name is Ada."
    )
    result = agent.run("What is my name?", session=session)
    assert result.output == "2 questions, first: My name is Ada."
    stored = asyncio.run(session.load())
    assert [m.role for m in stored] == ["system", "user", "assistant", "user", "assistant"]
    assert stored == result.messages


@pytest.mark.parametrize("store", STORES)
def test_tool_calls_and_results_are_stored(store: str, where: Any) -> None:
    session = make_session(store, where, uuid.uuid4().hex)
    agent = Agent(ScriptedModel(noting_model), tools=[note])
    asyncio.run(agent.run_async("milk", session=session))
    asyncio.run(agent.run_async("eggs", session=session))
    stored = asyncio.run(session.load())
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"] * 2
    assert [m.content for m in stored if m.role == "tool"] == ["noted milk", "noted eggs"]
    assert stored[1].tool_calls[0].id == stored[2].tool_call_id


@pytest.mark.parametrize("store", STORES)
def test_a_failed_run_saves_nothing(store: str, where: Any) -> None:
    session = make_session(store, where, uuid.uuid4().hex)
    agent = Agent(ScriptedModel(answer_with_count))
    agent.run("first", session=session)
    with pytest.raises(ModelError):
        Agent(ScriptedModel([])).run("second", session=session)
    assert [m.content for m in asyncio.run(session.load())] == [
        "first",
        "1 questions, first: first",
    ]


@pytest.mark.parametrize("store", STORES)
def test_ten_agent_runs_racing_on_one_session(store: str, where: Any) -> None:
    session_id = uuid.uuid4().hex
    first = make_session(store, where, session_id)
    agent = Agent(ScriptedModel(lambda request: f"seen {len(questions(request))}"))

    async def main() -> list[str]:
        sessions = [
            first if store == "memory" else make_session(store, where, session_id)
            for _ in range(10)
        ]
        runs = [agent.run_async(f"q{i}", session=s) for i, s in enumerate(sessions)]
        return [result.output for result in await asyncio.gather(*runs)]

    assert sorted(asyncio.run(main()), key=lambda text: int(text.split()[1])) == [
        f"seen {n}" for n in range(1, 11)
    ]
    stored = asyncio.run(first.load())
    assert len(stored) == 20
    assert [m.content for m in stored[1::2]] == [f"seen {n}" for n in range(1, 11)]
    assert sorted(m.content for m in stored[::2]) == sorted(f"q{i}" for i in range(10))


@pytest.mark.parametrize("store", STORES)
def test_fifty_agent_runs_on_fifty_sessions(store: str, where: Any) -> None:
    agent = Agent(ScriptedModel(answer_with_count))
    sessions = [make_session(store, where, f"s{i}-{uuid.uuid4().hex}") for i in range(50)]

    async def main() -> None:
        for turn in range(2):
            runs = [agent.run_async(f"{s.session_id} {turn}", session=s) for s in sessions]
            await asyncio.gather(*runs)

    asyncio.run(main())
    for s in sessions:
        stored = asyncio.run(s.load())
        assert [m.content for m in stored[::2]] == [f"{s.session_id} 0", f"{s.session_id} 1"]
        assert stored[3].content == f"2 questions, first: {s.session_id} 0"


@pytest.mark.parametrize("store", STORES)
def test_the_model_sees_the_trimmed_history(store: str, where: Any) -> None:
    session_id = uuid.uuid4().hex
    session = make_session(store, where, session_id, policy=TrimPolicy(max_turns=2))
    agent = Agent(ScriptedModel(answer_with_count), system_prompt="Be brief.")
    for i in range(4):
        result = agent.run(f"q{i}", session=session)
    # The policy applies to the stored history (the two newest turns); the run adds its own.
    assert result.output == "3 questions, first: q1"
    if store != "memory":
        everything = asyncio.run(make_session(store, where, session_id).load())
        assert [m.content for m in everything if m.role == "user"] == ["q0", "q1", "q2", "q3"]
        assert len(everything) == 9  # nothing is lost in the store, nothing stored twice


@pytest.mark.parametrize("store", STORES)
def test_a_run_after_an_abandoned_stream(store: str, where: Any) -> None:
    session = make_session(store, where, uuid.uuid4().hex)
    agent = Agent(ScriptedModel(answer_with_count))

    async def main() -> str:
        async for _event in agent.stream("abandoned", session=session):
            break  # the stream is left unclosed: its lock goes when the loop finalises it
        return (await agent.run_async("next", session=session)).output

    assert asyncio.run(main()) == "1 questions, first: next"
    assert [m.content for m in asyncio.run(session.load())] == ["next", "1 questions, first: next"]


def test_an_agent_with_a_system_prompt_continues_a_session_without_one() -> None:
    session = make_session("memory", None, "s")
    Agent(ScriptedModel(lambda request: "a1")).run("q1", session=session)
    Agent(ScriptedModel(lambda request: "a2"), system_prompt="Be brief.").run("q2", session=session)
    # The system prompt goes before the stored history; the last stored message is not saved
    # again (a regression: the new messages were counted from the wrong place).
    stored = [m.content for m in asyncio.run(session.load()) if m.role != "system"]
    assert stored == ["q1", "a1", "q2", "a2"]
