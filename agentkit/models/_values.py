"""What a request's words offer as argument values: spans, numbers, names, and its clauses.

Pure text analysis for call shaping (`agentkit.models.shaping`), linear in the request's length
and bounded: at most `MAX_WORDS` words (and `MAX_CHARS` characters) are read and spans are at
most `MAX_SPAN_WORDS` words long.

Example:
    >>> [n.value for n in numbers("12,000 miles at 25 MPG, three times, 5% off, twenty-five")]
    [12000, 25, 3, 5, 0.05, 25]
    >>> [n.value for n in numbers("$1.2M in 2020, 50 million shares, 5 m long")]
    [1200000, 2020, 50000000, 5]
    >>> [n.text for n in names("What is the weather in New York and in Paris?")]
    ['New York', 'Paris']
    >>> clauses("Find the GCD of 96 and 128, and the LCM of 15 and 25. Also, add 2 and 3.")
    ['Find the GCD of 96 and 128', 'the LCM of 15 and 25.', 'add 2 and 3.']
"""

from __future__ import annotations

import ast
import bisect
import datetime
import math
import re
from collections.abc import Collection
from dataclasses import dataclass

__all__ = [
    "Value",
    "clauses",
    "conjuncts",
    "dates",
    "distinct",
    "examples",
    "expression",
    "formulas",
    "names",
    "numbers",
    "options",
    "spans",
    "times",
]

MAX_WORDS = 200
"""Words of a request read for values (the rest offers none)."""
MAX_CHARS = 5_000
"""Characters of a request read for values (a request of few, very long words stops here)."""
MAX_SPAN_WORDS = 10
"""The longest span offered as a string value, in words."""

STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or but as is are was be been it its this that "
    "these those my me i you your we our he she they them his her their what which who whom "
    "whose when where why how do does did can could would should will shall may might please "
    "also then than there here into onto over under about after before between per each all "
    "any some if so not no yes up down out off via using use within without through during "
    "until since toward towards against among along across beyond upon i'm i'd i'll i've".split()
)
"""Words that never begin or end a span offered as a value."""

LEADING_WORDS = STOPWORDS | frozenset(
    "what's whats find get calculate compute tell show give book play search convert translate "
    "send set create make list fetch determine check look let help add remind open run plot "
    "predict estimate identify retrieve provide generate recommend suggest schedule order buy "
    "turn switch dim lock unlock start stop pause resume cancel delete remove update save "
    "download upload write read summarize summarise explain describe compare analyze analyse "
    "sort filter measure track notify post share print display install reserve rent "
    "i'm i'd i'll hi hello hey thanks thank firstly secondly thirdly lastly finally now "
    "next first second third fourth fifth also additionally furthermore moreover then".split()
)
"""Capitalised only because they begin a sentence: not names."""

