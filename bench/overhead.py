"""Framework overhead per agent step, and import time, against three agent frameworks.

Every framework runs the same 10-step script with a scripted model (no LLM): nine calls of a
trivial `add(a, b)` tool, then a final answer. What is timed is therefore only the framework's
own work per step: render/bookkeep the transcript, parse or accept the calls, validate the
arguments, dispatch the tool, record the result. Setup (building agents, tools and scripted
models) is outside the timed region.

Anchors, each skipped with "not installed" when missing (so this also runs in agentkit's own
environment): smolagents (`ToolCallingAgent`, logging off), pydantic-ai (`FunctionModel`) and
openai-agents (`agents.testing.ScriptedModel`, tracing off; plus a minimal fake `Model` that
skips the test double's deep copies, as a lower bound for that framework).

Import time: `import X` in a fresh interpreter, the median over several runs, minus the median of
a bare interpreter start; `-X importtime`'s cumulative figure for the top package is shown too.

Usage:
    python bench/overhead.py                 # full run (3 to 4 minutes on 2 busy cores)
    python bench/overhead.py --quick         # fewer repetitions
    python bench/overhead.py --json out.json # also write the figures as JSON
    python bench/overhead.py --profile       # cProfile of agentkit's runs: where the time goes

Frameworks compared here are benchmark-only requirements (bench/requirements.txt); they are never
agentkit dependencies.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
N_CALLS = 9  # tool-call steps; the 10th step is the final answer
N_STEPS = N_CALLS + 1
PROMPT = "Add up the pairs, one call at a time, then say you are done."
FINAL = "All pairs added."


def call_args(step: int) -> dict[str, int]:
    """Distinct arguments per step (agentkit refuses a call repeated a third time)."""
    return {"a": step, "b": step + 1}


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first addend.
        b: the second addend.
    """
    return a + b


@dataclass
class Bench:
    """One framework's timed run: `prepare` (untimed) then `run` (timed, sync or async)."""

    name: str
    run: Callable[[], Any]
    is_async: bool
    check: Callable[[Any], None]
    prepare: Callable[[], None] = lambda: None
    note: str = ""
    anchor: bool = True
    times: list[float] = field(default_factory=list)  # wall seconds per run
    cpu_times: list[float] = field(default_factory=list)  # process CPU seconds per run


# -- agentkit ------------------------------------------------------------------------------------
def agentkit_benches() -> list[Bench]:
    from agentkit import Agent, tool
    from agentkit.models import ScriptedModel

    script = [json.dumps([{"name": "add", "arguments": call_args(i)}]) for i in range(N_CALLS)]
    script.append(FINAL)
    # A callable reply serves any number of runs: the request says which step it is.
    model = ScriptedModel(lambda request: script[request.step])
    agent = Agent(model, tools=[tool(add)], max_steps=20)
    # `inline=True` declares a fast, non-blocking function: it runs on the loop, no thread
    # hand-off (smolagents runs every tool inline; agentkit's default is a worker thread).
    inline_agent = Agent(model, tools=[tool(inline=True)(add)], max_steps=20)

    def check(result: Any) -> None:
        assert result.output == FINAL, result.output
        assert [r.result for r in result.tool_calls] == [2 * i + 1 for i in range(N_CALLS)]

    def forget_requests() -> None:
        model.requests.clear()  # the model records every request; keep memory flat

    return [
        Bench("agentkit", lambda: agent.run_async(PROMPT), True, check, forget_requests,
              note="run_async", anchor=False),
        Bench("agentkit (sync run)", lambda: agent.run(PROMPT), False, check, forget_requests,
              note="run(): + asyncio.run per call", anchor=False),
        Bench("agentkit (inline tool)", lambda: inline_agent.run_async(PROMPT), True, check,
              forget_requests, note="run_async, @tool(inline=True)", anchor=False),
    ]  # fmt: skip


