"""bench/local.py: the cProfile of the token loop, and the report."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Sequence
from typing import Any

from _local_common import (
    CALL_REQUEST,
    ESSAY,
    Settings,
    make_tools,
    median,
    request_for,
    timed,
)


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