_WORD = re.compile(r"\S+")
_QUOTES = "\u2018\u2019\u201c\u201d"  # curly quotes
_EDGE = "\"'`()[]{}<>,.;:!?" + _QUOTES
_SENTENCE_END = re.compile(rf"[.!?;]+[\"'){_QUOTES}]*$")
_NUMBER = re.compile(r"(?<![\w.^])[-+]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(%?)|(?<![\w.])\.\d+")
_EXPONENT = re.compile(r"(?:\s*[x\u00d7*]\s*10\s*\^\s*|[eE])([-+\u2212]?\d{1,3})(?![\w.])")
"""A power of ten after a number: " x 10^-12", "e23"."""
QUOTED = re.compile(rf"(?<!\w)[\"'{_QUOTES}]([^\"'{_QUOTES}\n]{{1,80}})[\"'{_QUOTES}](?!\w)")
_QUOTED_TEXT = re.compile(rf"(?<!\w)[\"'{_QUOTES}][^\"'{_QUOTES}\n]{{1,240}}[\"'{_QUOTES}](?!\w)")
"""A quoted text, of sentences too ("'I had a great day. The weather was perfect.'"), unless
it opens the request (a whole request in quotes)."""
_CLAUSE = re.compile(
    r"(?<=[.!?;])\s+|,\s*(?:and\s+)?(?:also|then|as well as|additionally|plus)\b,?\s*"
    r"|\s+and\s+also\b,?\s*"
    r"|,?\s+and\s+(?=(?:what|how|find|get|calculate|compute|tell|show|give|remind|check|pick|"
    r"read|translate|convert|define|search|look|set|send|add|list|book|play|create|make|email|"
    r"text|call|open|start|schedule|order|buy|fetch|determine|estimate|predict|plot)\b)"
    r"|,\s+and\s+(?=(?:the|a|an)\b)"
    r"|,\s*(?=(?:what|how|who|where|when|which)\s+(?:is|are|was|were|does|do|did|many|much)\b)",
    re.IGNORECASE,
)
_CONJUNCT = re.compile(r",?\s+and\s+|,\s+", re.IGNORECASE)
MAX_CONJUNCTS = 8
"""The most parts a clause is cut into by `conjuncts`."""
_LEAD = re.compile(r"^(?:and\s+)?(?:also|then|additionally|plus)\b,?\s*", re.IGNORECASE)
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "dozen": 12,
    "single": 1, "double": 2, "twice": 2, "once": 1, "half": 0.5, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_SCALE = re.compile(r"(?:\s?((?i:thousand|million|billion|trillion))|(K|M|B|bn))\b")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9,
           "b": 1e9, "trillion": 1e12}  # fmt: skip
_SELF = frozenset("i i'm i'd i'll i've".split())
"""Capitalised wherever they stand: never names."""
_DIRECTIONS = frozenset(("from", "to", "into", "via", "by"))
_TENS = frozenset("twenty thirty forty fifty sixty seventy eighty ninety".split())


@dataclass(frozen=True, slots=True)
class Value:
    """A value found in a request: its text, what it means, and where it starts."""

    text: str
    value: str | int | float
    start: int


@dataclass(frozen=True, slots=True)
class _Word:
    text: str  # without edge punctuation
    start: int
    end: int
    ends_sentence: bool


def _words(text: str) -> list[_Word]:
    out: list[_Word] = []
    for match in _WORD.finditer(text):
        raw = match.group()
        core = raw.strip(_EDGE)
        if core[-2:].lower() in ("'s", "\u2019s") and len(core) > 2:
            core = core[:-2]  # "Einstein's" is Einstein
        if not core:
            continue
        start = match.start() + raw.index(core)
        ends = bool(_SENTENCE_END.search(raw))
        out.append(_Word(core, start, start + len(core), ends))
        if len(out) >= MAX_WORDS:
            break
    return out