# -- smolagents ----------------------------------------------------------------------------------
def smolagents_benches() -> list[Bench]:
    from smolagents import ToolCallingAgent, tool
    from smolagents.models import (
        ChatMessage,
        ChatMessageToolCall,
        ChatMessageToolCallFunction,
        MessageRole,
        Model,
    )
    from smolagents.monitoring import LogLevel

    class Scripted(Model):
        """Returns native tool calls (no text parsing), one script line per call."""

        def __init__(self) -> None:
            super().__init__(model_id="scripted")
            self.step = 0

        def generate(self, messages: Any, **kwargs: Any) -> ChatMessage:
            step, self.step = self.step, self.step + 1
            if step < N_CALLS:
                name, arguments = "add", call_args(step)
            else:
                name, arguments = "final_answer", {"answer": FINAL}
            call = ChatMessageToolCall(
                function=ChatMessageToolCallFunction(name=name, arguments=arguments),
                id=f"call_{step}",
                type="function",
            )
            return ChatMessage(role=MessageRole.ASSISTANT, content=None, tool_calls=[call])

    model = Scripted()
    agent = ToolCallingAgent(
        tools=[tool(add)], model=model, max_steps=20, verbosity_level=LogLevel.OFF
    )

    def reset() -> None:
        model.step = 0

    def check(output: Any) -> None:
        assert output == FINAL, output
        assert model.step == N_STEPS

    note = "ToolCallingAgent, LogLevel.OFF"
    if not installed("torch"):
        # smolagents tries `import torch` on every non-string tool result; without torch each
        # try is a failed import (a sys.path search), so this figure is not its fastest.
        note += "; no torch: a failed import per call"
    return [Bench("smolagents", lambda: agent.run(PROMPT), False, check, reset, note=note)]


# -- pydantic-ai ---------------------------------------------------------------------------------
def pydantic_ai_benches() -> list[Bench]:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def reply(messages: list[Any], info: AgentInfo) -> ModelResponse:
        step = sum(isinstance(m, ModelResponse) for m in messages)
        if step < N_CALLS:
            part = ToolCallPart("add", call_args(step), tool_call_id=f"call_{step}")
            return ModelResponse(parts=[part])
        return ModelResponse(parts=[TextPart(FINAL)])

    agent = Agent(FunctionModel(reply), tools=[add])

    def check(result: Any) -> None:
        assert result.output == FINAL, result.output

    return [Bench("pydantic-ai", lambda: agent.run(PROMPT), True, check, note="FunctionModel")]


# -- openai-agents -------------------------------------------------------------------------------
def _openai_agents_outputs() -> list[list[Any]]:
    """The script as Responses-API output items (what an openai-agents `Model` returns)."""
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    outputs: list[list[Any]] = [
        [ResponseFunctionToolCall(id=f"call_{i}", call_id=f"call_{i}", type="function_call",
                                  name="add", arguments=json.dumps(call_args(i)))]
        for i in range(N_CALLS)
    ]  # fmt: skip
    text = ResponseOutputText(text=FINAL, type="output_text", annotations=[], logprobs=[])
    outputs.append(
        [ResponseOutputMessage(id="msg", type="message", role="assistant", status="completed",
                               content=[text])]
    )  # fmt: skip
    return outputs


