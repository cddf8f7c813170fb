"""`ClassifierGuardrail`: any text classifier, with a map from its labels to actions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.guardrails._base import Action, BaseGuardrail, GuardrailContext, Verdict

__all__ = ["ClassifierGuardrail", "label_scores", "load_pipeline", "windows"]

Classifier = Callable[[str], Any]

_PIPELINES: dict[str, Any] = {}
_PIPELINES_LOCK = threading.Lock()


def load_pipeline(model: str | Path) -> Any:
    """The process's one Hugging Face text-classification pipeline for a model directory or id.

    Every label's score is returned (`top_k=None`). Offline, a hub id works only if the model
    is already in the local cache.

    Raises:
        ModelNotAvailableError: transformers is missing, or the model cannot be loaded.
    """
    key = (
        str(Path(model).expanduser().resolve()) if Path(model).expanduser().exists() else str(model)
    )
    with _PIPELINES_LOCK:
        if key not in _PIPELINES:
            try:
                from transformers import pipeline
            except ImportError as exc:
                raise ModelNotAvailableError(
                    "ClassifierGuardrail needs transformers: pip install 'agentkit[local]'"
                ) from exc
            try:
                _PIPELINES[key] = pipeline("text-classification", model=key, top_k=None)
            except (OSError, ValueError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelNotAvailableError(
                    f"cannot load the classifier {key!r}: {first}"
                ) from exc
        return _PIPELINES[key]


def label_scores(output: Any) -> dict[str, float]:
    """A classifier's output as `{label: score}`.

    Accepts what pipelines and plain functions return: `{"label": ..., "score": ...}`, a list
    (or nested list) of those, a `{label: score}` mapping, or a `(label, score)` pair.

    Raises:
        UsageError: any other shape.

    Example:
        >>> label_scores([[{"label": "toxic", "score": 0.9}, {"label": "ok", "score": 0.1}]])
        {'toxic': 0.9, 'ok': 0.1}
        >>> label_scores(("spam", 0.7))
        {'spam': 0.7}
    """
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], str):
        return {output[0]: float(output[1])}
    if isinstance(output, Mapping):
        if "label" in output and "score" in output:
            return {str(output["label"]): float(output["score"])}
        return {str(label): float(score) for label, score in output.items()}
    if isinstance(output, list | tuple):
        scores: dict[str, float] = {}
        for item in output:
            for label, score in label_scores(item).items():
                scores[label] = max(score, scores.get(label, score))
        return scores
    raise UsageError(
        f"a classifier must return label/score pairs, got {type(output).__name__}: "
        "{'label': str, 'score': float} (or a list of them), {label: score} or (label, score)"
    )


_SEVERITY = {"allow": 0, "redact": 1, "block": 2}


def windows(text: str, size: int | None) -> list[str]:
    """`text` in pieces of at most `size` characters overlapping by a fifth, cut at spaces.

    Example:
        >>> windows("one two three four five six", 12)
        ['one two', 'two three', 'three four', 'four five', 'five six']
    """
    if size is None or len(text) <= size:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > start else end
        pieces.append(text[start:end].strip())
        if end >= len(text):
            break
        back = text.rfind(" ", start, end - size // 5)
        start = back + 1 if back > start else end
    return [p for p in pieces if p]


class ClassifierGuardrail(BaseGuardrail):
    """Blocks (or redacts) a text when a classifier gives a flagged label a high enough score.

    Args:
        classifier: a Hugging Face text-classification model (a directory or a cached hub id,
            loaded once per process as a pipeline), a pipeline, or any callable that takes the
            text and returns label/score pairs (see `label_scores`).
        actions: what each label calls for (`"block"`, `"redact"` or `"allow"`); labels
            compare without case; unlisted labels allow.
        threshold: the least score for a label's action, one for all or one per label.
        replacement: the whole text's replacement when a label calls for `"redact"`.
        category: the verdicts' category (the label by default).
        window: texts longer than this many characters are classified in overlapping
            windows (cut at spaces), each label taking its highest score, so that nothing
            is truncated away; None classifies the whole text at once. A pipeline is also
            called with `truncation=True`.
        name: the guardrail's name.

    Raises:
        UsageError: no label to act on, a bad action or a bad window.

    Example:
        >>> spam = ClassifierGuardrail(lambda t: ("spam", 0.93 if "WIN" in t else 0.02),
        ...                            {"spam": "block"}, threshold=0.8)
        >>> spam.check("WIN a free cruise").reason
        'classified spam (0.93)'
    """

    in_thread = True

    def __init__(
        self,
        classifier: str | Path | Classifier,
        actions: Mapping[str, Action],
        *,
        threshold: float | Mapping[str, float] = 0.5,
        replacement: str = "[REMOVED]",
        category: str | None = None,
        window: int | None = 1000,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if window is not None and window < 10:
            raise UsageError(f"window must be at least 10 characters (or None), got {window}")
        bad = {label: a for label, a in actions.items() if a not in _SEVERITY}
        if bad:
            raise UsageError(f"actions must be 'block', 'redact' or 'allow', got {bad}")
        self.actions = {label.lower(): action for label, action in actions.items()}
        if not any(action != "allow" for action in self.actions.values()):
            raise UsageError("ClassifierGuardrail needs at least one label to block or redact")
        self.classifier = classifier
        self.thresholds = (
            {label.lower(): value for label, value in threshold.items()}
            if isinstance(threshold, Mapping)
            else {}
        )
        self.default_threshold = threshold if isinstance(threshold, int | float) else 0.5
        self.replacement = replacement
        self.category = category
        self.window = window
        self._lock = threading.Lock()

    def scores(self, text: str) -> dict[str, float]:
        """Every label's score for `text` (labels in lower case; the best over windows)."""
        classify = self.classifier
        if isinstance(classify, str | Path):
            classify = load_pipeline(classify)
        # A pipeline would fail on more tokens than its model takes: let it truncate a
        # window (cut by characters) that still has too many.
        options = {"truncation": True} if getattr(classify, "tokenizer", None) else {}
        scores: dict[str, float] = {}
        for part in windows(text, self.window):
            with self._lock:
                output = classify(part, **options)
            for label, score in label_scores(output).items():
                scores[label.lower()] = max(score, scores.get(label.lower(), score))
        return scores

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Classify `text` and act on the most severe flagged label."""
        flagged = [
            (_SEVERITY[self.actions[label]], score, label)
            for label, score in self.scores(text).items()
            if self.actions.get(label, "allow") != "allow"
            and score >= self.thresholds.get(label, self.default_threshold)
        ]
        if not flagged:
            return Verdict.allow()
        _, score, label = max(flagged)
        reason = f"classified {label} ({score:.2f})"
        if self.actions[label] == "block":
            return Verdict.block(reason, category=self.category or label, score=score)
        return Verdict.redact(
            self.replacement, reason, category=self.category or label, score=score
        )