def spans(text: str, *, after: Collection[str] | None = None) -> list[str]:
    """Contiguous runs of words, as written, that could be a string argument.

    Runs stay within a sentence, hold at most `MAX_SPAN_WORDS` words, neither begin nor end
    with a stop word, never begin with the verb that opens a sentence ("Translate ..."), and
    never cut a name ("Harbor View Hotel", not "Harbor View") nor a quoted text ("named
    'Wonder" is no span); quoted text is offered whole.
    Longer runs come first. `after`, if given, keeps only the runs that follow one of those
    words ("from", "to"), articles skipped.

    Example:
        >>> spans("Translate 'thank you' into Spanish.")
        ['thank you', 'thank', 'Spanish']
        >>> spans("Fly from the Bay Area to New York", after={"from"})
        ['Bay Area']
    """
    words = _words(text)
    inside = _name_interiors(text)
    quoted = [m.span() for m in QUOTED.finditer(text[: _limit(text)])]
    found: dict[str, None] = {text[a + 1 : b - 1].strip(): None for a, b in quoted}
    if after is not None:
        found = {}
    runs: list[tuple[int, str]] = []
    opens = True
    for i, first in enumerate(words):
        lowered = first.text.lower()
        starts = opens
        opens = first.ends_sentence
        if lowered in STOPWORDS or (starts and lowered in LEADING_WORDS) or (i, "start") in inside:
            continue
        if after is not None and not _follows(words, i, after):
            continue
        for j in range(i, min(i + MAX_SPAN_WORDS, len(words))):
            last = words[j]
            if after is not None and j > i and last.text.lower() in _DIRECTIONS:
                break  # "from A to B": what follows "from" ends at "to"
            if (
                last.text.lower() not in STOPWORDS
                and (j, "end") not in inside
                and not _cuts(first.start, last.end, quoted)
            ):
                piece = text[first.start : last.end].strip(_EDGE + " ")
                if piece:
                    runs.append((j - i, piece))
            if last.ends_sentence or _CLAUSE_BREAK.match(text, last.end):
                break
    runs.sort(key=lambda run: -run[0])
    found.update((piece, None) for _, piece in runs)
    return [span for span in found if span and "\n" not in span]


_CLAUSE_BREAK = re.compile(
    r"[\"'\u2019\u201d)]*,\s+(?:and|but)\s+(?:i|i'm|i'd|we|you|it|they|he|she)\b", re.IGNORECASE
)
"""A comma that joins a new clause ("next Friday, and I am interested ..."): runs end there."""


def _cuts(start: int, end: int, quoted: list[tuple[int, int]]) -> bool:
    """Whether a run from `start` to `end` holds part of a quoted text but not all of it."""
    return any(
        start < b and a < end and not (start <= a and b <= end) and not (a < start and end < b)
        for a, b in quoted
    )


def _follows(words: list[_Word], i: int, after: Collection[str]) -> bool:
    """Whether word `i` comes right after one of `after` (articles between are skipped)."""
    j = i - 1
    while j >= 0 and words[j].text.lower() in ("the", "a", "an"):
        j -= 1
    return j >= 0 and words[j].text.lower() in after


def _name_interiors(text: str) -> set[tuple[int, str]]:
    """Word positions where a span may not start or end, so as not to cut a name in two."""
    words = _words(text)
    index = {w.start: k for k, w in enumerate(words)}
    out: set[tuple[int, str]] = set()
    for name in names(text):
        first = index.get(name.start)
        if first is None:
            continue
        last = first + len(_WORD.findall(name.text)) - 1
        out.update((k, "start") for k in range(first + 1, last + 1))
        out.update((k, "end") for k in range(first, last))
    return out


def numbers(text: str) -> list[Value]:
    """Numbers written in digits (`12,000`, `$30.45`, `5km`, `25%`) or words (`three`).

    A percentage is offered both ways (25 and 0.25), as is a number glued to "K" (298,000 and
    298 kelvin); a power of ten is read with its number ("8.854 x 10^-12", "6.02e23");
    integral values are ints.

    Example:
        >>> [v.value for v in numbers("a permittivity of 8.854 x 10^-12 F/m, 6.02e23 atoms")]
        [8.854e-12, 6.02e+23]
    """
    out: list[Value] = []
    limit = _limit(text)
    read_to = 0  # the end of the last number read with its exponent ("8.854 x 10^-12")
    for match in _NUMBER.finditer(text[:limit]):
        if match.start() < read_to:
            continue
        raw = match.group()
        digits = raw.replace(",", "").replace("$", "").rstrip("%")
        value = float(digits)
        power = None if raw.endswith("%") else _EXPONENT.match(text, match.end(), limit)
        scaled = float(f"{digits}e{power.group(1).replace(chr(0x2212), '-')}") if power else 0.0
        if power and math.isfinite(scaled) and (scaled or not value):  # not 1e999, 1e-999
            raw, read_to = text[match.start() : power.end()], power.end()
            out.append(Value(raw, _tidy(scaled), match.start()))
            continue
        scale = _SCALE.match(text, match.end(), limit)
        if scale and not raw.endswith("%"):  # "50 million", "$1.2M"
            value *= _SCALES[(scale.group(1) or scale.group(2)).lower()]
            raw = text[match.start() : scale.end()].rstrip()
        out.append(Value(raw, _tidy(value), match.start()))
        if scale and scale.group(2) == "K" and not raw.startswith("$"):  # "298K": or kelvin
            out.append(Value(raw, _tidy(float(digits)), match.start()))
        if raw.endswith("%"):
            out.append(Value(raw, _tidy(value / 100), match.start()))
    for word in _words(text):
        named = _number_word(word.text.lower())
        if named is not None:
            out.append(Value(word.text, named, word.start))
    out.sort(key=lambda v: v.start)
    return out


