"""Tiny randomly initialised causal LMs for fast local-model tests (built offline, in ms)."""

from __future__ import annotations

from typing import Any


def tiny_model(tokenizer: Any, seed: int = 0, config: str = "StableLmConfig") -> Any:
    """A 2-layer model of the `config` family (a transformers config class name)."""
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
    )
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(settings)
