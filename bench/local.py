"""Local-model performance of agentkit on the embedded default model (SmolLM2-135M-Instruct).

Five measurements, four of them against a target of issue 3:

1. speed: decoding through agentkit (`TransformersModel.generate`, unconstrained, greedy) against
   transformers' own `model.generate` on the same weights, prompt and number of new tokens
   (`min_new_tokens = max_new_tokens =` what agentkit generated), as tokens/s, prefill included.
   Two prompts: a bare user message and an agent prompt (the function list in the system prompt).
   Target: ratio >= 0.95.
2. grammar: constrained against unconstrained time per generated token on the same request, with
   the prompt already in the run's KV cache (so nearly pure decoding), plus the grammar's own work
   per token (mask computation and application, token consumption) timed alone by replaying the
   constrained reply through a fresh matcher, and the grammar's compile time. Target: <= 5 %.
3. turns: a scripted six-turn conversation (one run id, the transcript growing each turn, the
   function list in the system prompt): prompt tokens prefilled and wall time with KV-cache reuse
   against `cache_sessions=0`. Target: >= 3x fewer tokens prefilled. Also the first turns of
   six new runs of one agent, starting from a recent prompt's cache (`share_prefixes`) or not.
4. load: `TransformersModel.default()` in a fresh interpreter, first (GGUF conversion into an
   empty temporary `AGENTKIT_CACHE`) and cached; the load call alone (torch, transformers,
   agentkit and transformers' lazily imported Llama modules already imported) and including all
   those imports. Target: cached <= 3 s.
5. batch: 2, 4 and 8 runs generating at once (a thread each, the agent prompt, different
   requests), one reply at a time (`batch_size=1`) against decoding together: wall time, mean
   latency, and whether the replies are identical; cold (every prompt prefilled whole) and warm
   (the prompt's beginning cached by an earlier run, as in a running service).

Every timing is repeated and the median kept; the agentkit and reference runs are interleaved so
that load from other processes hits both alike, and ratios are medians of adjacent pairs. Torch
runs on `--threads` threads (default 1: on a shared machine two OpenMP threads fighting other
processes for two cores ran 3-5x slower).

Usage:
    python bench/local.py --quick            # about 10 minutes on a loaded 2-core machine
    python bench/local.py                    # more tokens and repeats
    python bench/local.py --only speed,load  # some sections
    python bench/local.py --profile          # also cProfile agentkit's token loop

Writes bench/results/local.json (or `--json PATH`). The grammar section reaches into agentkit's
private token loop (`agentkit.models._decode`) on purpose, to time exactly the work it does.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
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


# -- 1. speed -------------------------------------------------------------------------------------
def raw_generate(model: Any, prompt: list[int], n: int) -> tuple[float, list[int]]:
    import torch

    ids = torch.tensor([prompt])
    seconds, out = timed(
        lambda: model.hf_model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=model.tokenizer.eos_token_id,
        )
    )
    return seconds, out[0, len(prompt) :].tolist()


def bench_speed(settings: Settings) -> list[dict[str, Any]]:
    from agentkit.models import TransformersModel

    model = TransformersModel.default(
        constrained=False, router=None, max_new_tokens=settings.new_tokens, share_prefixes=False
    )
    tools = make_tools()
    rows = []
    for name, request in (
        ("user message", request_for(model, [(ESSAY, "")], [])),
        ("agent prompt", request_for(model, [(ESSAY, "")], tools)),
    ):
        prompt = model.prompt_ids(request)
        gen = model.generate(request)  # warm-up, and the token count both sides generate
        n = gen.completion_tokens
        raw_generate(model, prompt, n)
        ours, theirs, same = [], [], True
        for _ in range(settings.repeats):
            seconds, gen = timed(lambda r=request: model.generate(r))
            ours.append(seconds)
            seconds, tokens = raw_generate(model, prompt, n)
            theirs.append(seconds)
            same = same and tokens == gen.token_ids
        rows.append(
            {
                "prompt": name,
                "prompt_tokens": len(prompt),
                "new_tokens": n,
                "agentkit_tokens_per_s": n / median(ours),
                "transformers_tokens_per_s": n / median(theirs),
                "ratio": median([t / o for t, o in zip(theirs, ours, strict=True)]),
                "agentkit_s": ours,
                "transformers_s": theirs,
                "same_tokens": same,
            }
        )
    return rows


# -- 2. grammar -----------------------------------------------------------------------------------
def grammar_work(model: Any, request: Any, tokens: list[int]) -> dict[str, float]:
    """Replay a constrained reply through a fresh matcher: compile time and work per token."""
    import torch

    from agentkit.models import _decode

    compile_s, matcher = timed(lambda: model._matcher(request))
    masker = _decode._Masker(matcher, len(model.tokenizer))
    logits = torch.zeros(len(model.tokenizer))
    spent = 0.0
    for token in tokens:
        start = time.perf_counter()
        masker.apply(logits)
        matcher.consume_token(token)
        spent += time.perf_counter() - start
    return {"compile_ms": compile_s * 1e3, "ms_per_token": spent * 1e3 / max(len(tokens), 1)}


def per_token(model: Any, request: Any) -> tuple[float, Any]:
    """Seconds per generated token; the run's KV cache already holds the prompt."""
    seconds, gen = timed(lambda: model.generate(request))
    assert gen.prefilled_tokens <= 1, gen.prefilled_tokens
    return seconds / max(gen.completion_tokens, 1), gen


