"""Several users at once on one local model: batched decoding and a shared prompt prefix.

One `Agent` on the embedded default model serves three questions concurrently. Their replies
decode together (one forward pass per token for all of them). A run starts from the cached
prompt of an earlier run that began alike, so it prefills little more than its own question:
compare `prefilled` with `prompt` in each line. (The small default model is routed: its prompt
lists only the tool chosen for the question, so the weather questions share a prefix with the
earlier weather question, and the arithmetic one mostly does not.)
Run: `python -m examples.local_service` (from the repository root).
"""

from __future__ import annotations

import asyncio
import time

from agentkit import Agent, tool
from agentkit.models import TransformersModel
from tools.calculator import calculate


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return f"{city}: 19 °C and clear"


QUESTIONS = [
    "What's the weather like in Rome?",
    "Is it warm in Lima today?",
    "What is 12 * 34?",
]


async def main() -> None:
    model = TransformersModel.default(max_new_tokens=48)
    agent = Agent(model, tools=[get_weather, calculate], max_steps=3)
    await agent.run_async("What's the weather like in Oslo?")  # an earlier user: warms the prefix
    start = time.perf_counter()
    results = await asyncio.gather(*(agent.run_async(q) for q in QUESTIONS))
    print(f"{len(QUESTIONS)} users served together in {time.perf_counter() - start:.1f} s")
    for question, result in zip(QUESTIONS, results, strict=True):
        calls = ", ".join(f"{c.name}({c.arguments})" for c in result.tool_calls) or "no call"
        usage = result.usage
        print(f"- {question}\n  {calls} -> {result.output!r}")
        print(f"  prompt {usage.prompt_tokens} tokens, prefilled {usage.prefilled_tokens}")


if __name__ == "__main__":
    asyncio.run(main())
