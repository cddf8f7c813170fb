"""Tiny randomly initialised causal LMs for fast local-model tests (built offline, in ms), and
the helpers the local-model tests share."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal

from agentkit import Message, tool
from agentkit.models import ModelRequest

if TYPE_CHECKING:
    from agentkit.models import TransformersModel


def tiny_model(
    tokenizer: Any, seed: int = 0, config: str = "StableLmConfig", **overrides: Any
) -> Any:
    """A 2-layer model of the `config` family (a transformers config class name);
    `overrides` are further config settings (`tie_word_embeddings=True`, say)."""
    import torch
    import transformers

    settings = getattr(transformers, config)(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        **overrides,
    )
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(settings)


def tiny_local(tokenizer: Any, seed: int = 0, *, weights: Any = None, **options: Any) -> Any:
    """A `TransformersModel` on a tiny model (or on `weights`), without a router by default."""
    from agentkit.models import TransformersModel

    options.setdefault("router", None)
    hf = weights if weights is not None else tiny_model(tokenizer, seed)
    return TransformersModel.from_objects(hf, tokenizer, **options)


@tool
def paint(color: Literal["red", "green", "blue"], glossy: bool) -> str:
    """Paint the wall."""
    return f"painted {color}"


@tool
def shout(word: Literal["hey", "ho"]) -> str:
    """Shout a word."""
    return word.upper()


def request_for(model: TransformersModel, text: str, **kwargs: Any) -> ModelRequest:
    """A first-turn request for `text`, with `paint` and `shout` unless `tools` is given."""
    tools = kwargs.pop("tools", [paint, shout])
    transcript = [Message.user(text)]
    return ModelRequest(transcript=transcript, tools=tools, format=model.format, **kwargs)


class PickRouter:
    """A router that always picks the same tool (or none)."""

    def __init__(self, choice: str | None) -> None:
        self.choice = choice

    def route(self, query: str, tools: Any) -> str | None:
        return self.choice


def generate_together(
    model: TransformersModel, requests: list[ModelRequest], **kwargs: Any
) -> list[Any]:
    """Generate concurrently, every request queued before the first step (so they batch).

    Each result is the response, or the exception it raised; `kwargs` go to every call, or
    by index when given as a dict of index to value.
    """
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
        with batcher._cond:  # woken each time a reply joins the queue
            batcher._cond.wait_for(lambda: len(batcher._waiting) >= len(requests), timeout=10)
    for thread in threads:
        thread.join(timeout=60)
    return results