def bench_grammar(settings: Settings) -> list[dict[str, Any]]:
    from agentkit.models import TransformersModel

    cap = settings.new_tokens * 2
    constrained = TransformersModel.default(constrained=True, router=None, max_new_tokens=cap)
    free = TransformersModel.default(constrained=False, router=None, max_new_tokens=cap)
    tools = make_tools()
    rows = []
    for case, text, choice in (("call", CALL_REQUEST, "required"), ("text", TEXT_REQUEST, "none")):
        c_req = request_for(constrained, [(text, "")], tools, tool_choice=choice, run_id=case)
        u_req = request_for(free, [(text, "")], tools, tool_choice=choice, run_id=case)
        c_gen = constrained.generate(c_req)  # also fills the run's KV cache
        # the same length both sides
        free.settings = free.settings.replace(max_new_tokens=min(cap, c_gen.completion_tokens))
        free.generate(u_req)
        c_times, u_times = [], []
        for _ in range(settings.repeats):
            seconds, c_gen = per_token(constrained, c_req)
            c_times.append(seconds)
            seconds, u_gen = per_token(free, u_req)
            u_times.append(seconds)
        work = grammar_work(constrained, c_req, c_gen.token_ids)
        rows.append(
            {
                "case": f"{case} (tool_choice={choice!r})",
                "constrained_tokens": c_gen.completion_tokens,
                "unconstrained_tokens": u_gen.completion_tokens,
                "constrained_ms_per_token": median(c_times) * 1e3,
                "unconstrained_ms_per_token": median(u_times) * 1e3,
                "overhead": median([c / u for c, u in zip(c_times, u_times, strict=True)]) - 1,
                "grammar_ms_per_token": work["ms_per_token"],
                "grammar_share": work["ms_per_token"] / (median(u_times) * 1e3),
                "grammar_compile_ms": work["compile_ms"],
                "constrained_text": c_gen.text,
                "unconstrained_text": u_gen.text,
            }
        )
    return rows


# -- 3. turns -------------------------------------------------------------------------------------
def conversation(model: Any, tools: Sequence[Any], run_id: str) -> dict[str, Any]:
    turns, texts = [], []
    for i in range(len(CONVERSATION)):
        request = request_for(model, CONVERSATION[: i + 1], tools, run_id=run_id)
        seconds, gen = timed(lambda r=request: model.generate(r))
        turns.append((gen.prompt_tokens, gen.prefilled_tokens, seconds))
        texts.append(gen.text)
    model.release(run_id)
    return {
        "prompt_tokens": [t[0] for t in turns],
        "prefilled_tokens": [t[1] for t in turns],
        "seconds": [t[2] for t in turns],
        "texts": texts,
    }