def distinct(values: list[Value]) -> list[Value]:
    """One value per place in the text, the first of each (a percentage is read two ways)."""
    by_start = {v.start: v for v in reversed(values)}
    return sorted(by_start.values(), key=lambda v: v.start)


def names(text: str) -> list[Value]:
    """Proper names (runs of capitalised words) and quoted text, in order of appearance."""
    limit = _limit(text)
    out: list[Value] = [
        Value(m.group(1), m.group(1), m.start()) for m in QUOTED.finditer(text, 0, limit)
    ]
    quoted = [(v.start, v.start + len(v.text) + 2) for v in out]
    starts = [a for a, _ in quoted]
    run: list[_Word] = []
    sentence_start = True

    def flush() -> None:
        while run and run[-1].text == "&":
            run.pop()
        if run:
            piece = text[run[0].start : run[-1].end]
            at = bisect.bisect_right(starts, run[0].start) - 1  # the last quote opened before
            if at < 0 or run[0].start >= quoted[at][1]:
                out.append(Value(piece, piece, run[0].start))
            run.clear()

    for word in _words(text):
        lowered = word.text.lower()
        capital = word.text[:1].isupper() and not word.text[:1].isdigit()
        if capital and not (sentence_start and lowered in LEADING_WORDS) and lowered not in _SELF:
            run.append(word)
        elif word.text == "&" and run:  # "Johnson & Johnson", "AT&T" stay one name
            run.append(word)
        elif run and word.text.isdigit() and _numbered(text, run[-1], word):
            run.append(word)  # "Maroon 5", "Windows 11": the number is part of the name
            flush()
        else:
            flush()
        if word.ends_sentence or text[word.end : word.end + 1] == ",":
            flush()
        sentence_start = word.ends_sentence
    flush()
    out.sort(key=lambda v: v.start)
    return out


_OPTION_CUE = re.compile(
    r"\b(?:options?|one of|either|choices?|possible|can be|allowed|supported|valid|accepted)\b"
    r"|['\"\u2019\u201d]\s*(?:or|/)\s*['\"\u2018\u201c]",
    re.IGNORECASE,
)
DEFAULT_CUE = r"\bdefaults?(?: value)?(?: is| to|:)"
"""The words that state a description's default ("Default value is", "defaults to")."""
EXAMPLE_CUES = r"e\.g\.|eg\.|i\.e\.|for example|for instance|such as|like|examples?:"
"""The words that introduce a description's examples, as a regular expression's alternatives."""
_EXAMPLE_CUE = re.compile(rf"\b(?:{EXAMPLE_CUES})", re.IGNORECASE)


