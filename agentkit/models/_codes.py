"""Standard codes a request names in words: languages (ISO 639-1) and currencies (ISO 4217).

A parameter that asks for a language or currency *code* cannot take a span of the request
("Spanish", "Canadian dollars"); these tables give the code of what the request names, which
call shaping then offers as the only values (`agentkit.models.shaping`).

Example:
    >>> [(c.code, c.start) for c in mentioned("250 Canadian dollars in euros", CURRENCIES)]
    [('CAD', 4), ('EUR', 24)]
    >>> [c.code for c in mentioned("Say it in Spanish, then in German", LANGUAGES)]
    ['es', 'de']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CURRENCIES", "LANGUAGES", "Code", "mentioned"]

LANGUAGES = {
    "english": "en", "spanish": "es", "french": "fr", "german": "de", "italian": "it",
    "portuguese": "pt", "japanese": "ja", "chinese": "zh", "mandarin": "zh", "korean": "ko",
    "russian": "ru", "arabic": "ar", "hindi": "hi", "dutch": "nl", "swedish": "sv",
    "norwegian": "no", "danish": "da", "finnish": "fi", "polish": "pl", "turkish": "tr",
    "greek": "el", "hebrew": "he", "thai": "th", "vietnamese": "vi", "indonesian": "id",
    "czech": "cs", "ukrainian": "uk", "romanian": "ro", "hungarian": "hu", "bengali": "bn",
    "catalan": "ca", "swahili": "sw", "tagalog": "tl", "malay": "ms", "persian": "fa",
}  # fmt: skip
"""Language names to ISO 639-1 codes."""

CURRENCIES = {
    "us dollar": "USD", "u.s. dollar": "USD", "american dollar": "USD", "dollar": "USD",
    "usd": "USD", "euro": "EUR", "eur": "EUR", "british pound": "GBP", "pound sterling": "GBP",
    "pound": "GBP", "sterling": "GBP", "gbp": "GBP", "japanese yen": "JPY", "yen": "JPY",
    "jpy": "JPY", "canadian dollar": "CAD", "cad": "CAD", "australian dollar": "AUD",
    "aud": "AUD", "swiss franc": "CHF", "franc": "CHF", "chf": "CHF", "chinese yuan": "CNY",
    "yuan": "CNY", "renminbi": "CNY", "cny": "CNY", "indian rupee": "INR", "rupee": "INR",
    "inr": "INR", "mexican peso": "MXN", "peso": "MXN", "mxn": "MXN", "south korean won": "KRW",
    "korean won": "KRW", "won": "KRW", "krw": "KRW", "brazilian real": "BRL", "real": "BRL",
    "brl": "BRL", "swedish krona": "SEK", "krona": "SEK", "sek": "SEK", "norwegian krone": "NOK",
    "nok": "NOK", "danish krone": "DKK", "dkk": "DKK", "polish zloty": "PLN", "zloty": "PLN",
    "pln": "PLN", "south african rand": "ZAR", "rand": "ZAR", "zar": "ZAR",
    "hong kong dollar": "HKD", "hkd": "HKD", "singapore dollar": "SGD", "sgd": "SGD",
    "new zealand dollar": "NZD", "nzd": "NZD", "turkish lira": "TRY", "lira": "TRY",
    "russian ruble": "RUB", "ruble": "RUB", "rouble": "RUB",
}  # fmt: skip
"""Currency names (singular; plurals are matched too) and codes to ISO 4217 codes."""


@dataclass(frozen=True, slots=True)
class Code:
    """A code the request names: the code, and where its name starts."""

    code: str
    start: int


_PATTERNS: dict[int, re.Pattern[str]] = {}


def _pattern(table: dict[str, str]) -> re.Pattern[str]:
    found = _PATTERNS.get(id(table))
    if found is None:
        names = sorted(table, key=len, reverse=True)  # "canadian dollar" before "dollar"
        alternatives = "|".join(re.escape(name) + "(?:e?s)?" for name in names)
        found = _PATTERNS[id(table)] = re.compile(rf"\b({alternatives})\b", re.IGNORECASE)
    return found


def mentioned(text: str, table: dict[str, str]) -> list[Code]:
    """The codes of the names in `text`, in order of mention (each code once)."""
    out: list[Code] = []
    for match in _pattern(table).finditer(text[:10_000]):
        word = match.group(1).lower()
        code = table.get(word) or table.get(word.removesuffix("s")) or table.get(word[:-2])
        if code and all(c.code != code for c in out):
            out.append(Code(code, match.start()))
    return out
