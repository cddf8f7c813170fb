"""Embedding an agent in a service: one Agent for all users, concurrent runs, stored transcripts.

A callable ScriptedModel stands in for a real backend (swap in `OpenAICompatibleModel` or
`TransformersModel`). Each run keeps its own state; transcripts are JSON and continue later.
Run: `python -m examples.service`.
"""

from __future__ import annotations

import asyncio

from agentkit import Agent, Message, RunContext, tool
from agentkit.messages import transcript_adapter
from agentkit.models import ModelRequest, ScriptedModel

ORDERS = {"alice": ["book", "lamp"], "bob": ["bike"]}


@tool
def list_orders(ctx: RunContext[str]) -> list[str]:
    """List the current user's orders."""
    return ORDERS[ctx.deps]  # the user id comes from the service, never from the model


def fake_model(request: ModelRequest) -> str:
    last = request.messages[-1]
    if last.role == "tool":
        return f"You have ordered: {last.content}."
    if "orders" in last.content:
        return '[{"name": "list_orders", "arguments": {}}]'
    return "Anything else about your orders?"


agent = Agent(ScriptedModel(fake_model), tools=[list_orders])


async def main() -> None:
    users = ["alice", "bob"]
    results = await asyncio.gather(*(agent.run_async("My orders?", deps=u) for u in users))
    for user, result in zip(users, results, strict=True):
        print(f"{user}: {result.output}")

    stored = transcript_adapter().dump_json(results[0].messages)  # e.g. into a database
    history = transcript_adapter().validate_json(stored)
    follow_up = await agent.run_async([*history, Message.user("Thanks!")], deps="alice")
    print(f"alice, later: {follow_up.output} ({len(follow_up.messages)} messages)")


if __name__ == "__main__":
    asyncio.run(main())
