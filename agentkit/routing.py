"""Routing: whether a request needs a tool, and which one (a feature of the local backend).

The routers live in `agentkit.models.routing`; this module keeps the public names importable
from here.

Example:
    >>> from agentkit.routing import EmbeddingRouter, load_encoder
"""

from __future__ import annotations

from agentkit.models.routing import (
    ANSWER_DESCRIPTION,
    ChoiceRouter,
    EmbeddingRouter,
    Encoder,
    Route,
    Router,
    load_encoder,
)

__all__ = [
    "ANSWER_DESCRIPTION",
    "ChoiceRouter",
    "EmbeddingRouter",
    "Encoder",
    "Route",
    "Router",
    "load_encoder",
]
