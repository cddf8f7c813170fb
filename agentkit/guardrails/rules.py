"""Rule guardrails: regular expressions and lists of forbidden words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from agentkit.errors import UsageError
from agentkit.guardrails._base import BaseGuardrail, GuardrailContext, Verdict

__all__ = ["DenyList", "RegexGuardrail", "fold"]

Replacement = str | Callable[["re.Match[str]"], str]


def _check_action(action: str) -> None:
    if action not in ("block", "redact"):
        raise UsageError(f"action must be 'block' or 'redact', got {action!r}")


class RegexGuardrail(BaseGuardrail):
    r"""Blocks or redacts the text where any of the patterns matches.

    Args:
        patterns: one regular expression or several (strings or compiled patterns).
        action: `"block"` the text, or `"redact"` each match.
        replacement: what a match becomes when redacting: a string (group references such
            as `\1` work) or a function of the match.
        category: the verdicts' category.
        reason: the verdicts' reason; by default it says how many matches were found.
        flags: `re` flags for the patterns given as strings.
        name: the guardrail's name.

    Raises:
        UsageError: no pattern, a bad pattern or a bad action.

    Example:
        >>> keys = RegexGuardrail(r"sk-[A-Za-z0-9]{8,}", action="redact", replacement="sk-***")
        >>> keys.check("the key is sk-abcdef123456").text
        'the key is sk-***'
    """

    def __init__(
        self,
        patterns: str | re.Pattern[str] | Sequence[str | re.Pattern[str]],
        *,
        action: Literal["block", "redact"] = "block",
        replacement: Replacement = "[REDACTED]",
        category: str = "regex",
        reason: str | None = None,
        flags: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        _check_action(action)
        items = [patterns] if isinstance(patterns, str | re.Pattern) else list(patterns)
        if not items:
            raise UsageError("RegexGuardrail needs at least one pattern")
        try:
            self.patterns = [
                p if isinstance(p, re.Pattern) else re.compile(p, flags) for p in items
            ]
        except re.error as exc:
            raise UsageError(f"bad pattern for {self.name}: {exc}") from exc
        self.action = action
        self.replacement = replacement
        self.category = category
        self.reason = reason

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Block or redact where a pattern matches; allow otherwise."""
        if self.action == "block":
            hits = sum(1 for p in self.patterns if p.search(text))
            if not hits:
                return Verdict.allow()
            return Verdict.block(self._reason(hits), category=self.category)
        count = 0
        for pattern in self.patterns:
            text, n = pattern.subn(self.replacement, text)
            count += n
        if not count:
            return Verdict.allow()
        return Verdict.redact(text, self._reason(count), category=self.category)

    def _reason(self, count: int) -> str:
        if self.reason is not None:
            return self.reason
        if self.action == "block":
            return f"{count} pattern(s) matched"
        return f"{count} match(es) redacted"


def fold(text: str) -> tuple[str, list[int]]:
    """Text without case or accents, and for each of its characters the original index.

    Example:
        >>> fold("Crème Brûlée")[0]
        'creme brulee'
    """
    out: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char.casefold()):
            if not unicodedata.combining(part):
                out.append(part)
                index.append(i)
    return "".join(out), index


class DenyList(BaseGuardrail):
    """Blocks (or redacts) whole words and phrases, whatever their case and accents.

    "Crème brûlée" in the list matches "creme brulee" and "CRÈME  Brûlée": phrases match
    across any run of spaces. Entries match whole words only: "ass" does not match "class",
    while a hyphen or an apostrophe ends a word ("crème" matches in "crème-brûlée").

    Args:
        words: the words and phrases.
        action: `"block"` the text, or `"redact"` each occurrence.
        replacement: what an occurrence becomes when redacting.
        category: the verdicts' category.
        name: the guardrail's name.

    Raises:
        UsageError: an empty list (or only blank entries) or a bad action.

    Example:
        >>> DenyList(["crème brûlée"]).check("One CREME BRULEE, please").action
        'block'
        >>> DenyList(["darn"], action="redact", replacement="****").check("Darn it").text
        '**** it'
    """

    def __init__(
        self,
        words: Iterable[str],
        *,
        action: Literal["block", "redact"] = "block",
        replacement: str = "[REDACTED]",
        category: str = "deny_list",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        _check_action(action)
        folded = sorted({fold(w.strip())[0] for w in words if w.strip()}, key=len, reverse=True)
        if not folded:
            raise UsageError("DenyList needs at least one word or phrase")
        alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in folded)
        self.pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
        self.action = action
        self.replacement = replacement
        self.category = category

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Block or redact where a listed word occurs; allow otherwise."""
        folded, index = fold(text)
        spans = [(index[m.start()], index[m.end() - 1] + 1) for m in self.pattern.finditer(folded)]
        if not spans:
            return Verdict.allow()
        if self.action == "block":
            return Verdict.block(f"{len(spans)} denied term(s)", category=self.category)
        for start, end in reversed(spans):
            text = text[:start] + self.replacement + text[end:]
        return Verdict.redact(text, f"{len(spans)} denied term(s) redacted", category=self.category)
