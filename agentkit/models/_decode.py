"""The token loop of local generation: prefill with KV-cache reuse, constrained sampling, stops.

A plain loop rather than `model.generate`: one place that reuses the KV cache of earlier turns
(longest common token prefix, recomputed where the prompt diverges), applies the grammar's token
mask, streams text and honours cancellation. `prefill` and `forward` are the only places that
feed the model one sequence; `score` uses them to compute continuations' log-probabilities (for
routing), batched decoding (`agentkit.models._batch`) uses `forward_kwargs` for its own pass.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

from agentkit.errors import ModelError
from agentkit.models._kv import PrefixCache, common_prefix, crop

__all__ = [
    "Reply",
    "forward",
    "forward_keys",
    "forward_kwargs",
    "grammar_tokenizer",
    "make_matcher",
    "prefill",
    "score",
]


def grammar_tokenizer(tokenizer: Any, stop_ids: list[int]) -> Any:
    """The grammar engine's view of a transformers tokenizer; `stop_ids` end a reply."""
    try:
        import llguidance.hf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError(
            "constrained decoding needs llguidance: pip install llguidance "
            "(or build the model with constrained=False)"
        ) from exc
    return llguidance.hf.from_tokenizer(tokenizer, eos_token=stop_ids)


def make_matcher(tokenizer: Any, grammar: str) -> Any:
    """A fresh matcher for one reply."""
    import llguidance

    matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
    if matcher.is_error():
        raise ModelError(f"invalid reply grammar: {matcher.get_error()}")
    return matcher


class _Masker:
    """Applies a matcher's allowed-token bitmask to logits with plain torch and numpy."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        import numpy as np

        self.matcher = matcher
        self.words = np.zeros((vocab_size + 31) // 32, dtype=np.int32)
        self.np = np

    def apply(self, logits: Any) -> None:
        import torch

        np = self.np
        self.matcher.unsafe_compute_mask_ptr(self.words.ctypes.data, self.words.nbytes)
        bits = np.unpackbits(self.words.view(np.uint8), bitorder="little").astype(bool)
        allowed = torch.from_numpy(bits)
        n = min(logits.shape[-1], allowed.shape[0])
        logits[n:] = float("-inf")
        logits[:n].masked_fill_(~allowed[:n], float("-inf"))


def _pick(logits: Any, temperature: float) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1).item())


def prefill(
    model: Any,
    prompt: list[int],
    tokens: list[int] | None = None,
    cache: Any = None,
    prefixes: PrefixCache | None = None,
) -> tuple[Any, Any, int]:
    """Run the prompt through the model, reusing what a KV cache already holds.

    `cache` (holding `tokens`, e.g. a run's session) is reused up to its longest common prefix
    with `prompt`, recomputed from where they diverge. Without one, the longest matching prefix
    in `prefixes` is copied, and `prefixes` then keeps a copy of this prompt's cache.

    Returns:
        The last position's logits, the cache (now holding `prompt`), and how many tokens were
        computed.
    """
    from transformers import DynamicCache

    shared = prefixes if cache is None else None
    if shared is not None and (found := shared.lookup(prompt, model.config)) is not None:
        tokens, cache = found
    reuse = 0
    if tokens is not None and cache is not None:
        reuse = min(common_prefix(tokens, prompt), len(prompt) - 1)
        if reuse > 0:
            crop(cache, reuse)
    if reuse <= 0:
        cache = DynamicCache(config=model.config)
        reuse = 0
    logits = forward(model, prompt[reuse:], cache)
    computed = len(prompt) - reuse
    if shared is not None and computed >= shared.min_tokens:
        shared.store(prompt, cache, model.config)
    return logits, cache, computed


def forward(model: Any, tokens: list[int], cache: Any, *, every_position: bool = False) -> Any:
    """Feed tokens after a KV cache; the last position's logits (or every position's)."""
    import torch

    ids = torch.tensor([tokens], device=model.device)
    kwargs = forward_kwargs(model.__class__, cache, last_only=not every_position)
    out = model(input_ids=ids, use_cache=True, **kwargs)
    logits = out.logits[0] if every_position else out.logits[0, -1]
    return logits.float().cpu()


def forward_kwargs(model_cls: Any, cache: Any, *, last_only: bool = True) -> dict[str, Any]:
    """The forward's keyword arguments for a KV cache (and for last-position logits only)."""
    cache_key, keep_key = forward_keys(model_cls)
    kwargs = {cache_key: cache}
    if keep_key and last_only:  # a long prefill then skips the vocabulary projection
        kwargs[keep_key] = 1
    return kwargs


@functools.cache
def forward_keys(model_cls: Any) -> tuple[str, str | None]:
    """The forward's KV-cache argument (`cache`, `past_key_values` before) and logits limit."""
    params = inspect.signature(model_cls.forward).parameters
    cache_key = "cache" if "cache" in params else "past_key_values"
    keep = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache_key, keep