def options(description: str) -> list[str]:
    """The values a parameter's description lists as its choices, in order (none if it lists none).

    Two or more quoted values of at most three words, announced as choices ("Options are
    'Standard', 'Deluxe', 'Suite'"; "('Celsius' or 'Fahrenheit')"); quoted examples ("e.g.
    'Paris'") are no choices.

    Example:
        >>> options("The room type, default is 'Standard'. Options are 'Standard', 'Suite'.")
        ['Standard', 'Suite']
        >>> options("The city, e.g. 'Paris' or 'Tokyo'.")
        []
    """
    text = description[:1000]
    if not _OPTION_CUE.search(text) or _EXAMPLE_CUE.search(text):
        return []
    found = [m.group(1).strip() for m in QUOTED.finditer(text)]
    listed = [v for v in dict.fromkeys(found) if v and len(v.split()) <= 3]
    return listed if len(listed) >= 2 else []


def examples(description: str) -> list[str]:
    """The example values a description gives: quoted after "e.g.", "for example", "such as".

    Example:
        >>> examples("The competition (for example, 'UEFA Champions League').")
        ['UEFA Champions League']
        >>> examples("The diet, e.g. 'Vegan' or 'Keto'. Default 'None'.")
        ['Vegan', 'Keto']
        >>> examples("Type of cuisine, e.g. Italian, Japanese etc."), examples("e.g. the city")
        (['Italian', 'Japanese'], [])
        >>> examples("Dietary restrictions e.g. vegan, vegetarian, gluten free.")
        ['vegan', 'vegetarian', 'gluten free']
        >>> examples("The information needed. i.e., victim, accused, verdict etc.")
        ['victim', 'accused', 'verdict']
    """
    text = description[:1000]
    cue = _EXAMPLE_CUE.search(text)
    if not cue:
        return []
    tail = re.split(r"(?<=[.;)])\s|[;)]", text[cue.end() :], maxsplit=1)[0]
    found = [m.group(1).strip() for m in QUOTED.finditer(tail)]
    if not found:  # "e.g. Italian, Japanese etc."; "e.g. vegan, vegetarian, gluten free"
        parts = [p.strip(_EDGE + " ") for p in _EXAMPLE_GAP.split(tail.rstrip(". "))]
        parts = [p for p in parts if p and p.lower() not in LEADING_WORDS]
        listed = len(parts) >= 2 and all(len(p.split()) <= 3 for p in parts)
        found = [p for p in parts if listed or p[:1].isupper()]
    return [v for v in dict.fromkeys(found) if v and len(v.split()) <= 4]


_EXAMPLE_GAP = re.compile(r",|\b(?:or|and|etc)\b", re.IGNORECASE)


def written(phrase: str, text: str) -> re.Match[str] | None:
    """Where the text writes a phrase as whole words, in any case (of its first `MAX_CHARS`).

    Example:
        >>> written("amu", "in atomic mass unit (AMU)").group(), written("amu", "amulet")
        ('AMU', None)
    """
    if not phrase or phrase.lower() not in text[:MAX_CHARS].lower():  # a cheap look first
        return None
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text[:MAX_CHARS], re.IGNORECASE)