def openai_agents_benches() -> list[Bench]:
    from agents import Agent, ModelResponse, RunConfig, Runner, function_tool, set_tracing_disabled
    from agents import Model as AgentsModel
    from agents.usage import Usage

    set_tracing_disabled(True)
    config = RunConfig(tracing_disabled=True)
    outputs = _openai_agents_outputs()
    tools = [function_tool(add)]

    class MinimalModel(AgentsModel):
        """The least a Model must do: hand back the next scripted output."""

        def __init__(self) -> None:
            self.step = 0

        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            step, self.step = self.step, self.step + 1
            return ModelResponse(output=outputs[step], usage=Usage(requests=1), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    def check(result: Any) -> None:
        assert result.final_output == FINAL, result.final_output

    def bench(name: str, agent: Any, prepare: Callable[[], None], note: str) -> Bench:
        def run() -> Awaitable[Any]:
            return Runner.run(agent, PROMPT, max_turns=20, run_config=config)

        return Bench(name, run, True, check, prepare, note=note)

    benches = []
    if installed("agents.testing"):  # the public test model (newer releases)
        from agents.testing import ScriptedModel

        scripted_agent = Agent(name="bench", tools=tools)

        def fresh_script() -> None:  # its steps are used up, so one model per run (untimed)
            scripted_agent.model = ScriptedModel(outputs)

        benches.append(bench("openai-agents", scripted_agent, fresh_script,
                             "testing.ScriptedModel, tracing off"))  # fmt: skip
    minimal = MinimalModel()

    def reset() -> None:
        minimal.step = 0

    benches.append(bench("openai-agents (minimal Model)", Agent(name="bench", tools=tools,
                         model=minimal), reset, "no test-double copies, tracing off"))  # fmt: skip
    return benches


FRAMEWORKS: list[tuple[str, str, Callable[[], list[Bench]]]] = [
    # (display name, import name, factory)
    ("agentkit", "agentkit", agentkit_benches),
    ("smolagents", "smolagents", smolagents_benches),
    ("pydantic-ai", "pydantic_ai", pydantic_ai_benches),
    ("openai-agents", "agents", openai_agents_benches),
]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# -- timing --------------------------------------------------------------------------------------
def time_block(bench: Bench, runs: int, loop: asyncio.AbstractEventLoop, keep: bool) -> None:
    """Time `runs` runs one by one; async runs share one event loop, as in a service.

    Wall time is the figure; process CPU time (all threads) is kept too, as it is less disturbed
    by other processes on a busy machine (but it misses time spent waiting for a thread hand-off).
    """
    wall, cpu = time.perf_counter, time.process_time

    def record(start: float, start_cpu: float, result: Any) -> None:
        elapsed, elapsed_cpu = wall() - start, cpu() - start_cpu
        bench.check(result)
        if keep:
            bench.times.append(elapsed)
            bench.cpu_times.append(elapsed_cpu)

    gc.collect()
    if bench.is_async:

        async def block() -> None:
            for _ in range(runs):
                bench.prepare()
                start, start_cpu = wall(), cpu()
                result = await bench.run()
                record(start, start_cpu, result)

        loop.run_until_complete(block())
        return
    for _ in range(runs):
        bench.prepare()
        start, start_cpu = wall(), cpu()
        result = bench.run()
        record(start, start_cpu, result)


def measure_steps(benches: list[Bench], runs: int, rounds: int, warmup: int) -> None:
    """Round-robin blocks so that drift in the machine's speed hits every framework alike."""
    loop = asyncio.new_event_loop()
    try:
        for bench in benches:
            time_block(bench, warmup, loop, keep=False)
        per_block = max(1, runs // rounds)
        for _ in range(rounds):
            for bench in benches:
                time_block(bench, per_block, loop, keep=True)
    finally:
        # agentkit's run_async leaves its event generator to the loop's finaliser; let it finish.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def us_per_step(times: list[float], stat: Callable[[list[float]], float]) -> float:
    return stat(times) / N_STEPS * 1e6


# -- import time ---------------------------------------------------------------------------------
_IMPORTTIME = re.compile(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s*(\S+)\s*$")


def _one_import(code: str) -> tuple[float, float | None, str]:
    """Wall seconds of a fresh interpreter running `code`, and -X importtime's figure.

    Two processes: the wall time is taken without -X importtime, whose logging costs time.
    """
    start = time.perf_counter()
    plain = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=False)
    wall = time.perf_counter() - start
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    cumulative = None
    module = code.removeprefix("import ").strip()
    for line in proc.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m and m.group(2) == module:
            cumulative = int(m.group(1)) / 1e6
    return wall, cumulative, proc.stderr if proc.returncode or plain.returncode else ""


def measure_imports(modules: list[tuple[str, str]], repeats: int) -> dict[str, dict[str, Any]]:
    """Median over `repeats` fresh processes per module, interleaved, after one warm-up each."""
    codes = {"(bare interpreter)": "pass"} | {name: f"import {mod}" for name, mod in modules}
    walls: dict[str, list[float]] = {n: [] for n in codes}
    cumul: dict[str, list[float]] = {n: [] for n in codes}
    for code in codes.values():  # warm the file cache and the .pyc files
        _, _, err = _one_import(code)
        if err:
            raise RuntimeError(f"{code!r} failed:\n{err[-2000:]}")
    for _ in range(repeats):
        for name, code in codes.items():
            wall, cumulative, _ = _one_import(code)
            walls[name].append(wall)
            if cumulative is not None:
                cumul[name].append(cumulative)
    bare = statistics.median(walls["(bare interpreter)"])
    out = {}
    for name in codes:
        if name == "(bare interpreter)":
            continue
        out[name] = {
            "seconds": statistics.median(walls[name]) - bare,
            "importtime_seconds": statistics.median(cumul[name]) if cumul[name] else None,
        }
    out["(bare interpreter)"] = {"seconds": bare, "importtime_seconds": None}
    return out


# -- report --------------------------------------------------------------------------------------
def machine_note() -> str:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"Python {platform.python_version()}, {os.cpu_count()} CPUs ({cpu}), {platform.system()}"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("agentkit", "smolagents", "pydantic-ai-slim", "pydantic-ai", "openai-agents",
                 "pydantic"):  # fmt: skip
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    )  # the commit agentkit was measured at
    if git.returncode == 0 and "agentkit" in out:
        out["agentkit"] += f" ({git.stdout.strip()})"
    return out


def report_steps(benches: list[Bench]) -> dict[str, Any]:
    print("µs per step (wall: best and median run; cpu: median run's process CPU time)")
    head = f"{'framework':<31}{'best':>8}{'median':>8}{'cpu':>8}{'runs':>6}   note"
    print(head)
    print("-" * len(head))
    rows: dict[str, dict[str, Any]] = {}
    for b in benches:
        best, med = us_per_step(b.times, min), us_per_step(b.times, statistics.median)
        cpu = us_per_step(b.cpu_times, statistics.median)
        rows[b.name] = {"best_us_per_step": best, "median_us_per_step": med,
                        "cpu_us_per_step": cpu, "runs": len(b.times), "anchor": b.anchor,
                        "note": b.note}  # fmt: skip
        print(f"{b.name:<31}{best:>8.1f}{med:>8.1f}{cpu:>8.1f}{len(b.times):>6}   {b.note}")
    anchors = {k: v for k, v in rows.items() if v["anchor"]}
    for variant in ("agentkit", "agentkit (inline tool)"):
        ours = rows.get(variant)
        if ours and anchors:
            report_ratios(variant, ours, anchors)
    return rows


def report_ratios(variant: str, ours: dict[str, Any], anchors: dict[str, dict[str, Any]]) -> None:
    """Print one agentkit variant's ratios to each anchor and the verdict on the 1/5 target."""
    stats = ("best", "median", "cpu")
    print(f"\n{'ratio ' + variant + ' / anchor':<39}" + "".join(f"{s:>8}" for s in stats))
    for name, row in anchors.items():
        ratios = [ours[f"{s}_us_per_step"] / row[f"{s}_us_per_step"] for s in stats]
        ours.update({f"ratio_{s}_to_{name}": r for s, r in zip(stats, ratios, strict=True)})
        print(f"{variant} / {name:<20}"[:39].ljust(39) + "".join(f"{r:>8.3f}" for r in ratios))
    for stat in stats:
        key = f"{stat}_us_per_step"
        fastest = min(anchors, key=lambda k: anchors[k][key])
        ratio = ours[key] / anchors[fastest][key]
        verdict = "met" if ratio <= 0.2 else "NOT met"
        print(f"target {variant} <= 1/5 of the fastest anchor, by {stat}: {fastest}, "
              f"ratio {ratio:.3f} = 1/{1 / ratio:.1f}: {verdict}")  # fmt: skip


def report_imports(imports: dict[str, dict[str, Any]]) -> None:
    bare = imports.pop("(bare interpreter)")["seconds"]
    print(f"{'import':<31}{'fresh process s':>15}{'-X importtime s':>16}"
          f"   (bare interpreter {bare:.3f} s subtracted)")  # fmt: skip
    for name, row in imports.items():
        cum = row["importtime_seconds"]
        cum_text = f"{cum:16.3f}" if cum is not None else f"{'-':>16}"
        print(f"{name:<31}{row['seconds']:>15.3f}{cum_text}")
    imports["(bare interpreter)"] = {"seconds": bare, "importtime_seconds": None}
    anchors = {
        k: v["seconds"] for k, v in imports.items() if k not in ("agentkit", "(bare interpreter)")
    }
    if "agentkit" in imports and anchors:
        lightest = min(anchors, key=anchors.__getitem__)
        ratio = imports["agentkit"]["seconds"] / anchors[lightest]
        verdict = "met" if ratio < 0.5 else "NOT met"
        print(f"\nagentkit / {lightest} (lightest anchor) {ratio:.3f}; "
              f"target < 1/2: {verdict}")  # fmt: skip


def profile_agentkit(runs: int) -> None:
    """Where agentkit's time goes: cProfile over `runs` runs, agentkit's own functions first."""
    import cProfile
    import pstats

    bench = agentkit_benches()[0]
    loop = asyncio.new_event_loop()
    time_block(bench, 20, loop, keep=False)
    profiler = cProfile.Profile()
    profiler.enable()
    time_block(bench, runs, loop, keep=False)
    profiler.disable()
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    stats = pstats.Stats(profiler)
    print(f"cProfile of {runs} agentkit runs ({runs * N_STEPS} steps); times include the profiler")
    stats.sort_stats("cumulative").print_stats(r"agentkit[/\\]", 25)
    stats.sort_stats("tottime").print_stats(20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="timed runs per framework")
    parser.add_argument("--rounds", type=int, default=6, help="round-robin blocks")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs per framework")
    parser.add_argument("--import-repeats", type=int, default=9, help="fresh processes per module")
    parser.add_argument("--quick", action="store_true", help="60 runs, 3 import repeats")
    parser.add_argument("--skip-import", action="store_true", help="only the per-step figures")
    parser.add_argument("--skip-steps", action="store_true", help="only the import figures")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", action="store_true", help="cProfile agentkit's run instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.rounds, args.warmup, args.import_repeats = 60, 3, 5, 3

    print(f"machine: {machine_note()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"script: {N_CALLS} calls of add(a, b), then a final answer = {N_STEPS} steps per run\n")

    present = [(name, module, factory) for name, module, factory in FRAMEWORKS if installed(module)]
    for name, module, _ in FRAMEWORKS:
        if not installed(module):
            print(f"{name}: not installed, skipped")
    if not present or present[0][0] != "agentkit":
        print("agentkit is not importable: run from the repository root or install it")
        return 1
    if args.profile:
        profile_agentkit(args.runs)
        return 0
    figures: dict[str, Any] = {"machine": machine_note(), "versions": versions()}
    if not args.skip_steps:
        benches = [bench for _, _, factory in present for bench in factory()]
        measure_steps(benches, args.runs, args.rounds, args.warmup)
        print()
        figures["steps"] = report_steps(benches)
    if not args.skip_import:
        print()
        imports = measure_imports([(n, m) for n, m, _ in present], args.import_repeats)
        report_imports(imports)
        figures["imports"] = imports
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
