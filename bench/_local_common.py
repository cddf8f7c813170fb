"""bench/local.py: its settings, prompts and helpers."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from _revision import agentkit_revision

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "local.json"
SECTIONS = ("load", "speed", "grammar", "turns", "batch")
TARGETS = {"speed_ratio": 0.95, "grammar_overhead": 0.05, "prefill_reduction": 3.0, "load_s": 3.0}
BATCH_SIZES = (2, 4, 8)
BATCH_REQUESTS = [
    "Tell me a short story about a lighthouse keeper.",
    "Explain photosynthesis to a child.",
    "Write a poem about autumn rain in a city.",
    "Describe how a bicycle works, in detail.",
    "Give me three tips for learning to cook.",
    "Why is the sky blue? Explain simply.",
    "Write a letter to a friend about a trip to the mountains.",
    "What makes a good teacher?",
]

ESSAY = "Write a long, detailed story about a dragon who learns to bake bread in a small village."
CALL_REQUEST = "What is the weather in Paris in celsius? Also convert 250 US dollars to euros."
TEXT_REQUEST = "Tell me a short story about a lighthouse keeper and a lost cat."
CONVERSATION = [
    ("What's the weather like in Paris today?", "It is sunny and 21 degrees in Paris."),
    ("And in London?", "London is cloudy at 16 degrees, with light rain expected tonight."),
    ("Should I take an umbrella to London?", "Yes, take an umbrella: rain is likely tonight."),
    ("How much is 250 US dollars in euros?", "250 US dollars are about 231 euros today."),
    ("And in British pounds?", "250 US dollars are about 197 British pounds."),
    ("Thanks! Summarise what you told me in one sentence.", ""),
]


@dataclass(frozen=True)
class Settings:
    new_tokens: int
    repeats: int
    turn_tokens: int
    turn_repeats: int
    first_loads: int
    cached_loads: int


QUICK = Settings(
    new_tokens=32, repeats=3, turn_tokens=16, turn_repeats=2, first_loads=1, cached_loads=3
)
FULL = Settings(
    new_tokens=64, repeats=5, turn_tokens=32, turn_repeats=3, first_loads=2, cached_loads=5
)


# -- helpers --------------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def make_tools() -> list[Any]:
    from agentkit import tool

    @tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        """Current weather in a city: temperature, sky and wind.

        Args:
            city: the city name, e.g. "Paris".
            unit: the temperature unit.
        """
        return f"sunny, 21 degrees {unit} in {city}"

    @tool
    def convert_currency(amount: float, source: str, target: str) -> float:
        """Convert an amount of money between currencies at today's rate.

        Args:
            amount: the amount in the source currency.
            source: ISO 4217 code of the source currency, e.g. "USD".
            target: ISO 4217 code of the target currency, e.g. "EUR".
        """
        return round(amount * 0.92, 2)

    @tool
    def search_web(query: str, max_results: int = 3) -> list[str]:
        """Search the web and return the titles of the best pages.

        Args:
            query: what to search for.
            max_results: how many titles to return.
        """
        return [query] * max_results

    return [get_weather, convert_currency, search_web]


def request_for(
    model: Any,
    turns: Sequence[tuple[str, str]],
    tools: Sequence[Any],
    *,
    tool_choice: str = "auto",
    run_id: str = "",
) -> Any:
    """A `ModelRequest` as the agent loop builds it: (user, assistant) pairs, last reply empty."""
    from agentkit import Message
    from agentkit.models import ModelRequest

    transcript = []
    for user, assistant in turns:
        transcript.append(Message.user(user))
        if assistant:
            transcript.append(Message.assistant(assistant))
    return ModelRequest(
        messages=model.format.render(transcript, tools),
        transcript=transcript,
        tools=tools,
        format=model.format,
        tool_choice=tool_choice,
        run_id=run_id,
    )


def machine() -> dict[str, Any]:
    import torch
    import transformers

    return {
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "agentkit": agentkit_revision(),
        "note": "shared machine: other engineers' jobs ran alongside; medians of interleaved runs",
    }
