"""Human approval: a risky call pauses the run; its state is stored; a later process resumes it.

Run: `python -m examples.approval`.
"""

from __future__ import annotations

import json
from pathlib import Path
from tempfile import TemporaryDirectory

from agentkit import Agent, RunState, UsageLimits, tool
from agentkit.errors import UsageLimitExceeded
from agentkit.models import ScriptedModel


@tool(requires_approval=lambda args, ctx: args["amount"] > 100)
def refund(order: str, amount: int) -> str:
    """Refund an order (refunds above 100 need a person's approval)."""
    return f"refunded {amount} on {order}"


def call(name: str, **arguments: object) -> str:
    return json.dumps([{"id": f"call-{name}", "name": name, "arguments": arguments}])


def agent(replies: list[str]) -> Agent:
    return Agent(ScriptedModel(replies), tools=[refund], state_key="a secret from your vault")


# A request handler: the run pauses and its state goes to storage (a file, a database row).
with TemporaryDirectory() as tmp:
    stored = Path(tmp) / "paused.json"
    result = agent([call("refund", order="A-17", amount=250)]).run("Refund order A-17 in full")
    print(
        "status:",
        result.status,
        "| waiting:",
        [(c.name, c.arguments) for c in result.pending_calls],
    )
    assert result.state is not None
    stored.write_text(result.state.to_json())

    # Later, maybe in another process: a person approved; the run goes on from the stored state.
    state = RunState.from_json(stored.read_text())
    done = agent(["The refund of 250 is done."]).resume(state, approve=["call-refund"])
    print("status:", done.status, "| answer:", done.output)
    print("result the model saw:", done.messages[-2].content)


# Usage limits: a model that keeps calling is stopped before its third turn.
def again(request: object) -> str:
    return call("refund", order="B", amount=len(getattr(request, "transcript", ())))


looping = Agent(ScriptedModel(again), tools=[refund], max_steps=50)
try:
    looping.run("refund B", usage_limits=UsageLimits(model_turns=2))
except UsageLimitExceeded as exc:
    print("stopped:", exc, "| turns:", exc.usage.model_turns, "| calls:", exc.usage.tool_calls)