def score(
    model: Any,
    prompt: list[int],
    continuations: Sequence[list[int]],
    prefixes: PrefixCache | None = None,
) -> list[float]:
    """The total log-probability of each continuation after `prompt` (call under the lock).

    The prompt is prefilled once (from the longest matching prefix in `prefixes`); each
    continuation then costs one forward pass of all its tokens but the last, and the cache is
    cut back to the prompt before the next.
    """
    import torch

    logits, cache, _ = prefill(model, prompt, prefixes=prefixes)
    first = torch.log_softmax(logits, dim=-1)
    totals = []
    for ids in continuations:
        total = float(first[ids[0]])
        if len(ids) > 1:
            rows = torch.log_softmax(forward(model, ids[:-1], cache, every_position=True), dim=-1)
            total += float(sum(rows[i, t] for i, t in enumerate(ids[1:])))
            crop(cache, len(prompt))
        totals.append(total)
    return totals


class Reply:
    """One reply being generated: its prompt and KV cache, grammar, tokens and text.

    The token loop is split in two so that replies of concurrent runs can share forward passes
    (`agentkit.models._batch`): `prefill` runs the prompt, `advance` takes the logits of the last
    position and picks the next token (or ends the reply); whoever runs the model then feeds
    `token`, appends it to `fed` (the tokens the cache holds) and calls `advance` again.
    """

    def __init__(
        self,
        tokenizer: Any,
        prompt: list[int],
        *,
        session_tokens: list[int] | None = None,
        session_cache: Any = None,
        stop_ids: Collection[int] = (),
        stop_strings: Sequence[str] = (),
        matcher: Any = None,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        batch_limit: int = 1,
        prefixes: PrefixCache | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.session_tokens = session_tokens
        self.cache: Any = session_cache
        self.stop_ids = stop_ids
        self.stop_strings = stop_strings
        self.matcher = matcher
        self.masker = _Masker(matcher, len(tokenizer)) if matcher is not None else None
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.on_text = on_text
        self.cancel = cancel
        self.batch_limit = max(1, batch_limit)
        self.prefixes = prefixes
        self.forced: list[int] = []
        self.fed: list[int] = list(prompt)
        self.generated: list[int] = []
        self.text = ""
        self.finish = "length"
        self.prefilled = 0
        self.token = -1
        self.error: BaseException | None = None
        self.done = False
        self.settled = False  # done, and the cache handed back (set by whoever runs the reply)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def prefill(self, model: Any) -> Any:
        """Run the prompt; the last position's logits.

        The run's own cache is reused where it matches; a run without one starts from the
        longest matching prefix in `prefixes`, which then keeps a copy of this prompt's cache.
        """
        logits, self.cache, self.prefilled = prefill(
            model, self.prompt, self.session_tokens, self.cache, self.prefixes
        )
        self.session_tokens = None
        return logits

    def advance(self, logits: Any) -> None:
        """Pick the next token from `logits`, or end the reply (then `done` is set).

        `logits` may be None while the grammar forces text (`forced` is not empty).
        """
        if len(self.generated) >= self.max_new_tokens:
            return self.end("length")
        if self.cancelled:
            return self.end("cancelled")
        token = self._choose(logits)
        if self.matcher is not None and not self.matcher.consume_token(token):
            raise ModelError(f"the grammar rejected token {token}: {self.matcher.get_error()}")
        if token in self.stop_ids:
            return self.end("stop")
        self.generated.append(token)
        if self._add_text():
            return self.end("stop")
        if self.matcher is not None and self.matcher.is_stopped():
            return self.end("stop")
        if len(self.generated) >= self.max_new_tokens:
            return self.end("length")
        self.token = token

    def _choose(self, logits: Any) -> int:
        """The next token: text the grammar forces, else a pick among the tokens it allows.

        Forced text (a call's fixed keys, the `": "` before a value, closing brackets) is fed
        in its plain tokenization. Sampling it token by token lets a model take an odd path
        through it: wanting a bare number where a string is due, a small model writes `": `
        as `":` + ` ` and then the only tokens left start with a quote, such as `".`.
        """
        if self.matcher is None:
            return _pick(logits, self.temperature)
        if not self.forced:
            self.forced = self._forced_tokens()
        if self.forced:
            return self.forced.pop(0)
        assert self.masker is not None
        self.masker.apply(logits)
        return _pick(logits, self.temperature)

    def _forced_tokens(self) -> list[int]:
        forced = self.matcher.compute_ff_bytes()
        if not forced:
            return []
        try:
            text = forced.decode("utf-8")
        except UnicodeDecodeError:  # ends inside a character: let the model pick
            return []
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        # What the grammar accepts of them (a tokenizer may, say, add a leading space).
        return ids[: self.matcher.validate_tokens(ids)]

    def _add_text(self) -> bool:
        """Decode the text so far and stream what is new; whether a stop string appeared."""
        new_text = self.tokenizer.decode(self.generated, skip_special_tokens=True)
        if not new_text.endswith("\ufffd"):  # not in the middle of a multi-byte character
            delta, self.text = new_text[len(self.text) :], new_text
            if delta and self.on_text is not None:
                self.on_text(delta)
        cut = min((i for s in self.stop_strings if (i := self.text.find(s)) >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
        return cut >= 0

    def end(self, finish: str) -> None:
        self.finish = finish
        if finish != "stop":
            self.text = self.tokenizer.decode(self.generated, skip_special_tokens=True)
        self.done = True

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done = True
