"""Codes a request names in words: languages (ISO 639-1), currencies (ISO 4217), units, tickers.

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

import itertools
import re
from collections import Counter
from dataclasses import dataclass

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "LANGUAGES",
    "TICKERS",
    "UNITS",
    "UNIT_SYMBOLS",
    "Code",
    "enum_mentions",
    "mentioned",
]

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

COUNTRIES = {
    "american": "United States", "british": "United Kingdom", "english": "England",
    "french": "France", "german": "Germany", "italian": "Italy", "spanish": "Spain",
    "portuguese": "Portugal", "dutch": "Netherlands", "belgian": "Belgium", "swiss": "Switzerland",
    "austrian": "Austria", "swedish": "Sweden", "norwegian": "Norway", "danish": "Denmark",
    "finnish": "Finland", "polish": "Poland", "russian": "Russia", "ukrainian": "Ukraine",
    "greek": "Greece", "turkish": "Turkey", "irish": "Ireland", "scottish": "Scotland",
    "chinese": "China", "japanese": "Japan", "korean": "South Korea", "indian": "India",
    "pakistani": "Pakistan", "thai": "Thailand", "vietnamese": "Vietnam",
    "indonesian": "Indonesia", "filipino": "Philippines", "australian": "Australia",
    "canadian": "Canada", "mexican": "Mexico", "brazilian": "Brazil", "argentine": "Argentina",
    "argentinian": "Argentina", "chilean": "Chile", "peruvian": "Peru", "colombian": "Colombia",
    "egyptian": "Egypt", "moroccan": "Morocco", "nigerian": "Nigeria", "kenyan": "Kenya",
    "ethiopian": "Ethiopia", "israeli": "Israel", "iranian": "Iran", "iraqi": "Iraq",
    "saudi": "Saudi Arabia", "czech": "Czech Republic", "hungarian": "Hungary",
    "romanian": "Romania",
}  # fmt: skip
"""Adjectives of nationality to the country they name ("German history": Germany)."""

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


TICKERS = {
    "apple": "AAPL", "microsoft": "MSFT", "amazon": "AMZN", "alphabet": "GOOGL",
    "google": "GOOGL", "meta": "META", "facebook": "META", "tesla": "TSLA", "nvidia": "NVDA",
    "netflix": "NFLX", "intel": "INTC", "amd": "AMD", "advanced micro devices": "AMD",
    "ibm": "IBM", "oracle": "ORCL", "salesforce": "CRM", "adobe": "ADBE", "cisco": "CSCO",
    "qualcomm": "QCOM", "broadcom": "AVGO", "paypal": "PYPL", "uber": "UBER", "airbnb": "ABNB",
    "spotify": "SPOT", "shopify": "SHOP", "zoom": "ZM", "snowflake": "SNOW", "palantir": "PLTR",
    "coinbase": "COIN", "walmart": "WMT", "costco": "COST", "target": "TGT", "home depot": "HD",
    "nike": "NKE", "starbucks": "SBUX", "mcdonald's": "MCD", "mcdonalds": "MCD",
    "coca-cola": "KO", "coca cola": "KO", "pepsico": "PEP", "pepsi": "PEP", "disney": "DIS",
    "walt disney": "DIS", "boeing": "BA", "ford": "F", "general motors": "GM",
    "general electric": "GE", "exxon": "XOM", "exxonmobil": "XOM", "exxon mobil": "XOM",
    "chevron": "CVX", "jpmorgan": "JPM", "jp morgan": "JPM", "goldman sachs": "GS",
    "morgan stanley": "MS", "bank of america": "BAC", "wells fargo": "WFC", "citigroup": "C",
    "visa": "V", "mastercard": "MA", "berkshire hathaway": "BRK.B", "johnson & johnson": "JNJ",
    "pfizer": "PFE", "moderna": "MRNA", "merck": "MRK", "procter & gamble": "PG",
    "verizon": "VZ", "at&t": "T", "comcast": "CMCSA", "alibaba": "BABA", "sony": "SONY",
    "toyota": "TM", "samsung": "005930.KS", "tsmc": "TSM", "asml": "ASML", "sap": "SAP",
}  # fmt: skip
"""Well-known companies to their primary ticker symbols."""

UNITS = {
    "millimeter": "mm", "centimeter": "cm", "meter": "m", "kilometer": "km", "inch": "in",
    "inches": "in", "foot": "ft", "feet": "ft", "yard": "yd", "mile": "mi", "milligram": "mg",
    "gram": "g", "kilogram": "kg", "kilo": "kg", "tonne": "t", "ounce": "oz", "pound": "lb",
    "lbs": "lb", "stone": "st", "milliliter": "ml", "liter": "l", "teaspoon": "tsp",
    "tablespoon": "tbsp", "fluid ounce": "fl_oz", "fl oz": "fl_oz", "cup": "cup", "pint": "pint",
    "quart": "qt", "gallon": "gal", "celsius": "C", "centigrade": "C", "fahrenheit": "F",
    "kelvin": "K", "byte": "B", "kilobyte": "KB", "megabyte": "MB", "gigabyte": "GB",
    "terabyte": "TB", "second": "s", "minute": "min", "hour": "h", "day": "d", "week": "wk",
    "month": "mo", "year": "yr", "kilowatt": "kW", "watt": "W", "joule": "J", "calorie": "cal",
    "kilocalorie": "kcal", "hectare": "ha", "acre": "ac", "square meter": "m2",
    "square foot": "ft2", "square feet": "ft2", "mph": "mph", "knot": "kn",
}  # fmt: skip
"""Unit names (singular; plurals matched too) to their usual symbols."""
UNIT_SYMBOLS = sorted(set(UNITS.values()))


@dataclass(frozen=True, slots=True)
class Code:
    """A code the request names: the code, and where its name starts."""

    code: str
    start: int
    end: int = -1
    """Where its name ends (-1 where not read)."""


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
            out.append(Code(code, match.start(), match.end()))
    return out


_UNIT_NAMES: dict[str, list[str]] = {}
for _name, _code in UNITS.items():
    _UNIT_NAMES.setdefault(_code.lower(), []).append(_name)


def enum_mentions(text: str, values: list[str]) -> list[Code]:
    """The enum values `text` names, in order of mention (each once), by value or unit name.

    A value is named as written ("business", "premium economy" for `premium_economy`, "MB"),
    or by the name of the unit it abbreviates ("miles" for `mi`, "Celsius" for `C`); a value of
    one letter, or one that is also a common word, only right after a number ("20°C", "3 l").
    A mention inside a longer one ("economy" in "premium economy") does not count.

    Example:
        >>> [c.code for c in enum_mentions("Convert 5 km to miles", ["mm", "km", "mi"])]
        ['km', 'mi']
        >>> [c.code for c in enum_mentions("in the kitchen at 20°C", ["C", "F", "in"])]
        ['C']
    """
    window = text[:10_000]
    folded = window.lower()
    spans: list[tuple[int, int, str]] = []
    folds = Counter(v.lower() for v in values[:MAX_ENUM_VALUES])
    for value in values[:MAX_ENUM_VALUES]:
        lowered = value.lower()
        if folds[lowered] > 1:  # "AA", "Aa" and "aa" are named as written
            spans += _as_written(window, value)
            continue
        for name, flags in _spellings(value):
            if not name.strip() or name.lower() not in folded:  # most values: not written
                continue
            short = len(name) == 1 or name in _COMMON
            bare = name == lowered and short and flags == re.IGNORECASE
            lead = r"(?:(?<=\d)|(?<=\d )|(?<=°))" if bare else r"(?<![^\W\d])(?<!-)"
            tail = "" if bare or len(name) <= 2 else "(?:e?s)?"
            pattern = re.compile(rf"{lead}{re.escape(name)}{tail}(?![\w-])", flags)
            for match in itertools.islice(pattern.finditer(window), MAX_MENTIONS):
                spans.append((match.start(), match.end(), value))
    found: dict[str, Code] = {}
    reach = -1  # the furthest end of the mentions before this one (earlier, or as early and longer)
    for (start, end), group in itertools.groupby(
        sorted(spans, key=lambda s: (s[0], -s[1])), key=lambda s: (s[0], s[1])
    ):
        if reach < end:  # not inside a longer mention
            for _, _, value in group:
                found.setdefault(value, Code(value, start, end))
        reach = max(reach, end)
    return list(found.values())


def _spellings(value: str) -> list[tuple[str, re.RegexFlag]]:
    """The names an enum value goes by, and whether case counts in each."""
    lowered = value.lower()
    spelled = {lowered, lowered.replace("_", " ").replace("-", " ")}
    if lowered.endswith("s") and len(lowered) > 4 and not lowered.endswith("ss"):
        spelled.add(lowered[:-1])  # "tolls" named by "toll roads"
    if lowered.endswith("ed") and len(lowered) > 6 and lowered.isalpha():
        spelled.update((lowered[:-1], lowered[:-2]))  # "detailed" by "detail", "advanced"
    spelled.update([_IRREGULAR[w] for w in spelled if w in _IRREGULAR])  # "children"
    names = [(name, re.IGNORECASE) for name in sorted(spelled)]
    names += [(name, re.IGNORECASE) for name in _UNIT_NAMES.get(lowered, [])]
    if len(value) >= 2 and value.isupper():
        names.append((value, re.NOFLAG))  # "MB", "EUR": as written
    return names


def _as_written(text: str, value: str) -> list[tuple[int, int, str]]:
    """Where `text` writes `value` exactly, as a word (at most `MAX_MENTIONS` times)."""
    if value not in text:
        return []
    pattern = re.compile(rf"(?<![^\W\d_]){re.escape(value)}(?![^\W\d_])")
    found = itertools.islice(pattern.finditer(text), MAX_MENTIONS)
    return [(m.start(), m.end(), value) for m in found]


_IRREGULAR = {
    "child": "children", "person": "people", "man": "men", "woman": "women",
    "foot": "feet", "tooth": "teeth", "mouse": "mice", "goose": "geese",
}  # fmt: skip
"""Singular values whose plural is no "-s": "children" names `child`."""

MAX_ENUM_VALUES = 500
"""Enum values looked for in a request (the rest are never narrowed to)."""
MAX_MENTIONS = 8
"""Mentions of one name read: the first ones decide."""
_COMMON = frozenset("in on at to or by am pm a an it is be as of no all any one".split())
"""Abbreviations that are also common words: named only right after a number."""
