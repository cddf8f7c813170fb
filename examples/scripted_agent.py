"""A scripted agent: ScriptedModel replays raw completions, so the run is deterministic.

Useful for tests of your own tools and for agents whose steps are known in advance. Shows
parallel calls, a malformed call being repaired by a retry, and the event stream.
Run: `python -m examples.scripted_agent`.
"""

from __future__ import annotations

import asyncio

from agentkit import Agent
from agentkit.events import RetryEvent, TextDelta, ToolCallEvent, ToolResultEvent
from agentkit.models import ScriptedModel
from tools.calculator import calculate
from tools.clock import days_between

SCRIPT = [
    # Two calls in one reply: they run concurrently.
    '[{"name": "calculate", "arguments": {"expression": "17 * 23"}}, '
    '{"name": "days_between", "arguments": {"start": "2025-01-01", "end": "2025-03-01"}}]',
    # A malformed call (a wrong argument name): the model is told precisely what was wrong.
    '[{"name": "calculate", "arguments": {"expr": "2 ** 10"}}]',
    "```json\n[{'name': 'calculate', 'arguments': {'expression': '2 ** 10'},}]\n```",
    "17 * 23 = 391, there are 59 days from January 1 to March 1, and 2 ** 10 = 1024.",
]


async def main() -> None:
    agent = Agent(ScriptedModel(SCRIPT), tools=[calculate, days_between])
    async for event in agent.stream("Three quick questions..."):
        if isinstance(event, ToolCallEvent):
            print(f"call    {event.name}{event.arguments}")
        elif isinstance(event, ToolResultEvent):
            print(f"result  {event.name} -> {event.content}")
        elif isinstance(event, RetryEvent):
            print(f"retry   {event.error.message}")
        elif not isinstance(event, TextDelta):
            result = event.result
            print(f"answer  {result.output}")
            print(f"usage   {result.usage.model_turns} turns, {result.usage.failed_turns} failed")


if __name__ == "__main__":
    asyncio.run(main())