def bench_turns(settings: Settings) -> dict[str, Any]:
    from agentkit.models import TransformersModel

    kwargs: dict[str, Any] = {
        "constrained": False,
        "router": None,
        "max_new_tokens": settings.turn_tokens,
        "share_prefixes": False,  # reuse within a run only; across runs: `new_runs` below
    }
    cached = TransformersModel.default(cache_sessions=8, **kwargs)
    uncached = TransformersModel.default(cache_sessions=0, **kwargs)
    tools = make_tools()
    conversation(cached, tools, "warm-up")
    runs: dict[str, list[dict[str, Any]]] = {"reuse": [], "no_reuse": []}
    for rep in range(settings.turn_repeats):
        runs["reuse"].append(conversation(cached, tools, f"conversation-{rep}"))
        runs["no_reuse"].append(conversation(uncached, tools, f"conversation-{rep}"))
    out: dict[str, Any] = {"turns": len(CONVERSATION), "max_new_tokens": settings.turn_tokens}
    for name, reps in runs.items():
        out[name] = {
            "prompt_tokens": reps[0]["prompt_tokens"],
            "prefilled_tokens": reps[0]["prefilled_tokens"],
            "prefilled_total": sum(reps[0]["prefilled_tokens"]),
            "wall_s": median([sum(r["seconds"]) for r in reps]),
            "wall_s_runs": [sum(r["seconds"]) for r in reps],
        }
    out["prefill_reduction"] = out["no_reuse"]["prefilled_total"] / out["reuse"]["prefilled_total"]
    out["speedup"] = out["no_reuse"]["wall_s"] / out["reuse"]["wall_s"]
    out["same_replies"] = runs["reuse"][0]["texts"] == runs["no_reuse"][0]["texts"]
    out["new_runs"] = new_runs(settings)
    return out


def new_runs(settings: Settings) -> dict[str, Any]:
    """First turns of new runs of one agent, with and without a shared prompt prefix."""
    from agentkit.models import TransformersModel

    kwargs: dict[str, Any] = {
        "constrained": False,
        "router": None,
        "max_new_tokens": settings.turn_tokens,
    }
    shared = TransformersModel.default(share_prefixes=True, **kwargs)
    alone = TransformersModel.default(share_prefixes=False, **kwargs)
    tools = make_tools()
    shared.generate(request_for(shared, [(ESSAY, "")], tools))  # a run before these ones
    out: dict[str, Any] = {"runs": len(CONVERSATION)}
    texts: dict[str, list[str]] = {}
    for name, model in (("shared", shared), ("alone", alone)):
        prefilled, prompt, seconds, texts[name] = [], [], [], []
        for user, _ in CONVERSATION:
            request = request_for(model, [(user, "")], tools)
            took, gen = timed(lambda r=request, m=model: m.generate(r))
            prefilled.append(gen.prefilled_tokens)
            prompt.append(gen.prompt_tokens)
            seconds.append(took)
            texts[name].append(gen.text)
        out[name] = {
            "prefilled_tokens": prefilled,
            "prompt_tokens": prompt,
            "seconds": seconds,
            "median_s": median(seconds),
        }
    out["prefill_reduction"] = sum(out["alone"]["prefilled_tokens"]) / sum(
        out["shared"]["prefilled_tokens"]
    )
    out["speedup"] = out["alone"]["median_s"] / out["shared"]["median_s"]
    out["same_replies"] = texts["shared"] == texts["alone"]
    return out


# -- 5. batch ------------------------------------------------------------------------------------
def concurrent(model: Any, requests: Sequence[Any]) -> tuple[float, list[Any], list[float]]:
    """Generate every request from its own thread at once: wall time, replies, latencies."""
    import threading

    replies: list[Any] = [None] * len(requests)
    latencies = [0.0] * len(requests)
    start = time.perf_counter()

    def work(i: int) -> None:
        replies[i] = model.generate(requests[i])
        latencies[i] = time.perf_counter() - start

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, replies, latencies


def bench_batch(settings: Settings) -> list[dict[str, Any]]:
    """Cold: every reply prefills its whole prompt. Warm: the prompt's beginning (system prompt
    and function list) is already cached from an earlier run, as in a running service."""
    from agentkit.models import TransformersModel

    tools = make_tools()
    rows = []
    for warm in (False, True):
        kwargs: dict[str, Any] = {
            "router": None,
            "max_new_tokens": settings.new_tokens,
            "share_prefixes": warm,
            "cache_sessions": 0,
        }
        batched = TransformersModel.default(batch_size=max(BATCH_SIZES), **kwargs)
        serial = TransformersModel.default(batch_size=1, **kwargs)
        prefixes = batched._loaded.kv.prefixes  # shared by both models (the same weights)
        if warm:
            batched.generate(request_for(batched, [(ESSAY, "")], tools))
            prefixes.size = 0  # keep what is cached, add nothing: each reply finds only that
        for n in BATCH_SIZES:
            requests = [request_for(batched, [(q, "")], tools) for q in BATCH_REQUESTS[:n]]
            pairs = []
            for _ in range(max(1, settings.repeats - 2)):
                pairs.append((concurrent(serial, requests), concurrent(batched, requests)))
            (_, s_replies, s_lat), (_, b_replies, b_lat) = pairs[0]
            rows.append(
                {
                    "prefix": "warm" if warm else "cold",
                    "runs": n,
                    "tokens": sum(r.completion_tokens for r in b_replies),
                    "prompt_tokens": median([r.prompt_tokens for r in b_replies]),
                    "prefilled_tokens": median([r.prefilled_tokens for r in b_replies]),
                    "serial_s": median([p[0][0] for p in pairs]),
                    "batched_s": median([p[1][0] for p in pairs]),
                    "speedup": median([p[0][0] / p[1][0] for p in pairs]),
                    "serial_mean_latency_s": statistics.fmean(s_lat),
                    "batched_mean_latency_s": statistics.fmean(b_lat),
                    "same_replies": [r.text for r in s_replies] == [r.text for r in b_replies],
                }
            )
        prefixes.size = 4
    return rows


