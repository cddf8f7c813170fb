"""Approval: runs that pause for a person, serialise, and resume (also in another process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, RunState, tool
from agentkit.errors import RunStateError
from agentkit.events import ApprovalRequestEvent, FinalEvent
from agentkit.models import ModelRequest, ScriptedModel

LOG: list[str] = []


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    LOG.append(f"deleted {path}")
    return f"deleted {path}"


@tool(requires_approval=lambda args, ctx: args["amount"] > 100)
def pay(amount: int, to: str) -> str:
    """Pay someone."""
    LOG.append(f"paid {amount} to {to}")
    return "paid"


@tool
def lookup(name: str) -> str:
    """Look a name up."""
    LOG.append(f"looked up {name}")
    return f"{name}: ok"


def calls(*items: tuple[str, dict[str, Any]]) -> str:
    return json.dumps(
        [{"id": f"c{i}", "name": n, "arguments": a} for i, (n, a) in enumerate(items)]
    )


def agent_for(replies: list[str], **kwargs: Any) -> Agent[str, Any]:
    return Agent(ScriptedModel(replies), tools=[delete_file, pay, lookup], **kwargs)


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    LOG.clear()


def test_a_turn_mixing_free_and_guarded_calls_runs_the_free_ones_and_pauses() -> None:
    reply = calls(("lookup", {"name": "ada"}), ("delete_file", {"path": "/tmp/x"}))
    result = agent_for([reply, "done"]).run("clean up")
    assert result.status == "paused" and result.output is None
    assert LOG == ["looked up ada"]
    [pending] = result.pending_calls
    assert (pending.id, pending.name, pending.arguments) == (
        "c1",
        "delete_file",
        {"path": "/tmp/x"},
    )
    assert result.state is not None and result.state.pending == [pending]


def test_approve_runs_the_call_and_the_run_goes_on() -> None:
    model = ScriptedModel([calls(("delete_file", {"path": "a"})), "Deleted."])
    agent = Agent(model, tools=[delete_file])
    paused = agent.run("delete a")
    assert paused.state is not None
    done = agent.resume(paused.state, approve=["c0"])
    assert done.status == "completed" and done.output == "Deleted."
    assert LOG == ["deleted a"]
    assert [r.result for r in done.tool_calls] == ["deleted a"]
    assert "deleted a" in "\n".join(m["content"] for m in model.requests[1].messages)


def test_reject_tells_the_model_why() -> None:
    model = ScriptedModel([calls(("delete_file", {"path": "a"})), "OK, I won't."])
    agent = Agent(model, tools=[delete_file])
    paused = agent.run("delete a")
    done = agent.resume(paused.state, reject={"c0": "that file is needed"})  # type: ignore[arg-type]
    assert LOG == [] and done.output == "OK, I won't."
    told = done.messages[-2]
    assert told.role == "tool" and told.is_error and "refused" in told.content
    assert "that file is needed" in told.content


def test_a_predicate_decides_on_the_validated_arguments() -> None:
    small = agent_for([calls(("pay", {"amount": "50", "to": "bob"})), "paid"]).run("pay")
    assert small.status == "completed" and LOG == ["paid 50 to bob"]
    big = agent_for([calls(("pay", {"amount": 500, "to": "eve"})), "paid"]).run("pay")
    assert big.status == "paused" and LOG == ["paid 50 to bob"]


def test_a_predicate_that_raises_fails_closed() -> None:
    def broken(args: Any, ctx: Any) -> bool:
        raise KeyError("oops")

    @tool(requires_approval=broken)
    def transfer(amount: int) -> str:
        """Transfer."""
        LOG.append("transferred")
        return "ok"

    result = Agent(ScriptedModel([calls(("transfer", {"amount": 1})), "no"]), tools=[transfer]).run(
        "go"
    )
    assert LOG == [] and result.status == "completed"
    assert "needs approval failed" in (result.tool_calls[0].error or "")


def test_invalid_arguments_are_a_failed_turn_not_an_approval_request() -> None:
    result = agent_for([calls(("delete_file", {})), "sorry"]).run("go")
    assert result.status == "completed" and result.usage.failed_turns == 1


def test_stream_yields_an_approval_request() -> None:
    import asyncio

    agent = agent_for([calls(("delete_file", {"path": "a"}))])

    async def main() -> list[Any]:
        return [e async for e in agent.stream("go")]

    events = asyncio.run(main())
    request = next(e for e in events if isinstance(e, ApprovalRequestEvent))
    assert [c.name for c in request.calls] == ["delete_file"]
    assert isinstance(events[-1], FinalEvent) and events[-1].result.status == "paused"


def test_state_round_trips_through_json_and_resumes_once() -> None:
    agent = agent_for([calls(("delete_file", {"path": "a"})), "done"])
    paused = agent.run("go")
    text = paused.state.to_json()  # type: ignore[union-attr]
    state = RunState.from_json(text)
    assert state.pending == paused.pending_calls and state.run_id == paused.run_id
    assert agent.resume(state, approve=["c0"]).output == "done"
    with pytest.raises(RunStateError, match="already resumed"):
        agent.resume(state, approve=["c0"])
    assert LOG == ["deleted a"]  # nothing ran twice


@pytest.mark.parametrize(
    ("approve", "reject", "match"),
    [
        (["nope"], {}, "no pending call"),
        (["c0"], {"c0": "x"}, "both approved and rejected"),
        ([], {}, "no decision"),
    ],
)
def test_decisions_must_match_the_pending_calls(
    approve: list[str], reject: dict[str, str], match: str
) -> None:
    agent = agent_for([calls(("delete_file", {"path": "a"})), "done"])
    paused = agent.run("go")
    with pytest.raises(RunStateError, match=match):
        agent.resume(paused.state, approve=approve, reject=reject)  # type: ignore[arg-type]
    assert LOG == []


def test_a_tampered_state_is_refused() -> None:
    agent = agent_for([calls(("delete_file", {"path": "a"})), "done"])
    doc = json.loads(agent.run("go").state.to_json())  # type: ignore[union-attr]
    doc["body"]["pending"][0]["arguments"]["path"] = "/etc/passwd"
    with pytest.raises(RunStateError, match="altered"):
        agent.resume(json.dumps(doc), approve=["c0"])
    for bad in ("not json", "{}", json.dumps({"agentkit_run_state": 99})):
        with pytest.raises(RunStateError):
            RunState.from_json(bad)
    assert LOG == []


def test_a_signed_state_needs_the_same_key() -> None:
    signer = agent_for([calls(("delete_file", {"path": "a"})), "done"], state_key="k1")
    text = signer.run("go").state.to_json()  # type: ignore[union-attr]
    other = agent_for(["done"], state_key="k2")
    with pytest.raises(RunStateError, match=r"altered|state_key"):
        other.resume(text, approve=["c0"])
    same = agent_for(["done"], state_key="k1")
    assert same.resume(text, approve=["c0"]).output == "done"


def test_a_state_from_another_agents_tools_is_refused() -> None:
    text = agent_for([calls(("delete_file", {"path": "a"}))]).run("go").state.to_json()  # type: ignore[union-attr]
    other = Agent(ScriptedModel(["done"]), tools=[lookup])
    with pytest.raises(RunStateError, match="other tools"):
        other.resume(text, approve=["c0"])


RESUMER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests!r})
    from agentkit import Agent, RunState
    from agentkit.models import ScriptedModel
    from test_approval import delete_file, pay, lookup, LOG
    agent = Agent(ScriptedModel(["All done."]), tools=[delete_file, pay, lookup])
    state = RunState.from_json(sys.stdin.read())
    result = agent.resume(state, approve=["c0"], reject={{"c1": "too much"}})
    print(json.dumps({{"output": result.output, "log": LOG,
                       "results": [r.content for r in result.tool_calls]}}))
    """
)


