"""Latency an isolated tool adds per call: worker thread against worker process.

The same trivial function (`add(a, b)`) is a plain sync tool (run on a worker thread) and an
`isolated=True` tool (run in a worker process, JSON both ways). Each is called through
`Tool.call`, as the run loop calls it, one call at a time and then 8 at once; the first call of
the isolated tool (which starts a worker process) is shown apart. A third row returns a 10,000
item list, to show what the JSON crossing costs for a larger result.

Usage:
    python bench/isolated.py            # 2,000 calls per row
    python bench/isolated.py --quick    # 300 calls per row
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from agentkit import RunContext, tool
from agentkit.tools import Tool

CONTEXT: RunContext[Any] = RunContext(deps=None)


def add_numbers(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def many_numbers(n: int) -> list[int]:
    """A list of n integers."""
    return list(range(n))


threaded_add = tool(name="add")(add_numbers)
isolated_add = tool(name="add", isolated=True)(add_numbers)
threaded_list = tool(name="numbers")(many_numbers)
isolated_list = tool(name="numbers", isolated=True)(many_numbers)


async def _one_by_one(made: Tool, arguments: dict[str, Any], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await made.call(arguments, CONTEXT)
        times.append(time.perf_counter() - start)
    return times


async def _eight_at_once(made: Tool, arguments: dict[str, Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls // 8):
        await asyncio.gather(*(made.call(arguments, CONTEXT) for _ in range(8)))
    return (time.perf_counter() - start) / (calls // 8 * 8)


async def _cold_start() -> float:
    start = time.perf_counter()
    await isolated_add.call({"a": 1, "b": 2}, CONTEXT)
    return time.perf_counter() - start


def _row(label: str, times: list[float], parallel: float) -> str:
    median = statistics.median(times) * 1e6
    p95 = sorted(times)[int(len(times) * 0.95)] * 1e6
    return f"| {label} | {median:,.0f} | {p95:,.0f} | {parallel * 1e6:,.0f} |"


async def main(calls: int) -> None:
    cold = await _cold_start()
    rows = []
    for label, made, arguments in (
        ("add: worker thread", threaded_add, {"a": 1, "b": 2}),
        ("add: worker process (isolated)", isolated_add, {"a": 1, "b": 2}),
        ("10,000-item list: worker thread", threaded_list, {"n": 10_000}),
        ("10,000-item list: worker process", isolated_list, {"n": 10_000}),
    ):
        await _one_by_one(made, arguments, 20)  # warm-up (the 8 processes start here)
        await _eight_at_once(made, arguments, 64)
        times = await _one_by_one(made, arguments, calls)
        parallel = await _eight_at_once(made, arguments, calls)
        rows.append(_row(label, times, parallel))
    print(f"first isolated call (starts a worker process): {cold * 1000:,.0f} ms\n")
    print("| tool call | median µs | p95 µs | µs per call, 8 at once |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 calls per row")
    args = parser.parse_args()
    from agentkit.tools import configure_workers

    configure_workers(max_processes=8)
    asyncio.run(main(300 if args.quick else 2000))
