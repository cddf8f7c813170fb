"""A real agent on the embedded default model (SmolLM2-135M-Instruct, on the CPU).

The model answers a question by calling a tool; the call and the answer are printed. Ask it
about two cities (`python -m examples.quickstart "Weather in Paris and in London?"`) and it
makes one call per city: the router and call shaping plan the calls, the model fills them.
Run: `python -m examples.quickstart` (from the repository root).
"""

from __future__ import annotations

import logging
import sys
import time

from agentkit import Agent, tool
from agentkit.events import FinalEvent, ToolCallEvent, ToolResultEvent
from agentkit.models import TransformersModel
from tools.calculator import calculate


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    forecasts = {"paris": "18 °C and sunny", "london": "12 °C and raining"}
    return f"{city}: {forecasts.get(city.lower(), '20 °C and cloudy')}"


async def main(question: str) -> None:
    start = time.perf_counter()
    model = TransformersModel.default(max_new_tokens=64)
    print(f"loaded {model.name} in {time.perf_counter() - start:.1f} s")
    agent = Agent(model, tools=[get_weather, calculate], max_steps=4)
    print(f"user: {question}")
    async for event in agent.stream(question):
        if isinstance(event, ToolCallEvent):
            print(f"call: {event.name}({event.arguments})")
        elif isinstance(event, ToolResultEvent):
            print(f"result: {event.content if event.error is None else event.error}")
        elif isinstance(event, FinalEvent):
            print(f"answer: {event.result.output}")
            print(f"usage: {event.result.usage}")


if __name__ == "__main__":
    import asyncio

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    asyncio.run(main(" ".join(sys.argv[1:]) or "What's the weather like in Paris?"))