_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()
CALENDAR = frozenset(
    [m.capitalize() for m in _MONTH_NAMES]
    + "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)
"""Parts of a date, not names."""


def _numbered(text: str, last: _Word, number: _Word) -> bool:
    """Whether a number written right after a name belongs to it (not "March 10")."""
    return text[last.end : number.start] == " " and last.text not in CALENDAR


_MONTHS = {n: i for i, month in enumerate(_MONTH_NAMES, 1) for n in (month, month[:3])}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATES = [
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s*{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),  # also "June01 2023"
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
]
_TIME = re.compile(
    r"\b(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>[ap])\.?m\.?(?!\w)"
    r"|\b(?P<hour24>\d{1,2}):(?P<minute24>\d{2})\b(?!\s*[ap]\.?m)"
    r"|\b(?P<word>noon|midnight)\b",
    re.IGNORECASE,
)


def dates(text: str) -> list[Value]:
    """The calendar dates written in full ("21 June 2025", "August 5th, 2025", "2025-08-05").

    Example:
        >>> [str(d.value) for d in dates("From the 5th of August 2025 to Sep 9, 2025")]
        ['2025-08-05', '2025-09-09']
    """
    found: dict[int, Value] = {}
    window = text[:10_000]
    for pattern in _DATES:
        for match in pattern.finditer(window):
            month = match.group("month").lower().rstrip(".")
            number = int(month) if month.isdigit() else _MONTHS[month]
            try:
                day = datetime.date(int(match.group("year")), number, int(match.group("day")))
            except ValueError:
                continue
            found.setdefault(match.start(), Value(match.group(), day.isoformat(), match.start()))
    return sorted(found.values(), key=lambda v: v.start)


def times(text: str) -> list[Value]:
    """The clock times written ("6:30 pm", "8am", "18:45", "noon"), as "HH:MM" (24-hour).

    Example:
        >>> [t.value for t in times("Remind me at 6:30 pm, at 8am, at 18:45 and at noon")]
        ['18:30', '08:00', '18:45', '12:00']
    """
    out = []
    for match in _TIME.finditer(text[:10_000]):
        if match.group("word"):
            hour, minute = (12, 0) if match.group("word").lower() == "noon" else (0, 0)
        elif match.group("half"):
            hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if match.group("half").lower() == "p" else 0)
        else:
            hour, minute = int(match.group("hour24")), int(match.group("minute24"))
        if hour < 24 and minute < 60:
            out.append(Value(match.group(), f"{hour:02d}:{minute:02d}", match.start()))
    return out


_OPERATORS = {
    "plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/",
    "over": "/", "to the power of": "**", "squared": "** 2", "cubed": "** 3",
    "+": "+", "-": "-", "*": "*", "x": "*", "\u00d7": "*", "/": "/", "\u00f7": "/", "^": "^",
    "(": "(", ")": ")",
}  # fmt: skip
_MATH = re.compile(
    r"\s*(?:(?P<number>\d[\d,]*(?:\.\d+)?|\.\d+)(?P<percent>%(?:\s+of\b)?)?"
    r"|(?P<op>multiplied by|divided by|to the power of|plus|minus|times|over|squared|cubed"
    r"|[-+*/^()\u00d7\u00f7]|x(?=\s*\d))|,(?=\s*(?:plus|minus|times|divided|multiplied)\b))",
    re.IGNORECASE,
)


_TERM = r"(?:\d+(?:\.\d+)?\*?)?[a-z](?![a-z])(?:\s*(?:\^|\*\*)\s*\d+)?|\d+(?:\.\d+)?"
_FORMULA = re.compile(rf"(?<![\w.])(?:{_TERM})(?:\s*[-+*/]\s*(?:{_TERM})){{0,30}}", re.IGNORECASE)
_VARIABLE_TERM = re.compile(r"\d\*?[a-z](?![a-z])|[a-z]\s*(?:\^|\*\*)", re.IGNORECASE)


def formulas(text: str) -> list[tuple[int, int]]:
    """Where the text writes a formula in a variable ("2x^2", "3x^2 + 2x - 1"): start, end.

    Example:
        >>> text = "the derivative of 3x^2 + 2x - 1 at x = 2"
        >>> [text[a:b] for a, b in formulas(text)]
        ['3x^2 + 2x - 1']
    """
    window = text[:10_000]
    return [
        (m.start(), m.end()) for m in _FORMULA.finditer(window) if _VARIABLE_TERM.search(m.group())
    ]


