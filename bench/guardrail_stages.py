"""Latency an input guardrail adds to a run: checked before the model, or beside it.

The guardrail and the model each take a realistic time: a scripted model that waits before it
streams its reply (a server's time to first token), and a guardrail that waits as a classifier
or a judge would. Blocking mode (`run_in_parallel=False`) pays both one after the other;
parallel mode overlaps the check with the first model turn (whose calls wait for the verdict).
With `--local` the default local model answers instead (its own time, the guardrail's beside).

Usage:
    python bench/guardrail_stages.py                 # scripted model, 3 delays
    python bench/guardrail_stages.py --local         # also the default local model
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator

from agentkit import Agent
from agentkit.formats import StableLMFormat
from agentkit.guardrails import GuardrailContext, PIIGuardrail, Verdict, guardrail
from agentkit.models import Model, ModelRequest, ModelResponse


class DelayedModel(Model):
    """Waits `delay` seconds (time to first token), then streams a short answer."""

    def __init__(self, delay: float) -> None:
        self.format = StableLMFormat()
        self.delay = delay

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        await asyncio.sleep(self.delay)
        yield "Fine, thanks."
        yield ModelResponse(text="Fine, thanks.", finish_reason="stop")


def slow_check(delay: float) -> object:
    @guardrail
    async def classifier(text: str, context: GuardrailContext) -> Verdict:
        await asyncio.sleep(delay)  # a classifier or a judge on another machine
        return Verdict.allow()

    return classifier


async def timed(agent: Agent, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await agent.run_async("How are you today?")
        out.append(time.perf_counter() - start)
    return out


def scripted(runs: int) -> None:
    print("| model delay | guardrail delay | blocking (ms) | parallel (ms) | saved |")
    print("|---:|---:|---:|---:|---:|")
    for model_delay, check_delay in ((0.3, 0.05), (0.3, 0.2), (0.1, 0.3)):
        rails = [slow_check(check_delay), PIIGuardrail()]
        medians = []
        for parallel in (False, True):
            agent = Agent(
                DelayedModel(model_delay), input_guardrails=rails, run_in_parallel=parallel
            )
            medians.append(statistics.median(asyncio.run(timed(agent, runs))) * 1000)
        saved = medians[0] - medians[1]
        print(
            f"| {model_delay * 1000:.0f} ms | {check_delay * 1000:.0f} ms | {medians[0]:.0f} | "
            f"{medians[1]:.0f} | {saved:.0f} ms |"
        )


def local(runs: int, check_delay: float) -> None:
    from agentkit.models import TransformersModel

    model = TransformersModel.default()
    rails = [slow_check(check_delay), PIIGuardrail()]
    medians = []
    for parallel in (False, True):
        agent = Agent(model, input_guardrails=rails, run_in_parallel=parallel)
        asyncio.run(timed(agent, 1))  # warm-up: compile, cache the prompt's beginning
        medians.append(statistics.median(asyncio.run(timed(agent, runs))) * 1000)
    print(
        f"\ndefault local model, guardrail {check_delay * 1000:.0f} ms: blocking "
        f"{medians[0]:.0f} ms, parallel {medians[1]:.0f} ms, saved {medians[0] - medians[1]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--local", action="store_true", help="also the default local model")
    args = parser.parse_args()
    scripted(args.runs)
    if args.local:
        local(max(3, args.runs // 3), 0.2)


if __name__ == "__main__":
    main()