def test_a_paused_run_resumes_in_a_fresh_process(tmp_path: Path) -> None:
    reply = calls(("delete_file", {"path": "a"}), ("pay", {"amount": 900, "to": "eve"}))
    paused = agent_for([reply]).run("go")
    assert {c.id for c in paused.pending_calls} == {"c0", "c1"}
    script = tmp_path / "resume.py"
    script.write_text(RESUMER.format(tests=str(Path(__file__).parent)))
    out = subprocess.run(
        [sys.executable, str(script)],
        input=paused.state.to_json(),  # type: ignore[union-attr]
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(out.stdout)
    assert got["output"] == "All done." and got["log"] == ["deleted a"]
    assert got["results"][0] == "deleted a" and "too much" in got["results"][1]
    assert LOG == []  # nothing ran in this process


def test_resumed_requests_see_the_whole_transcript() -> None:
    seen: list[ModelRequest] = []

    def reply(request: ModelRequest) -> str:
        seen.append(request)
        return calls(("delete_file", {"path": "a"})) if len(seen) == 1 else "ok"

    agent = Agent(ScriptedModel(reply), tools=[delete_file])
    agent.resume(agent.run("go").state.to_json(), approve=["c0"])  # type: ignore[union-attr]
    assert [m.role for m in seen[1].transcript] == ["user", "assistant", "tool"]
