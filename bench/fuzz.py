"""Hostile model replies against the reply parser, the streaming scanner and the agent loop.

Each class of hostile reply has a generator (a seeded `random.Random` and a size in, a reply
out). Every reply goes through `format.parse` for each format, through the format's streaming
scanner in random pieces (it must announce a prefix of the calls `parse` finds and finish with
exactly what `parse` returns), and end to end through `Agent(...).run` on a model that streams
it in random pieces. A *crash* is any exception other than agentkit's own errors, or a broken
invariant (a call that does not serialise, the scanner disagreeing with `parse`, too many
errors); a *hang* is an input that takes longer than `--hang` seconds.

Before the fuzzing it prints parse time against reply size (10 KB to 1 MB) for the shapes that
used to be quadratic, parsed whole and streamed in 4-character deltas.

Usage:
    python bench/fuzz.py                         # 100 inputs per class, seed 0
    python bench/fuzz.py --count 1000 --seed 7   # rerun anyone's figures with their seed
    python bench/fuzz.py --size 1000000          # replies up to 1 MB (default 200 KB)
    python bench/fuzz.py --no-loop               # parser and scanner only
    python bench/fuzz.py --count 0               # the scaling table only

tests/test_fuzz.py runs the same generators with fewer, smaller inputs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agentkit import Agent, Message, tool  # noqa: E402
from agentkit.errors import AgentkitError  # noqa: E402
from agentkit.formats import HermesFormat, SmolLM2Format, StableLMFormat, ToolFormat  # noqa: E402
from agentkit.messages import ToolCall  # noqa: E402
from agentkit.models import ModelRequest, ModelResponse, ScriptedModel  # noqa: E402

FORMATS: list[ToolFormat] = [StableLMFormat(), HermesFormat(), SmolLM2Format()]
TOOL_NAMES = ("add", "echo", "boom")
MAX_LISTED_ERRORS = 9  # the parser lists at most 8 errors and one line counting the rest
WRAPPERS = ["<tool_call>", "</tool_call>", "<|python_tag|>", "[TOOL_CALLS]", "<functioncall>"]
PROSE = "Sure, let me check that. I don't know [yet] {maybe} it's \"fine\" <b>ok</b>\n"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@tool
def boom() -> str:
    """Always fails."""
    raise RuntimeError("boom")


# -- generators: (rng, size) -> one hostile reply --------------------------------------------------


def _call(rng: random.Random, name: str | None = None, text: str = "x") -> dict[str, Any]:
    name = name or rng.choice(["add", "echo", "boom", "launch"])
    if name == "add":
        return {"name": name, "arguments": {"a": rng.randint(-9, 9), "b": rng.randint(0, 9)}}
    return {"name": name, "arguments": {"text": text} if name == "echo" else {}}


def _render(rng: random.Random, calls: list[dict[str, Any]]) -> str:
    fmt = rng.choice(FORMATS)
    return fmt.render_calls([ToolCall(name=c["name"], arguments=c["arguments"]) for c in calls])


def _prose(rng: random.Random, size: int) -> str:
    return (PROSE * (size // len(PROSE) + 1))[: rng.randint(0, max(size, 0))]


def deep_nesting(rng: random.Random, size: int) -> str:
    depth = min(rng.choice([63, 64, 65, 66, 200, 1000, 5000, 50_000]), max(size // 2, 65))
    inner = "[" * depth + "]" * depth
    shape = rng.choice(["prose before", "tags", "unclosed", "python", "prose", "leading", "args"])
    if shape == "prose before":
        return f'Sure. [{{"name": "add", "arguments": {{"a": {inner}}}}}]'
    if shape == "tags":
        return f'<tool_call>{{"name": "echo", "arguments": {{"text": {inner}}}}}</tool_call>'
    if shape == "unclosed":
        return '[{"name": "add", "arguments": {"a": ' + "[" * depth
    if shape == "python":
        return "[{'name': 'add', 'arguments': {'a': " + "(" * depth + ")" * depth + "}}]"
    if shape == "prose":
        return "[" * depth + " " + json.dumps([_call(rng)]) + " " + "{" * depth
    if shape == "leading":
        return inner + json.dumps([_call(rng)])
    nested = '{"a": ' * (depth - 1) + "1" + "}" * (depth - 1)  # arguments `depth` levels deep
    return f'[{{"name": "echo", "arguments": {{"text": {nested}}}}}]'


def huge_reply(rng: random.Random, size: int) -> str:
    shape = rng.choice(["prose", "string argument", "numbers", "many keys", "fenced"])
    if shape == "prose":
        return _prose(rng, size) + json.dumps([_call(rng)])
    if shape == "string argument":
        return _render(rng, [_call(rng, "echo", "{[\"'\\" * (size // 5))])
    if shape == "numbers":
        return json.dumps([{"name": "echo", "arguments": {"text": list(range(size // 8))}}])
    if shape == "many keys":
        arguments = {f"k{i}": i for i in range(size // 12)}
        return _render(rng, [{"name": "add", "arguments": arguments}])
    return "```json\n" + json.dumps([_call(rng)] * (size // 40)) + "\n```"


def many_objects(rng: random.Random, size: int) -> str:
    unit = rng.choice(
        [
            "<tool_call>{}</tool_call>",
            'I think {"name": "Bob"} is right. ',
            '[{"name": "Bob"} ',
            "[{'name': 'x'} don't ",
            'The value is {"a": 1, "b": [2]} and ',
            "```json\n```",
            '{"name": "add"}\n',
            "<tool_call>[]</tool_call>",
        ]
    )
    return unit * (rng.randint(size // 2, size) // len(unit))


def surrogates(rng: random.Random, size: int) -> str:
    lone = rng.choice(["\\ud800", "\\udfff", "\\ud83d", "\\ud83d\\ude00", "\\udc00\\ud800"])
    where = rng.choice(["value", "key", "name", "python", "raw", "prose"])
    if where == "value":
        return f'[{{"name": "echo", "arguments": {{"text": "a{lone}b"}}}}]'
    if where == "key":
        return f'<tool_call>{{"name": "echo", "arguments": {{"{lone}": 1}}}}</tool_call>'
    if where == "name":
        return f'{{"name": "ec{lone}ho", "arguments": {{}}, "id": "{lone}"}}'
    if where == "python":
        return f"[{{'name': 'echo', 'arguments': {{'text': '{lone}'}}}}]"
    raw = chr(rng.randint(0xD800, 0xDFFF))
    if where == "raw":
        return f'[{{"name": "echo", "arguments": {{"text": "{raw}"}}}}]'
    return f"Answer {raw} with {raw * rng.randint(1, 8)} text"


def unterminated(rng: random.Random, size: int) -> str:
    whole = _render(rng, [_call(rng) for _ in range(rng.randint(1, 3))])
    shape = rng.choice(["cut", "open string", "open tag", "close tag only", "backslash", "marker"])
    if shape == "cut":
        return whole[: rng.randint(0, len(whole))]
    if shape == "open string":
        return '[{"name": "echo", "arguments": {"text": "' + _prose(rng, size)
    if shape == "open tag":
        return "<tool_call>" + whole.replace("</tool_call>", "") + _prose(rng, 200)
    if shape == "close tag only":
        return "</tool_call>" + whole + "</tool_call>"
    if shape == "backslash":
        return '<tool_call>{"name": "echo", "arguments": {"text": "\\'
    return whole + rng.choice(["<tool_ca", "[TOOL_", '[{"na', '{"name"', "<|python_t"])


def mixed_formats(rng: random.Random, size: int) -> str:
    parts = []
    for _ in range(rng.randint(2, 8)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(_render(rng, [_call(rng) for _ in range(rng.randint(1, 3))]))
        elif kind < 0.6:
            marker = rng.choice(WRAPPERS)
            parts.append(marker + json.dumps(_call(rng, "echo", f"say {marker} now")))
        elif kind < 0.8:
            parts.append(repr([_call(rng)]))
        else:
            parts.append(_prose(rng, 120))
    return rng.choice(["", "\n", " ", "```json\n"]).join(parts)


def ten_thousand_calls(rng: random.Random, size: int) -> str:
    calls = [_call(rng, rng.choice(["add", "echo"]), f"n{i}") for i in range(10_000)]
    shape = rng.choice(["own format", "objects", "python tag"])
    if shape == "own format":
        return _render(rng, calls)
    if shape == "objects":
        return "\n".join(json.dumps(c) for c in calls)
    return "<|python_tag|>" + "; ".join(json.dumps(c) for c in calls)


def noise(rng: random.Random, size: int) -> str:
    alphabet = "[]{}\"'\\:,<>/| \nabc_-0123456789" + "".join(WRAPPERS)
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, min(size, 20_000))))


CLASSES: dict[str, Callable[[random.Random, int], str]] = {
    "deep nesting": deep_nesting,
    "huge replies": huge_reply,
    "many objects": many_objects,
    "surrogates": surrogates,
    "unterminated": unterminated,
    "mixed formats": mixed_formats,
    "10k calls": ten_thousand_calls,
    "noise": noise,
}


# -- checks ----------------------------------------------------------------------------------------


def pieces(rng: random.Random, text: str) -> list[str]:
    """`text` split at random, in small pieces (at most about 4,000 of them)."""
    out, pos, big = [], 0, max(1, len(text) // 4000)
    while pos < len(text):
        step = rng.randint(1, 16) if rng.random() < 0.7 else rng.randint(1, 4 * big + 64)
        out.append(text[pos : pos + max(step, big if rng.random() < 0.5 else step)])
        pos += len(out[-1])
    return out


def check_parse(fmt: ToolFormat, text: str, rng: random.Random) -> None:
    """Parse whole and streamed; raise AssertionError when an invariant breaks."""
    reply = fmt.parse(text, tool_names=TOOL_NAMES)
    assert reply.is_final == (not reply.calls and not reply.errors)
    assert len(reply.errors) <= MAX_LISTED_ERRORS and all(reply.errors)
    assert all(len(e) < 1000 for e in reply.errors), "an error message is unbounded"
    Message.assistant(reply.text, reply.calls).model_dump_json()
    for error in reply.errors:
        error.encode("utf-8")
    scanner = fmt.stream_scanner(TOOL_NAMES)
    announced: list[ToolCall] = []
    for piece in pieces(rng, text):
        announced += scanner.feed(piece)
    final = scanner.finish()
    if len(text) <= fmt.max_reply_chars:  # past it, calls announced earlier are withdrawn
        assert all(a is b for a, b in zip(announced, final.calls, strict=False))
        assert len(announced) <= len(final.calls)
    same = [(c.name, c.arguments) for c in final.calls] == [
        (c.name, c.arguments) for c in reply.calls
    ]
    assert same and (final.text, final.errors) == (reply.text, reply.errors), "scanner != parse"


class StreamedModel(ScriptedModel):
    """A scripted model that streams each reply in random pieces."""

    def __init__(self, replies: list[str], *, format: ToolFormat, seed: int) -> None:
        def reply(request: ModelRequest) -> str:
            return replies[min(request.step, len(replies) - 1)]

        super().__init__(reply, format=format)
        self.rng = random.Random(seed)

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        async for part in super().stream(request):
            if isinstance(part, str):
                for piece in pieces(self.rng, part):
                    yield piece
            else:
                yield part


def check_run(fmt: ToolFormat, text: str, seed: int) -> None:
    """Run an agent on the hostile reply then a plain answer: a result or an AgentkitError."""
    model = StreamedModel([text, "Done."], format=fmt, seed=seed)
    agent = Agent(model, tools=[add, echo, boom], max_steps=3, max_retries=1)
    try:
        result = agent.run("Go")
    except AgentkitError:
        return
    for message in result.messages:
        Message.model_validate_json(message.model_dump_json())


def fuzz_one(make: Callable[[random.Random, int], str], seed: int, size: int, loop: bool) -> str:
    """Generate one input and check it everywhere; the crash as text, or "" when none."""
    rng = random.Random(seed)
    text = make(rng, size)
    fmt = FORMATS[seed % len(FORMATS)]
    try:
        check_parse(fmt, text, rng)
        if loop:
            check_run(fmt, text, seed)
    except Exception:  # a crash is what this looks for: any exception at all is reported
        return f"seed {seed}: {traceback.format_exc(limit=4)}"
    return ""


def run_class(
    name: str, *, count: int, seed: int, size: int, loop: bool, hang: float
) -> dict[str, Any]:
    make = CLASSES[name]
    crashes, hangs, worst, first = 0, 0, 0.0, ""
    for i in range(count):
        start = time.perf_counter()
        crash = fuzz_one(make, seed * 1_000_003 + i, size, loop)
        took = time.perf_counter() - start
        worst = max(worst, took)
        hangs += took > hang
        if crash:
            crashes += 1
            first = first or crash
    return {
        "class": name,
        "inputs": count,
        "crashes": crashes,
        "hangs": hangs,
        "worst_s": worst,
        "seed": seed,
        "first_crash": first,
    }


SHAPES: dict[str, str] = {
    "<tool_call>{}</tool_call>": "<tool_call>{}</tool_call>",
    "prose + objects": 'I think {"name": "Bob"} is right. ',
    "unclosed lists": '[{"name": "Bob"} ',
    "one call per line": '{"name": "add", "arguments": {"a": 1, "b": 2}}\n',
    "one big call": "",
}


def shaped(shape: str, size: int) -> str:
    unit = SHAPES[shape]
    if not unit:
        return json.dumps([{"name": "echo", "arguments": {"text": "{[x]} " * ((size - 60) // 6)}}])
    return unit * (size // len(unit))


def timed(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def streamed(fmt: ToolFormat, text: str, step: int = 4) -> None:
    scanner = fmt.stream_scanner(TOOL_NAMES)
    for i in range(0, len(text), step):
        scanner.feed(text[i : i + step])
    scanner.finish()


def scaling(sizes: list[int]) -> None:
    """Print CPU seconds to parse each shape at each size, whole and streamed."""
    fmt = HermesFormat()
    print(f"{'shape':<26} {'size':>9} {'parse s':>8} {'stream s':>8} {'calls':>6} {'errors':>6}")
    for shape in SHAPES:
        for size in sizes:
            text = shaped(shape, size)
            whole = timed(lambda: fmt.parse(text, tool_names=TOOL_NAMES))  # noqa: B023
            stream = timed(lambda: streamed(fmt, text))  # noqa: B023
            reply = fmt.parse(text, tool_names=TOOL_NAMES)
            print(f"{shape:<26} {len(text):>9,} {whole:>8.3f} {stream:>8.3f} "
                  f"{len(reply.calls):>6} {len(reply.errors):>6}", flush=True)  # fmt: skip
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="inputs per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=200_000, help="largest reply, in characters")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds that count as a hang")
    parser.add_argument("--no-loop", action="store_true", help="parser and scanner only")
    parser.add_argument("--classes", nargs="*", default=list(CLASSES), choices=list(CLASSES))
    parser.add_argument("--no-scaling", action="store_true", help="skip the size table")
    args = parser.parse_args()
    if not args.no_scaling:
        scaling([10_000, 100_000, 1_000_000])
    if args.count <= 0:
        return 0
    print(f"{'class':<14} {'inputs':>6} {'crashes':>7} {'hangs':>5} {'worst s':>8} {'seed':>5}")
    rows = []
    for name in args.classes:
        row = run_class(name, count=args.count, seed=args.seed, size=args.size,
                        loop=not args.no_loop, hang=args.hang)  # fmt: skip
        rows.append(row)
        print(f"{name:<14} {row['inputs']:>6} {row['crashes']:>7} {row['hangs']:>5} "
              f"{row['worst_s']:>8.3f} {row['seed']:>5}", flush=True)  # fmt: skip
    for row in rows:
        if row["first_crash"]:
            print(f"\nfirst crash in {row['class']}:\n{row['first_crash']}")
    return 1 if any(r["crashes"] or r["hangs"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
