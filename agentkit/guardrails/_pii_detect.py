"""Finding personal data with regular expressions and checksums (standard library only).

Each finder yields the spans of one kind of entity. Candidates are validated where a
checksum exists (Luhn for card numbers, mod-97 for IBANs, the `ipaddress` module for IPs),
so that order numbers, dates and prices pass. `find_pii` merges the finders' spans: where two
overlap, the one found by the earlier finder in `FINDERS` wins.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

__all__ = ["FINDERS", "Span", "find_pii", "iban_valid", "luhn_valid", "replace_spans"]


@dataclass(frozen=True, slots=True)
class Span:
    """An entity found in a text: `text[start:end]` is an `entity` (e.g. `"EMAIL"`)."""

    start: int
    end: int
    entity: str
    score: float = 1.0


_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
# 13 to 19 digits in one run, in groups of four (a last group of 1 to 7), or Amex's 4-6-5.
_CARD = re.compile(
    r"(?<![\d.,])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?![\d]|[.,]\d)"
)
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![\w-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]{2,45}(?![\w:])")
# International: "+" (or "00") and the country code, then groups of digits.
_PHONE_INTL = re.compile(r"(?<![\w+])(\+|00)[1-9]\d{0,3}(?:[ .\-/]?\(?\d{1,5}\)?){1,6}(?!\w)")
# North American: (555) 123-4567, 555-123-4567, 555.123.4567.
_PHONE_NANP = re.compile(r"(?<![\w+(])(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?!\w|[.\-]\d)")
# National numbers with a trunk 0: 06 12 34 56 78, 020 7946 0958, 030 1234567, 089/1234567.
_PHONE_NATIONAL = re.compile(
    r"(?<![\w+.,/-])0\d{1,4}(?:(?:[ .\-]\d{2,4}){2,4}|[ /\-]\d{5,8})(?!\w|[.,/\-]\d)"
)
# A bare run of digits counts as a phone number only right after a word that says so.
_PHONE_KEYWORD = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|call|fax|whatsapp|sms)\b\D{0,20}?"
    r"(?<![\w+])(\+?\d{9,15})(?!\w)"
)
_ALL_DIGITS = re.compile(r"\d")
# Words that name a number as something else than a card: "order number 4000...".
_NOT_A_CARD = re.compile(
    r"\b(?:order|invoice|tracking|shipment|parcel|serial|ticket|reference|ref|batch|sku|isbn|"
    r"booking|confirmation)\b\W*(?:(?:number|no|nr|id|code)\b\W*)?$",
    re.IGNORECASE,
)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum of card numbers.

    Example:
        >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
        (True, False)
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) passes the ISO 13616 mod-97 check.

    Example:
        >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
        (True, False)
    """
    compact = iban.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _digits(text: str) -> int:
    return len(_ALL_DIGITS.findall(text))


def find_emails(text: str) -> Iterator[Span]:
    """E-mail addresses."""
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "EMAIL")


def find_cards(text: str) -> Iterator[Span]:
    """Payment card numbers: 13 to 19 digits, a known first digit (2 to 6), Luhn-valid.

    A number right after a word such as "order", "invoice" or "tracking" (and "number") is
    taken for what that word says.
    """
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] not in "23456" or not luhn_valid(digits):
            continue
        if not _NOT_A_CARD.search(text, max(0, m.start() - 30), m.start()):
            yield Span(m.start(), m.end(), "CREDIT_CARD")


def find_ibans(text: str) -> Iterator[Span]:
    """IBANs, compact or in groups of four, mod-97 valid (trailing groups that break it trimmed)."""
    for m in _IBAN.finditer(text):
        candidate = m.group()
        while len(candidate.replace(" ", "")) >= 15:
            if iban_valid(candidate):
                yield Span(m.start(), m.start() + len(candidate), "IBAN")
                break
            if " " not in candidate:
                break
            candidate = candidate.rsplit(" ", 1)[0]


def find_ips(text: str) -> Iterator[Span]:
    """IPv4 and IPv6 addresses (valid per the `ipaddress` module)."""
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield Span(m.start(), m.end(), "IP_ADDRESS")
    for m in _IPV6.finditer(text):
        candidate = m.group().rstrip(".")
        if not any(c.isdigit() for c in candidate):  # "a::b" is an address, rarely in prose
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Span(m.start(), m.start() + len(candidate), "IP_ADDRESS")


def find_phones(text: str) -> Iterator[Span]:
    """Phone numbers in the usual international and national formats.

    International (+ or 00), North American, national with a trunk 0, or a bare number right
    after a word such as "phone" or "call".
    """
    for m in _PHONE_INTL.finditer(text):
        n, separators = _digits(m.group()), len(re.findall(r"[ .\-/()]", m.group()))
        if 8 <= n <= 15 and (m.group(1) == "+" or (n >= 10 and separators >= 2)):
            yield Span(m.start(), m.end(), "PHONE")
    for m in _PHONE_NANP.finditer(text):
        yield Span(m.start(), m.end(), "PHONE")
    for m in _PHONE_NATIONAL.finditer(text):
        if 9 <= _digits(m.group()) <= 11:
            yield Span(m.start(), m.end(), "PHONE")
    for m in _PHONE_KEYWORD.finditer(text):
        yield Span(m.start(1), m.end(1), "PHONE")


FINDERS: dict[str, Callable[[str], Iterable[Span]]] = {
    "EMAIL": find_emails,
    "IBAN": find_ibans,
    "CREDIT_CARD": find_cards,
    "IP_ADDRESS": find_ips,
    "PHONE": find_phones,
}
"""The finder of each entity, in order of precedence where spans overlap."""


def merge(spans: Iterable[Span]) -> list[Span]:
    """Spans sorted by position, each dropped that overlaps one listed before it in `spans`."""
    kept: list[Span] = []
    for span in spans:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def find_pii(text: str, entities: Iterable[str]) -> list[Span]:
    """The spans of the given entities (keys of `FINDERS`) in `text`, without overlaps.

    Example:
        >>> [s.entity for s in find_pii("ada@example.com, +44 20 7946 0958", FINDERS)]
        ['EMAIL', 'PHONE']
    """
    wanted = set(entities)
    return merge(
        span for entity, find in FINDERS.items() if entity in wanted for span in find(text)
    )


def replace_spans(text: str, spans: Iterable[Span], placeholder: str = "<{entity}>") -> str:
    """`text` with each (non-overlapping) span replaced by its placeholder.

    Example:
        >>> replace_spans("mail ada@example.com", [Span(5, 20, "EMAIL")])
        'mail <EMAIL>'
    """
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        text = text[: span.start] + placeholder.format(entity=span.entity) + text[span.end :]
    return text
