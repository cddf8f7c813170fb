"""Approval through the server: a paused run's reply, and the follow-up request that resumes it.

Driven on real servers by the official `openai` client (and bare HTTP where the client would
hide what is sent).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, RunState
from agentkit._server_approval import ResumedStates
from agentkit._server_seal import PREFIX, StateSeal
from agentkit._server_wire import ApiError, parse_chat
from agentkit.errors import RunStateError, UsageError
from agentkit.models import ScriptedModel
from tests.test_server_support import (
    ACTIONS,
    HERE,
    SECRET_PROMPT,
    ServerProcess,
    approval_reply,
    delete_file,
    make_approval_agent,
    pay,
    serving,
)

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from agentkit.server import create_app  # noqa: E402

KEY = "a state key shared by the replicas"
CLEAN_UP = [{"role": "user", "content": "clean up"}]
PENDING = [
    {"id": "c-delete", "name": "delete_file", "arguments": {"path": "a.txt"}},
    {"id": "c-pay", "name": "pay", "arguments": {"amount": 500, "to": "bob"}},
]


@pytest.fixture(autouse=True)
def _no_actions() -> None:
    ACTIONS.clear()


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))


def client(url: str) -> Any:
    return openai.AsyncOpenAI(base_url=url, api_key="none", max_retries=0, timeout=30)


def resume(state: str, approve: list[str], reject: dict[str, str] | None = None) -> dict[str, Any]:
    return {"agentkit_resume": {"state": state, "approve": approve, "reject": reject or {}}}


async def create(chat: Any, **options: Any) -> Any:
    options.setdefault("messages", CLEAN_UP)
    return await chat.chat.completions.create(model="agentkit", **options)


async def streamed(chat: Any, **options: Any) -> list[Any]:
    stream = await create(chat, stream=True, **options)
    return [item async for item in stream]


# -- the official client, plain and streamed -------------------------------------------------------
def test_a_paused_run_is_answered_and_a_follow_up_approves_one_call_and_rejects_another() -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            paused = await create(chat)
            choice = paused.choices[0]
            assert choice.finish_reason == "approval_required"
            assert choice.message.content is None
            fields = choice.message.model_extra
            assert fields["agentkit_pending_calls"] == PENDING
            assert ACTIONS == []  # nothing ran yet
            assert paused.usage.total_tokens >= 0
            decisions = resume(fields["agentkit_state"], ["c-delete"], {"c-pay": "too much"})
            done = await create(chat, extra_body=decisions)
        answer = done.choices[0]
        assert answer.finish_reason == "stop"
        assert answer.message.content.startswith("results: deleted a.txt (secret tool result) | ")
        assert "too much" in answer.message.content
        assert ACTIONS == ["deleted a.txt"]

    run(test)


def test_a_streamed_pause_ends_with_a_chunk_carrying_the_calls_and_the_state() -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            chunks = await streamed(chat, stream_options={"include_usage": True})
            finish, usage = chunks[-2], chunks[-1]
            assert finish.choices[0].finish_reason == "approval_required"
            delta = finish.choices[0].delta.model_extra
            assert delta["agentkit_pending_calls"] == PENDING
            assert usage.choices == [] and usage.usage is not None
            assert not any(c.choices and c.choices[0].delta.content for c in chunks)
            decisions = resume(delta["agentkit_state"], ["c-pay"], {"c-delete": "keep it"})
            answer = await streamed(chat, messages=[], extra_body=decisions)
        text = "".join(c.choices[0].delta.content or "" for c in answer if c.choices)
        assert text.startswith("results: ") and "keep it" in text and "paid 500 to bob" in text
        assert answer[-1].choices[0].finish_reason == "stop"
        assert ACTIONS == ["paid 500 to bob"]

    run(test)


def test_a_run_that_pauses_twice_resumes_twice() -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            messages = [{"role": "user", "content": "delete x then y"}]
            first = (await create(chat, messages=messages)).choices[0].message.model_extra
            again = await create(chat, extra_body=resume(first["agentkit_state"], ["d-1"]))
            second = again.choices[0].message.model_extra
            assert again.choices[0].finish_reason == "approval_required"
            assert [c["id"] for c in second["agentkit_pending_calls"]] == ["d-2"]
            done = await create(chat, extra_body=resume(second["agentkit_state"], ["d-2"]))
        assert done.choices[0].message.content == "results: deleted y (secret tool result)"
        assert ACTIONS == ["deleted x", "deleted y"]

    run(test)


@pytest.mark.parametrize("stream", [False, True])
def test_exposed_tool_calls_come_with_the_pause_and_with_the_resumed_run(stream: bool) -> None:
    async def test() -> None:
        app = create_app(make_approval_agent(), expose_tool_calls=True)
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
            body = {"model": "agentkit", "messages": [{"role": "user", "content": "pay 500"}]}
            paused = (await http.post("/chat/completions", json=body)).json()
            message = paused["choices"][0]["message"]
            assert message["agentkit_tool_calls"] == []
            decisions = resume(message["agentkit_state"], [], {"c-pay": "no"})
            response = await http.post(
                "/chat/completions", json={**body, "stream": stream, **decisions}
            )
        if stream:
            data = [json.loads(line[6:]) for line in response.text.splitlines() if line[6:7] == "{"]
            calls = [
                c for d in data for c in d["choices"][0]["delta"].get("agentkit_tool_calls", [])
            ]
        else:
            calls = response.json()["choices"][0]["message"]["agentkit_tool_calls"]
        [call] = calls
        assert (call["id"], call["name"], call["error"]) == (
            "c-pay",
            "pay",
            "the user refused this call: no",
        )
        assert call["error"] in call["content"]
        assert ACTIONS == []

    run(test)


# -- what the client holds -------------------------------------------------------------------------
def test_the_state_hides_the_system_prompt_and_tool_results_and_opens_with_the_key() -> None:
    async def test() -> None:
        agent = Agent(
            ScriptedModel(approval_reply),
            tools=[delete_file, pay],
            system_prompt=SECRET_PROMPT,
            state_key=KEY,
        )
        async with serving(create_app(agent)) as url, client(url) as chat:
            paused = await create(chat, messages=[{"role": "user", "content": "pay 5"}])
            assert paused.choices[0].message.content.startswith("results: paid 5")
            token = (await create(chat)).choices[0].message.model_extra["agentkit_state"]
        assert token.startswith(PREFIX)
        assert "Secret" not in token and "clean up" not in token
        # The server sealed it with the agent's own key: the operator can resume it offline.
        state = RunState.from_json(StateSeal(KEY.encode()).open(token))
        assert state.messages[0].content == SECRET_PROMPT
        done = agent.resume(state, approve=["c-delete", "c-pay"])
        assert done.output == "results: deleted a.txt (secret tool result) | paid 500 to bob"

    run(test)


def test_the_state_key_comes_from_the_agent_or_create_app() -> None:
    agent = make_approval_agent()
    app = create_app(agent, state_key=KEY)
    assert app.state.agentkit.approvals.key == KEY.encode()
    assert app.state.agentkit.agent.state_key == KEY.encode() and agent.state_key is None
    keyed = Agent(ScriptedModel(approval_reply), tools=[pay], state_key="the agent's own key")
    assert create_app(keyed).state.agentkit.agent is keyed
    assert create_app(keyed, state_key="the agent's own key").state.agentkit.agent is keyed
    with pytest.raises(UsageError, match="differs"):
        create_app(keyed, state_key=KEY)
    with pytest.raises(UsageError, match="at least 16 bytes"):
        create_app(agent, state_key="short")
    first, second = create_app(agent), create_app(agent)  # a random key per app
    assert first.state.agentkit.approvals.key != second.state.agentkit.approvals.key


# -- refused resumes -------------------------------------------------------------------------------
async def paused_state(chat: Any) -> str:
    paused = await create(chat)
    token: str = paused.choices[0].message.model_extra["agentkit_state"]
    return token


def _altered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def _unsealed() -> str:
    """What a client could forge: a well-formed state, digest and all, not sealed."""
    paused = make_approval_agent().run("clean up")
    assert paused.state is not None
    return paused.state.to_json()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_altered, "altered"),
        (lambda token: token[:-12], "altered"),
        (lambda token: token + "AAAA", "altered"),
        (lambda token: PREFIX + "%%%", "not a state this server issued"),
        (lambda token: _unsealed(), "not a state this server issued"),
    ],
)
def test_an_altered_or_forged_state_is_refused(change: Callable[[str], str], words: str) -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            token = change(await paused_state(chat))
            with pytest.raises(openai.BadRequestError) as caught:
                await create(chat, extra_body=resume(token, ["c-delete", "c-pay"]))
        error = caught.value.body
        assert error["code"] == "invalid_run_state" and words in error["message"]
        assert len(token) < 100 or token[20:60] not in error["message"]
        assert ACTIONS == []

    run(test)


def test_a_state_sealed_by_another_key_is_refused_and_one_shared_key_resumes_anywhere() -> None:
    async def test() -> None:
        replica = create_app(make_approval_agent(), state_key=KEY)
        twin = create_app(make_approval_agent(), state_key=KEY)
        stranger = create_app(make_approval_agent())
        async with (
            serving(replica) as one,
            serving(twin) as two,
            serving(stranger) as three,
            client(one) as first,
            client(two) as second,
            client(three) as third,
        ):
            token = await paused_state(first)
            decisions = resume(token, ["c-delete", "c-pay"])
            with pytest.raises(openai.BadRequestError, match="another state key"):
                await create(third, extra_body=decisions)
            done = await create(second, extra_body=decisions)
        assert done.choices[0].finish_reason == "stop"
        assert ACTIONS == ["deleted a.txt", "paid 500 to bob"]

    run(test)


@pytest.mark.parametrize("stream", [False, True])
def test_a_state_resumes_once(stream: bool) -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            decisions = resume(await paused_state(chat), ["c-delete"], {"c-pay": "no"})
            await create(chat, extra_body=decisions)
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                body = {"model": "agentkit", "stream": stream, **decisions}
                again = await http.post("/chat/completions", json=body)
        assert again.status_code == 400
        error = again.json()["error"]
        assert (error["code"], error["message"]) == (
            "invalid_run_state",
            "this run state was already resumed",
        )
        assert ACTIONS == ["deleted a.txt"]

    run(test)


def test_concurrent_resumes_of_one_state_run_it_once() -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            decisions = resume(await paused_state(chat), ["c-delete", "c-pay"])
            tries = [create(chat, extra_body=decisions) for _ in range(5)]
            outcomes = await asyncio.gather(*tries, return_exceptions=True)
        refused = [o for o in outcomes if isinstance(o, openai.BadRequestError)]
        assert len(refused) == 4
        assert ACTIONS == ["deleted a.txt", "paid 500 to bob"]

    run(test)


@pytest.mark.parametrize(
    ("approve", "reject", "words"),
    [
        (["c-delete"], {}, "no decision for pending call(s): c-pay"),
        (["c-delete", "c-pay", "c-other"], {}, "no pending call has the id(s) c-other"),
        (["c-delete", "c-pay"], {"c-pay": "no"}, "both approved and rejected: c-pay"),
    ],
)
def test_wrong_decisions_are_refused_without_using_the_state_up(
    approve: list[str], reject: dict[str, str], words: str
) -> None:
    async def test() -> None:
        async with serving(create_app(make_approval_agent())) as url, client(url) as chat:
            token = await paused_state(chat)
            with pytest.raises(openai.BadRequestError) as caught:
                await create(chat, extra_body=resume(token, approve, reject))
            assert words in caught.value.body["message"]
            assert ACTIONS == []
            done = await create(chat, extra_body=resume(token, ["c-delete", "c-pay"]))
        assert done.choices[0].finish_reason == "stop"

    run(test)


def test_a_state_of_an_agent_with_other_tools_is_refused() -> None:
    async def test() -> None:
        other = Agent(ScriptedModel(approval_reply), tools=[delete_file, pay])  # no `add`
        async with (
            serving(create_app(make_approval_agent(), state_key=KEY)) as one,
            serving(create_app(other, state_key=KEY)) as two,
            client(one) as first,
            client(two) as second,
        ):
            token = await paused_state(first)
            with pytest.raises(openai.BadRequestError, match="other tools"):
                await create(second, extra_body=resume(token, ["c-delete", "c-pay"]))

    run(test)


# -- the parts -------------------------------------------------------------------------------------
def test_a_resume_request_needs_no_messages_and_a_well_formed_extension() -> None:
    def parse(**body: Any) -> Any:
        data = json.dumps({"model": "served", **body}).encode()
        return parse_chat(data, model_name="served", system_prompt="Rules.")

    call = parse(agentkit_resume={"state": "s", "approve": ["a"], "reject": {"b": "why"}})
    assert (call.messages, call.resume.approve, call.resume.reject) == ([], ("a",), {"b": "why"})
    ignored = parse(
        messages=[{"role": "system", "content": "Other."}], agentkit_resume={"state": "s"}
    )
    assert ignored.messages == [] and ignored.resume.state == "s"
    assert parse(messages=[{"role": "user", "content": "hi"}]).resume is None
    for bad, param in [
        ({"state": ""}, "agentkit_resume.state"),
        ({"approve": ["a"]}, "agentkit_resume.state"),
        ({"state": "s", "approve": "a"}, "agentkit_resume.approve"),
        ({"state": "s", "reject": ["a"]}, "agentkit_resume.reject"),
        ({"state": "s", "other": 1}, "agentkit_resume.other"),
        ("s", "agentkit_resume"),
    ]:
        with pytest.raises(ApiError) as caught:
            parse(agentkit_resume=bad)
        assert caught.value.status == 400 and caught.value.param == param


def test_a_seal_hides_the_text_and_refuses_any_change() -> None:
    seal = StateSeal(b"k" * 32)
    for text in ["", "{}", "é" * 1000, SECRET_PROMPT]:
        token = seal.seal(text)
        assert seal.open(token) == text
        assert text == "" or text not in token
    token = seal.seal(SECRET_PROMPT)
    assert token != seal.seal(SECRET_PROMPT)  # a fresh nonce each time
    for where in range(len(PREFIX), len(token), 7):
        changed = token[:where] + ("A" if token[where] != "A" else "B") + token[where + 1 :]
        with pytest.raises(RunStateError):
            seal.open(changed)
    with pytest.raises(RunStateError, match="another state key"):
        StateSeal(b"j" * 32).open(token)
    for junk in [
        "",
        PREFIX,
        PREFIX + "AAAA",
        "{}",
        PREFIX + "=" * 9,
        token.replace(PREFIX, "aks1."),
    ]:
        with pytest.raises(RunStateError):
            seal.open(junk)


def test_resumed_states_are_bounded_and_a_released_claim_can_be_made_again() -> None:
    seen = ResumedStates(3)
    assert [seen.claim(k) for k in "abcd"] == [True] * 4
    assert len(seen) == 3 and not seen.claim("d") and seen.claim("a")  # "a" was forgotten
    seen.release("d")
    assert seen.claim("d")


# -- `agentkit serve` ------------------------------------------------------------------------------
def test_serve_processes_sharing_a_state_key_file_resume_each_others_runs(tmp_path: Path) -> None:
    key_file = tmp_path / "state-key.txt"
    key_file.write_text(KEY + "\n")
    target = f"{HERE}:make_approval_agent"
    option = ("--state-key-file", str(key_file))
    with (
        ServerProcess(target, *option) as one,
        ServerProcess(target, *option) as two,
        ServerProcess(target) as three,
    ):
        sync = [
            openai.OpenAI(base_url=s.base_url, api_key="none", max_retries=0, timeout=30)
            for s in (one, two, three)
        ]
        paused = sync[0].chat.completions.create(model="agentkit", messages=CLEAN_UP)
        token = paused.choices[0].message.model_extra["agentkit_state"]
        decisions = resume(token, ["c-delete"], {"c-pay": "not today"})
        with pytest.raises(openai.BadRequestError, match="another state key"):
            sync[2].chat.completions.create(model="agentkit", messages=[], extra_body=decisions)
        done = sync[1].chat.completions.create(model="agentkit", messages=[], extra_body=decisions)
    content = done.choices[0].message.content
    assert content.startswith("results: deleted a.txt") and "not today" in content


def test_serve_workers_share_one_state_key_by_default() -> None:
    which = [{"role": "user", "content": "which process"}]
    answers: list[str] = []
    with ServerProcess(f"{HERE}:make_approval_agent", "--workers", "2") as server:
        for _ in range(40):  # until a run pauses in one worker and resumes in the other
            with openai.OpenAI(
                base_url=server.base_url, api_key="none", max_retries=0, timeout=20
            ) as one:
                paused = one.chat.completions.create(model="agentkit", messages=which)
            token = paused.choices[0].message.model_extra["agentkit_state"]
            with openai.OpenAI(
                base_url=server.base_url, api_key="none", max_retries=0, timeout=20
            ) as two:
                done = two.chat.completions.create(
                    model="agentkit", messages=[], extra_body=resume(token, ["w-1"])
                )
            answers.append(done.choices[0].message.content)
            paused_in, resumed_in = re.findall(r"\d+", answers[-1])
            if paused_in != resumed_in:
                break
    assert paused_in != resumed_in, answers


def test_serve_refuses_a_short_state_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("short")
    import subprocess

    from tests.test_server_support import ROOT, serve_command

    done = subprocess.run(
        [*serve_command(), f"{HERE}:make_approval_agent", "--state-key-file", str(key_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "state_key" in done.stderr and "short" not in done.stderr
