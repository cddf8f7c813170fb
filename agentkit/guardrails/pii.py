"""`PIIGuardrail`: personal data, redacted with typed placeholders or blocked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from agentkit.errors import UsageError
from agentkit.guardrails._base import BaseGuardrail, GuardrailContext, Verdict
from agentkit.guardrails._pii_detect import FINDERS, Span, find_pii, merge, replace_spans

__all__ = ["PII_ENTITIES", "PIIGuardrail"]

PII_ENTITIES = tuple(FINDERS)
"""What the built-in finders detect: EMAIL, IBAN, CREDIT_CARD, IP_ADDRESS, PHONE."""

_PRESIDIO_ENTITIES = ("PERSON", "ADDRESS", "LOCATION")
# Places (cities, countries) are found on request only: "New York" is rarely personal data.
_PRESIDIO_DEFAULT = ("PERSON", "ADDRESS")


class PIIGuardrail(BaseGuardrail):
    """Finds personal data and redacts it with typed placeholders (or blocks the text).

    The built-in finders need nothing but the standard library and take microseconds:

    - `EMAIL`: e-mail addresses;
    - `PHONE`: international numbers (`+44 20 7946 0958`, `0033 ...`), North American
      (`(415) 555-0132`), national with a trunk 0 (`06 12 34 56 78`, `030 1234567`), and bare
      digit runs right after "phone", "call", "mobile"...;
    - `CREDIT_CARD`: 13 to 19 digits (plain, or grouped by four, or Amex 4-6-5), Luhn-valid;
    - `IBAN`: mod-97 valid, compact or grouped by four;
    - `IP_ADDRESS`: IPv4 and IPv6.

    Dates, prices and order numbers pass: card numbers and IBANs must pass their checksums,
    phone numbers must look like phone numbers, and a number right after "order", "invoice",
    "tracking"... is not a card. With `backend="presidio"`, names (`PERSON`) and street
    addresses (`ADDRESS`) are found too, and places (`LOCATION`: cities, countries) on
    request, by presidio with a spaCy model (`pip install 'agentkit[guardrails]'`; loaded
    once per process, a few seconds; each check then takes tens of milliseconds and runs in
    a worker thread).

    Args:
        entities: what to look for; by default everything the backend finds but places.
        action: `"redact"` each finding as `<ENTITY>`, or `"block"` the text.
        backend: `"regex"` (built-in) or `"presidio"` (built-in finders plus presidio's).
        min_score: the least presidio score for a finding to count.
        placeholder: the replacement, with an `{entity}` field.
        name: the guardrail's name.

    Raises:
        UsageError: an unknown entity, backend or action.

    Example:
        >>> pii = PIIGuardrail()
        >>> pii.check("Call +33 6 12 34 56 78 or write to ada@example.com").text
        'Call <PHONE> or write to <EMAIL>'
        >>> pii.check("Order 4111111111111112 ships on 2024-05-17 for $1,299.00").action
        'allow'
    """

    def __init__(
        self,
        entities: Iterable[str] | None = None,
        *,
        action: Literal["redact", "block"] = "redact",
        backend: Literal["regex", "presidio"] = "regex",
        min_score: float = 0.5,
        placeholder: str = "<{entity}>",
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if backend not in ("regex", "presidio"):
            raise UsageError(f"backend must be 'regex' or 'presidio', got {backend!r}")
        if action not in ("redact", "block"):
            raise UsageError(f"action must be 'redact' or 'block', got {action!r}")
        known = PII_ENTITIES + (_PRESIDIO_ENTITIES if backend == "presidio" else ())
        default = PII_ENTITIES + (_PRESIDIO_DEFAULT if backend == "presidio" else ())
        self.entities = tuple(entities) if entities is not None else default
        unknown = [e for e in self.entities if e not in known]
        if unknown:
            raise UsageError(
                f"unknown PII entities {unknown} for backend {backend!r}; known: {list(known)}"
            )
        self.action = action
        self.backend = backend
        self.min_score = min_score
        self.placeholder = placeholder
        self.in_thread = backend == "presidio"

    def find(self, text: str) -> list[Span]:
        """The findings in `text`, sorted by position, without overlaps."""
        spans = find_pii(text, self.entities)
        if self.backend == "presidio" and any(e in _PRESIDIO_ENTITIES for e in self.entities):
            from agentkit.guardrails._presidio import find_entities

            # The built-in findings first (validated), then presidio's, longest first.
            found = find_entities(text, self.entities, self.min_score)
            spans = merge([*spans, *sorted(found, key=lambda s: s.start - s.end)])
        return spans

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Redact (or block) the personal data in `text`; allow a text without any."""
        spans = self.find(text)
        if not spans:
            return Verdict.allow()
        kinds = ", ".join(sorted({s.entity for s in spans}))
        score = max(s.score for s in spans)
        if self.action == "block":
            return Verdict.block(f"personal data: {kinds}", category="pii", score=score)
        redacted = replace_spans(text, spans, self.placeholder)
        reason = f"{len(spans)} personal data item(s) redacted: {kinds}"
        return Verdict.redact(redacted, reason, category="pii", score=score)