def expression(text: str) -> str | None:
    """The arithmetic a request writes, as an expression; None when it writes none.

    "15% of 80, plus 12" is "0.15 * 80 + 12"; an expression has two numbers and an operator at
    least, and parses as Python arithmetic (with "^" for a power, as written).

    Example:
        >>> expression("What's 15% of 80, plus 12?"), expression("Calculate (48 + 12) / 7.5")
        ('0.15 * 80 + 12', '(48 + 12) / 7.5')
        >>> expression("What is 17% of 2,340?"), expression("Meet at 5 on 3rd street")
        ('0.17 * 2340', None)
    """
    best: list[str] = []
    window = text[:2_000]
    start = 0
    while start < len(window):
        pieces, position = _math_run(window, start)
        if sum(p[:1].isdigit() or p[:1] == "." for p in pieces) >= 2 and len(pieces) > len(best):
            best = pieces
        start = max(position, start + 1)
    while best and best[-1] in ("+", "-", "*", "/", "^", "(", "**"):
        best.pop()
    written = " ".join(best).replace("( ", "(").replace(" )", ")")
    try:
        ast.parse(written.replace("^", "**"), mode="eval")
    except SyntaxError:
        return None
    operators = any(p in _OPERATORS.values() or p.startswith("**") for p in best if p not in "()")
    return written if operators and best else None


def _math_run(text: str, start: int) -> tuple[list[str], int]:
    """The arithmetic pieces written from `start` on, and where they end."""
    pieces: list[str] = []
    position = start
    while (match := _MATH.match(text, position)) and match.end() > position:
        position = match.end()
        if match.group("number"):
            number = match.group("number").replace(",", "")
            if match.group("percent"):
                value = float(number) / 100
                number = repr(round(value, 10)).removesuffix(".0")
                pieces += [number, "*"] if "of" in match.group("percent").lower() else [number]
            else:
                pieces.append(number)
        elif match.group("op"):
            pieces.append(_OPERATORS[match.group("op").lower()])
    return pieces, position


def clauses(text: str) -> list[str]:
    """The request cut where a new request may begin: sentences, "also", "then", ", and the"."""
    text = text[: _limit(text)]
    opening = len(text) - len(text.lstrip())
    quoted = [(m.start(), m.end()) for m in _QUOTED_TEXT.finditer(text) if m.start() > opening]
    pieces, start = [], 0
    for cut in _CLAUSE.finditer(text):  # a quoted text of two sentences is one value
        if not any(a < cut.start() < b for a, b in quoted):
            pieces.append(text[start : cut.start()])
            start = cut.end()
    pieces.append(text[start:])
    parts = [_LEAD.sub("", p.strip()) for p in pieces]
    return [p for p in parts if p and any(ch.isalnum() for ch in p)]


def conjuncts(clause: str) -> list[str]:
    """The parts of a clause joined by "and" ("A and B", "A, B and C"), if each says something.

    Commas cut only in a list that ends with "and"; quoted text is never cut; every part holds
    at least two words of letters ("between 1 and 100" is one part); at most `MAX_CONJUNCTS`.
    """
    quoted = [(m.start(), m.end()) for m in QUOTED.finditer(clause)]
    cuts = [m for m in _CONJUNCT.finditer(clause) if not any(a <= m.start() < b for a, b in quoted)]
    while cuts and "and" not in cuts[-1].group().lower():
        cuts.pop()  # commas after the last "and" are no list
    parts, start = [], 0
    for match in cuts[: MAX_CONJUNCTS - 1]:
        parts.append(clause[start : match.start()].strip())
        start = match.end()
    parts.append(clause[start:].strip())
    if any(len(re.findall(r"[^\W\d_]{2,}", p)) < 2 for p in parts):
        return [clause]
    return parts


def _number_word(word: str) -> int | float | None:
    """`three`, `dozens`, `twenty-five`: the number a word names, if it names one."""
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in NUMBER_WORDS:
        return NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]]
    return NUMBER_WORDS.get(word, NUMBER_WORDS.get(word.removesuffix("s")))


def _limit(text: str) -> int:
    """Where reading stops: after `MAX_WORDS` words, or `MAX_CHARS` characters ("1+1+...")."""
    words = list(_words(text))
    return min(words[-1].end + 1 if len(words) >= MAX_WORDS else len(text), MAX_CHARS)


def _tidy(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 10**15 else value