# -- 4. load --------------------------------------------------------------------------------------
LOAD_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from agentkit.models import TransformersModel
imported = time.perf_counter()
# transformers imports a model family's modules lazily, on its first load in a process
import transformers.models.llama.modeling_llama
lazy = time.perf_counter()
TransformersModel.default()
done = time.perf_counter()
print(json.dumps({"imports_s": imported - start, "lazy_imports_s": lazy - imported,
                  "load_s": done - lazy, "with_imports_s": done - start}))
"""


def load_once(cache: Path) -> dict[str, float]:
    env = {**os.environ, "AGENTKIT_CACHE": str(cache)}
    seconds, proc = timed(
        lambda: subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
    )
    if proc.returncode != 0:
        raise RuntimeError(f"loading failed:\n{proc.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_s"] = seconds
    return figures


def bench_load(settings: Settings) -> dict[str, Any]:
    first, cached = [], []
    with tempfile.TemporaryDirectory(prefix="agentkit-bench-") as tmp:
        for i in range(settings.first_loads):
            first.append(load_once(Path(tmp) / f"cache-{i}"))
        for _ in range(settings.cached_loads):
            cached.append(load_once(Path(tmp) / "cache-0"))

    def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
        keys = ("load_s", "with_imports_s", "imports_s", "lazy_imports_s", "process_s")
        return {**{k: median([r[k] for r in runs]) for k in keys}, "runs": runs}

    return {"first": summary(first), "cached": summary(cached)}


# -- profile --------------------------------------------------------------------------------------
def prefill_logits(settings: Settings) -> dict[str, float]:
    """One prefill of the agent prompt: logits at every position (what agentkit's token loop
    asked for before commit 1c6ff51) against the last position only (`logits_to_keep=1`, as
    `model.generate` and agentkit since then ask for)."""
    import torch
    from transformers import DynamicCache

    from agentkit.models import TransformersModel

    model = TransformersModel.default(constrained=False, router=None)
    ids = torch.tensor([model.prompt_ids(request_for(model, [(ESSAY, "")], make_tools()))])
    hf = model.hf_model

    def prefill(**extra: Any) -> None:
        with torch.inference_mode():
            hf(input_ids=ids, cache=DynamicCache(config=hf.config), use_cache=True, **extra)

    every, last = [], []
    prefill()
    for _ in range(settings.repeats):
        every.append(timed(prefill)[0])
        last.append(timed(lambda: prefill(logits_to_keep=1))[0])
    return {
        "prompt_tokens": ids.shape[1],
        "all_positions_s": median(every),
        "last_only_s": median(last),
    }


def profile(settings: Settings) -> str:
    """cProfile of agentkit's generate: unconstrained agent prompt, then a constrained call."""
    from agentkit.models import TransformersModel

    tools = make_tools()
    out = io.StringIO()
    pre = prefill_logits(settings)
    out.write(
        f"prefill of {pre['prompt_tokens']} tokens: {pre['all_positions_s']:.2f} s with logits at "
        f"every position (agentkit before 1c6ff51), {pre['last_only_s']:.2f} s with "
        "logits_to_keep=1\n"
    )
    for constrained in (False, True):
        model = TransformersModel.default(
            constrained=constrained, router=None, max_new_tokens=settings.new_tokens
        )
        text, choice = (CALL_REQUEST, "required") if constrained else (ESSAY, "auto")
        request = request_for(model, [(text, "")], tools, tool_choice=choice)
        model.generate(request)
        profiler = cProfile.Profile()
        profiler.runcall(model.generate, request)
        out.write(f"\n== generate, constrained={constrained} ==\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(14)
    return out.getvalue()


# -- report ---------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def report(results: dict[str, Any]) -> str:
    parts = []
    if "speed" in results:
        rows = [
            (r["prompt"], r["prompt_tokens"], r["new_tokens"], r["agentkit_tokens_per_s"],
             r["transformers_tokens_per_s"], r["ratio"], r["same_tokens"])
            for r in results["speed"]
        ]  # fmt: skip
        head = ("prompt", "prompt tok", "new tok", "agentkit tok/s", "generate tok/s", "ratio",
                "same tokens")  # fmt: skip
        parts.append("1. decoding speed (target ratio >= 0.95)\n" + table(head, rows))
    if "grammar" in results:
        rows = [
            (r["case"], r["constrained_tokens"], r["unconstrained_tokens"],
             r["constrained_ms_per_token"], r["unconstrained_ms_per_token"],
             f"{r['overhead']:+.1%}", r["grammar_ms_per_token"], f"{r['grammar_share']:.1%}",
             r["grammar_compile_ms"])
            for r in results["grammar"]
        ]  # fmt: skip
        head = ("case", "tok c", "tok u", "ms/tok c", "ms/tok u", "overhead", "grammar ms/tok",
                "grammar share", "compile ms")  # fmt: skip
        parts.append("2. constrained vs unconstrained (target <= 5%)\n" + table(head, rows))
    if "turns" in results:
        t = results["turns"]
        rows = [
            (name, t[name]["prefilled_total"], sum(t[name]["prompt_tokens"]), t[name]["wall_s"])
            for name in ("reuse", "no_reuse")
        ]
        parts.append(
            f"3. {t['turns']}-turn conversation (target >= 3x fewer prefilled): "
            f"{t['prefill_reduction']:.2f}x fewer, {t['speedup']:.2f}x faster, "
            f"same replies: {t['same_replies']}\n"
            + table(("KV cache", "prefilled", "prompt tokens", "wall s"), rows)
        )
        n = t["new_runs"]
        rows = [
            (name, sum(n[name]["prefilled_tokens"]), sum(n[name]["prompt_tokens"]),
             n[name]["median_s"])
            for name in ("shared", "alone")
        ]  # fmt: skip
        parts.append(
            f"3b. first turns of {n['runs']} new runs of one agent: {n['prefill_reduction']:.1f}x "
            f"fewer prefilled, {n['speedup']:.2f}x faster, same replies: {n['same_replies']}\n"
            + table(("prompt prefix", "prefilled", "prompt tokens", "median s per turn"), rows)
        )
    if "load" in results:
        rows = [
            (name, s["load_s"], s["with_imports_s"], s["imports_s"], s["lazy_imports_s"],
             s["process_s"], len(s["runs"]))
            for name, s in results["load"].items()
        ]  # fmt: skip
        head = ("load", "call s", "with imports s", "imports s", "llama modules s", "process s",
                "runs")  # fmt: skip
        parts.append("4. default model load (target cached <= 3 s)\n" + table(head, rows))
    if "batch" in results:
        rows = [
            (r["prefix"], r["runs"], r["tokens"], r["prompt_tokens"], r["prefilled_tokens"],
             r["serial_s"], r["batched_s"],
             r["speedup"], r["serial_mean_latency_s"], r["batched_mean_latency_s"],
             r["same_replies"])
            for r in results["batch"]
        ]  # fmt: skip
        head = ("prefix", "runs", "tokens", "prompt tok", "prefilled", "serial s", "batched s",
                "speedup", "serial latency s", "batched latency s", "same replies")  # fmt: skip
        parts.append("5. concurrent runs: one at a time vs batched\n" + table(head, rows))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile agentkit's generate")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    sections = [s for s in SECTIONS if s in args.only.split(",")]

    results: dict[str, Any] = {"settings": vars(settings) | {"quick": args.quick}}
    if "load" in sections:  # first: in fresh interpreters, before this process loads anything
        results["load"] = bench_load(settings)
    import torch

    torch.set_num_threads(args.threads)
    results["machine"] = machine()
    benches = {
        "speed": bench_speed,
        "grammar": bench_grammar,
        "turns": bench_turns,
        "batch": bench_batch,
    }
    for name in sections:
        if name in benches:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = benches[name](settings)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["targets"] = TARGETS
    if args.profile:
        results["profile"] = profile(settings)
    print(report(results))
    if args.profile:
        print(results["profile"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
