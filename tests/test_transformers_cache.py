"""The local backend's KV caches, batching and scoring, on tiny randomly initialised models."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agentkit import Agent, Message
from agentkit.errors import UsageError
from agentkit.models import ModelRequest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llguidance")

from agentkit.models._kv import KVStore, PrefixCache, Session, common_prefix  # noqa: E402
from tests._tiny import (  # noqa: E402
    generate_together,
    paint,
    request_for,
    shout,
    tiny_local,
    tiny_model,
)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0


def test_kv_cache_reuse_prefills_only_new_tokens_and_changes_nothing(tokenizer: Any) -> None:
    weights = tiny_model(tokenizer)
    cached = tiny_local(tokenizer, weights=weights, max_new_tokens=12)
    fresh = tiny_local(
        tokenizer, weights=weights, max_new_tokens=12, cache_sessions=0, share_prefixes=False
    )
    transcript = [Message.user("first question")]
    for turn in range(3):
        req = ModelRequest(transcript=transcript, format=cached.format, run_id="run-1")
        a = cached.generate(req)
        b = fresh.generate(req)
        assert a.text == b.text  # reuse must not change what is generated
        assert b.prefilled_tokens == b.prompt_tokens
        if turn:
            assert a.prefilled_tokens < a.prompt_tokens / 2
        transcript = [*transcript, Message.assistant(a.text), Message.user(f"next {turn}")]


def test_a_finished_run_releases_its_kv_cache(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, max_new_tokens=6, share_prefixes=False)
    kv = model._loaded.kv
    first = model.generate(request_for(model, "hello", run_id="run-a"))
    model.generate(request_for(model, "hello", run_id="run-b"))
    assert kv.run_ids() == ["run-a", "run-b"]
    again = model.generate(request_for(model, "hello", run_id="run-a"))
    assert again.prefilled_tokens == 1  # the run's own cache held the whole prompt
    model.release("run-a")
    model.release("never-seen")  # nothing kept: nothing to do
    assert kv.run_ids() == ["run-b"]
    after = model.generate(request_for(model, "hello", run_id="run-a"))
    assert after.prefilled_tokens == after.prompt_tokens
    assert after.text == first.text


def test_sessions_are_bounded_and_the_oldest_go_first() -> None:
    store = KVStore()
    for run in ("a", "b", "c"):
        store.keep(run, Session([1], None), limit=2)
    assert store.run_ids() == ["b", "c"]
    taken = store.take("b")
    assert taken is not None and taken.tokens == [1]
    assert store.take("b") is None  # a session serves one turn at a time
    store.keep("a", Session([2], None), limit=0)  # a model that keeps no sessions
    assert store.run_ids() == []


def test_models_on_the_same_weights_share_one_kv_store(tokenizer: Any, tmp_path: Any) -> None:
    from agentkit.models import TransformersModel

    tiny_model(tokenizer).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    first = TransformersModel(str(tmp_path), max_new_tokens=4, router=None)
    second = TransformersModel(str(tmp_path), max_new_tokens=4, router=None, cache_sessions=2)
    assert first._loaded.kv is second._loaded.kv
    first.generate(request_for(first, "hi", run_id="shared-run"))
    assert "shared-run" in second._loaded.kv.run_ids()
    second.release("shared-run")
    assert first._loaded.kv.run_ids() == []


def test_one_model_serves_concurrent_runs(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, max_new_tokens=10)
    agent = Agent(model, max_steps=1)
    prompts = [f"question {i}" for i in range(4)]
    sequential = [agent.run(p).output for p in prompts]

    async def together() -> list[str]:
        results = await asyncio.gather(*(agent.run_async(p) for p in prompts))
        return [r.output for r in results]

    assert asyncio.run(together()) == sequential


def test_concurrent_replies_decode_in_one_batch_and_match_one_by_one(tokenizer: Any) -> None:
    hf = tiny_model(tokenizer, 3)
    rows: list[int] = []
    hf.register_forward_pre_hook(
        lambda _m, _args, kw: rows.append(len(kw["input_ids"])), with_kwargs=True
    )
    model = tiny_local(tokenizer, weights=hf, max_new_tokens=24, batch_size=4)
    texts = ["hi", "paint the wall red and make it glossy please", "shout", "what now, friend?"]
    choices = ["auto", "required", "shout", "none"]
    requests = [
        request_for(model, text, tool_choice=choice, run_id=f"run-{i}")
        for i, (text, choice) in enumerate(zip(texts, choices, strict=True))
    ]
    together = generate_together(model, requests)
    assert max(rows) == 4  # one forward pass fed all four replies
    model.settings = model.settings.replace(batch_size=1)
    rows.clear()
    for run in range(4):
        model.release(f"run-{run}")
    one_by_one = [model.generate(r) for r in requests]
    assert max(rows) == 1
    assert [g.text for g in together] == [g.text for g in one_by_one]
    assert [g.finish_reason for g in together] == [g.finish_reason for g in one_by_one]


def test_caches_split_from_a_batch_serve_the_next_turn(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, 4, max_new_tokens=12, batch_size=3)
    fresh = tiny_local(tokenizer, 4, max_new_tokens=12, cache_sessions=0)
    texts = ["a", "a longer first question here", "medium question"]
    first = [request_for(model, t, run_id=f"r{i}") for i, t in enumerate(texts)]
    replies = generate_together(model, first)
    second = []
    for i, (text, reply) in enumerate(zip(texts, replies, strict=True)):
        transcript = [Message.user(text), Message.assistant(reply.text), Message.user("more")]
        second.append(
            ModelRequest(
                transcript=transcript, tools=[paint, shout], format=model.format, run_id=f"r{i}"
            )
        )
    again = generate_together(model, second)
    assert all(g.prefilled_tokens < g.prompt_tokens for g in again)
    assert [g.text for g in again] == [fresh.generate(r).text for r in second]


def test_a_failing_reply_does_not_break_the_others_in_its_batch(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, max_new_tokens=16, batch_size=3)

    def broken(_delta: str) -> None:
        raise RuntimeError("listener gone")

    requests = [request_for(model, f"question {i}") for i in range(3)]
    outcome = generate_together(model, requests, on_text={1: broken})
    assert isinstance(outcome[1], RuntimeError)
    assert outcome[0].completion_tokens > 0 and outcome[2].completion_tokens > 0


def test_a_new_run_starts_from_the_cache_of_a_prompt_with_the_same_beginning(
    tokenizer: Any,
) -> None:
    weights = tiny_model(tokenizer, 7)
    shared = tiny_local(tokenizer, weights=weights, max_new_tokens=10)
    alone = tiny_local(tokenizer, weights=weights, max_new_tokens=10, share_prefixes=False)
    first = shared.generate(request_for(shared, "paint it red", run_id="a"))
    assert first.prefilled_tokens == first.prompt_tokens
    second_request = request_for(shared, "shout hey, loudly", run_id="b")
    second = shared.generate(second_request)
    # Only the part after the shared system prompt and function list is computed.
    assert second.prefilled_tokens < second.prompt_tokens / 2
    reference = alone.generate(second_request)
    assert reference.prefilled_tokens == reference.prompt_tokens
    assert second.text == reference.text
    # The first run's own cache was not disturbed by the copy.
    follow = request_for(shared, "paint it red", run_id="a")
    assert shared.generate(follow).text == first.text


def test_the_prefix_cache_keeps_a_few_prompts_and_drops_covered_ones(tokenizer: Any) -> None:
    config = tiny_model(tokenizer).config
    cache = PrefixCache(size=2, min_tokens=4)

    def kv(n: int) -> Any:
        from transformers import DynamicCache

        layers = [(torch.randn(1, 2, n, 16), torch.randn(1, 2, n, 16)) for _ in range(2)]
        return DynamicCache(ddp_cache_data=layers, config=config)

    cache.store(list(range(10)), kv(10), config)
    cache.store(list(range(12)), kv(12), config)  # covers the first
    assert len(cache._entries) == 1
    cache.store([9, 9, 9, 9, 9], kv(5), config)
    cache.store([8, 8, 8, 8, 8], kv(5), config)
    assert len(cache._entries) == 2
    assert cache.lookup(list(range(12)), config) is None  # evicted
    found = cache.lookup([9, 9, 9, 9, 1], config)
    assert found is not None and found[0] == [9, 9, 9, 9]
    assert found[1].get_seq_length() == 4
    assert cache.lookup([9, 9, 1], config) is None  # shorter than min_tokens
    small = PrefixCache(size=4, min_tokens=4, max_tokens=12)
    small.store([1] * 8, kv(8), config)
    small.store([2] * 8, kv(8), config)  # 16 tokens in all: the older one goes
    assert [tokens[0] for tokens, _ in small._entries] == [2]
    small.store([3] * 13, kv(13), config)  # longer than the whole budget: not kept
    assert [tokens[0] for tokens, _ in small._entries] == [2]


def test_a_reply_cancelled_while_waiting_for_the_weights_leaves_at_once(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, max_new_tokens=8)
    batcher = model._loaded.batcher
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def work(name: str, event: threading.Event | None) -> None:
        outcome[name] = model.generate(request_for(model, name), cancel=event)

    with model._loaded.lock:  # nothing can run: both replies wait
        first = threading.Thread(target=work, args=("first", None))
        second = threading.Thread(target=work, args=("second", cancel))
        first.start()
        with batcher._cond:  # the first leads (and waits for the weights)
            batcher._cond.wait_for(lambda: batcher._leading, timeout=10)
        second.start()
        with batcher._cond:
            batcher._cond.wait_for(lambda: len(batcher._waiting) >= 2, timeout=10)
        cancel.set()
        second.join(timeout=5)
        assert not second.is_alive()  # left without the weights
    first.join(timeout=60)
    assert outcome["second"].finish_reason == "cancelled"
    assert outcome["second"].completion_tokens == 0
    assert outcome["first"].completion_tokens > 0


def reference_logprob(hf: Any, prompt: list[int], continuation: list[int]) -> float:
    """A continuation's log-probability from one uncached forward pass."""
    with torch.inference_mode():
        logits = hf(input_ids=torch.tensor([prompt + continuation])).logits[0]
    rows = torch.log_softmax(logits.float(), dim=-1)
    return float(sum(rows[len(prompt) - 1 + i, t] for i, t in enumerate(continuation)))


def test_score_gives_exact_log_probabilities_and_reuses_the_prompt(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, 2)
    hf = model.hf_model
    passes: list[int] = []
    hf.register_forward_pre_hook(
        lambda _m, _args, kw: passes.append(kw["input_ids"].shape[1]), with_kwargs=True
    )
    options = [[7], [8, 9, 10], [11, 12]]
    for tail in ([200] * 3, [201] * 3):
        prompt = list(range(100, 140)) + tail
        passes.clear()
        got = model.score(prompt, options)
        prefilled = passes[0]
        assert got == pytest.approx([reference_logprob(hf, prompt, c) for c in options], abs=1e-4)
    assert prefilled == 3  # the second prompt's beginning came from the prefix cache
    with pytest.raises(UsageError):
        model.score([], options)
    with pytest.raises(UsageError):
        model.score([1, 2], [[1], []])
