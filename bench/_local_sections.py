"""bench/local.py: sections 1 (speed), 2 (grammar), 3 (turns) and 5 (batch)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from _local_common import (
    BATCH_REQUESTS,
    BATCH_SIZES,
    CALL_REQUEST,
    CONVERSATION,
    ESSAY,
    TEXT_REQUEST,
    Settings,
    make_tools,
    median,
    request_for,
    timed,
)


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
