"""Berkeley Function Calling Leaderboard, single-turn categories, on the embedded default model.

Categories: simple (`simple_python`), multiple, parallel, parallel_multiple, irrelevance, read
from the data files inside the `bfcl-eval` wheel (`pip install --no-deps bfcl-eval`): questions
and their `possible_answer` ground truth. Each entry's functions become agentkit tools through
`Tool.from_schema` (which maps BFCL's Python type names to JSON Schema), and each question goes
through `Agent.stream` as a user would run it, with a tool function that records nothing and
returns "ok". The scored turn is a model turn with calls (or the final answer); a thin `Model`
wrapper ends the run with a fixed answer as soon as a turn's calls all pass validation, so no
time goes into answers written from fake results.

Lines reported (one `Agent` run serves two lines where the first turn is the same):
- unconstrained: `constrained=False`, `router=None`, no retries (`max_retries=0`).
- constrained: `constrained=True`, `router=None`: the first turn of the next line's runs.
- constrained + retries: the same runs, `max_retries=2`: the agent answers each failed turn
  (parse error, unknown tool, invalid arguments) with its error message; the last model turn
  is scored.
- default: `TransformersModel.default()` as users get it (constrained, with the embedding router
  choosing the tool or a text answer), first turn; and default + retries (`max_retries=2`).
- default, strict params (only with `--modes ...,default-strict`): a what-if, the same with
  `additionalProperties: false` added to each function's parameters (BFCL's schemas leave it
  out, so the grammar lets the model invent parameters).
- default with call shaping turned off, as a whole (`unshaped`: `CallShaping.off()`) or one
  part at a time (`no-ground`, `no-hide-examples`, `no-surface-optional`, `no-split-intents`,
  `no-omit-optional`):
  what each part of `agentkit.models.shaping` is worth.

`--data dev|heldout|style` scores agentkit's own labelled sets (`bench/data`, BFCL's format)
instead of BFCL's files; `--model qwen` runs Qwen2.5-Coder-0.5B (`bench/_qwen.py`) instead of the
default model.

Scores per category: valid-call rate (the scored turn held at least one call and every call
parsed and passed schema validation; for irrelevance: the reply was well-formed, a text answer
or valid calls) and accuracy by BFCL's AST check (`_bfcl_ast.py`; irrelevance: correct when no
call is made). Constrained text answers are cut after their first characters: the grammar has
already decided that no call follows, so the score is the same and minutes are saved.

Entries are sampled evenly across each category's file (`--limit` per category; BFCL orders
entries by topic). All lines use the same `--max-new-tokens`.

Usage:
    python bench/bfcl.py --limit 50 --modes default,unshaped   # the figures in bench/README.md
    python bench/bfcl.py --limit 2 --modes constrained   # smoke run
Writes bench/results/bfcl.json (or `--json PATH`), with every scored turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _bfcl_ast import check, to_bfcl_calls
from _revision import agentkit_revision

from agentkit import Agent, Message, Tool
from agentkit.errors import AgentkitError, RetriesExhausted
from agentkit.events import FinalEvent, RetryEvent, TextDelta, ToolCallEvent
from agentkit.messages import last_user_message
from agentkit.models import Model, ModelRequest, ModelResponse

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "bfcl.json"
CATEGORIES = {
    "simple": "simple_python",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel_multiple",
    "irrelevance": "irrelevance",
}
MODES = ("unconstrained", "constrained", "default")
SHAPING_MODES = {
    # mode -> the CallShaping fields turned off (default mode: none; "unshaped": all)
    "unshaped": ("ground", "hide_examples", "surface_optional", "split_intents", "omit_optional"),
    "no-ground": ("ground",),
    "no-hide-examples": ("hide_examples",),
    "no-surface-optional": ("surface_optional",),
    "no-split-intents": ("split_intents",),
    "no-omit-optional": ("omit_optional",),
}
EXTRA_MODES = ("default-strict", *SHAPING_MODES)
RETRIES = 2
DONE = "done"
TEXT_PEEK = 24  # characters of a constrained text answer kept before cutting it


# -- data -----------------------------------------------------------------------------------------
def data_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or spec.origin is None:
        raise SystemExit("bfcl-eval is not installed: pip install --no-deps bfcl-eval")
    return Path(spec.origin).parent / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


OWN_SETS = {
    "dev": REPO / "bench" / "data" / "calls_dev.jsonl",
    "heldout": REPO / "bench" / "data" / "calls_heldout.jsonl",
    "style": REPO / "bench" / "data" / "style_heldout.jsonl",
}
"""agentkit's own labelled sets, in BFCL's format with a `category` per entry (bench/data)."""


def spread(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """`limit` entries evenly spaced through `entries` (a sample stratified by file position:
    BFCL orders each file by topic, so every stretch of topics is represented)."""
    if limit >= len(entries):
        return entries
    return [entries[i * len(entries) // limit] for i in range(limit)]


def load_category(name: str, limit: int, source: str = "bfcl") -> list[dict[str, Any]]:
    """`limit` entries of a category spread over its file, each with its `ground_truth`."""
    if source != "bfcl":
        short = next(k for k, v in CATEGORIES.items() if v == name)
        rows = [e for e in read_jsonl(OWN_SETS[source]) if e["category"] == short]
        return spread(rows, limit)
    root = data_dir()
    entries = read_jsonl(root / f"BFCL_v4_{name}.json")
    answers_file = root / "possible_answer" / f"BFCL_v4_{name}.json"
    if answers_file.exists():
        truth = {a["id"]: a["ground_truth"] for a in read_jsonl(answers_file)}
        for entry in entries:
            entry["ground_truth"] = truth[entry["id"]]
    return spread(entries, limit)


def type_names(entries: Sequence[dict[str, Any]]) -> Counter[str]:
    """Every parameter `type` in the entries' schemas (nested properties and items included)."""
    found: Counter[str] = Counter()
    stack = [f.get("parameters") or {} for e in entries for f in e["function"]]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("type"), str):
            found[node["type"]] += 1
        properties = node.get("properties")
        stack.extend(properties.values() if isinstance(properties, dict) else ())
        stack.extend(node[k] for k in ("items", "additionalProperties") if k in node)
    return found


# -- running --------------------------------------------------------------------------------------
def record_only(**_: Any) -> str:
    return "ok"


def calls_succeeded(transcript: Sequence[Message]) -> bool:
    """A call has succeeded since the user's question (the agent's own rule)."""
    return last_user_message(transcript)[1]


class ScoredTurns(Model):
    """Delegates to a model, but ends the run once a turn's calls all passed validation.

    Args:
        inner: the model under test.
        cut_text: end a reply as soon as it is known to be a text answer (exact under a grammar
            that makes text and calls start differently).
    """

    def __init__(self, inner: Model, *, cut_text: bool) -> None:
        self.inner = inner
        self.format = inner.format
        self.cut_text = cut_text
        self.generated: list[int] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[str | ModelResponse]:
        if calls_succeeded(request.transcript):
            yield ModelResponse(text=DONE)
            return
        self.generated.append(request.step)
        text = ""
        async with contextlib.aclosing(self.inner.stream(request)) as parts:
            async for part in parts:
                yield part
                if isinstance(part, ModelResponse):
                    return
                text += part
                start = text.lstrip()
                if self.cut_text and len(start) >= TEXT_PEEK and not start.startswith("<"):
                    yield ModelResponse(text=text, finish_reason="cut")
                    return


@dataclass
class Turn:
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def strict(function: dict[str, Any]) -> dict[str, Any]:
    """The function with `additionalProperties: false` on its parameters."""
    return {**function, "parameters": {**function["parameters"], "additionalProperties": False}}


async def run_entry(
    model: Model, entry: dict[str, Any], retries: int, *, cut: bool, strict_params: bool
) -> dict[str, Any]:
    """One question through the agent loop; every model turn's text, calls and errors."""
    functions = [strict(f) if strict_params else f for f in entry["function"]]
    tools = [Tool.from_schema(function, fn=record_only) for function in functions]
    wrapped = ScoredTurns(model, cut_text=cut)
    agent = Agent(wrapped, tools=tools, max_steps=retries + 2, max_retries=retries)
    prompt = [Message(role=m["role"], content=m["content"]) for m in entry["question"][0]]
    turns: dict[int, Turn] = {}
    outcome = "answer"
    start = time.perf_counter()
    try:
        async for event in agent.stream(prompt):
            if isinstance(event, FinalEvent):
                break
            turn = turns.setdefault(event.step, Turn())
            if isinstance(event, TextDelta):
                turn.text += event.text
            elif isinstance(event, ToolCallEvent):
                turn.calls.append((event.name, event.arguments))
            elif isinstance(event, RetryEvent):
                turn.errors = [e.message for e in event.errors]
    except RetriesExhausted as exc:
        outcome = "retries exhausted"
        last = turns.setdefault(wrapped.generated[-1], Turn())
        last.errors = last.errors or [exc.errors[-1].message]
    except AgentkitError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    scored = [asdict(turns.get(step, Turn())) for step in wrapped.generated]
    return {"id": entry["id"], "seconds": seconds, "outcome": outcome, "turns": scored}


def score(category: str, entry: dict[str, Any], turn: dict[str, Any]) -> dict[str, Any]:
    calls = turn["calls"]
    if category == "irrelevance":
        valid = not turn["errors"]
    else:
        valid = bool(calls) and not turn["errors"]
    verdict = check(
        category, entry["function"], to_bfcl_calls(calls), entry.get("ground_truth", [])
    )
    return {"valid": valid, "correct": verdict.valid, "error": verdict.error_type}


def build_model(mode: str, max_new_tokens: int, weights: str = "default") -> Any:
    """The model of a mode: `weights` is "default" (the embedded model) or "qwen"."""
    from agentkit.models import TransformersModel

    if weights == "qwen":
        from _qwen import load_model

        load: Any = load_model
    else:
        load = TransformersModel.default
    if mode == "unconstrained":
        return load(constrained=False, router=None, max_new_tokens=max_new_tokens)
    if mode == "constrained":
        return load(constrained=True, router=None, max_new_tokens=max_new_tokens)
    from agentkit.models.shaping import CallShaping

    off = dict.fromkeys(SHAPING_MODES.get(mode, ()), False)
    return load(max_new_tokens=max_new_tokens, shaping=CallShaping(**off))


LINES = {
    # line -> (mode whose runs it reads, which generated turn it scores)
    "unconstrained": ("unconstrained", 0),
    "constrained": ("constrained", 0),
    "constrained + retries": ("constrained", -1),
    "default (router, shaping)": ("default", 0),
    "default (router, shaping) + retries": ("default", -1),
    "default, strict params": ("default-strict", 0),
    "default, strict params + retries": ("default-strict", -1),
    **{f"default, {mode}": (mode, 0) for mode in SHAPING_MODES},
}


def summarise(runs: dict[str, dict[str, list[dict[str, Any]]]], data: dict[str, Any]) -> Any:
    """Per line and category: n, valid-call rate, accuracy."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for line, (mode, which) in LINES.items():
        if mode not in runs:
            continue
        table[line] = {}
        for short, records in runs[mode].items():
            entries = {e["id"]: e for e in data[short]}
            scores = [
                score(CATEGORIES[short], entries[r["id"]], r["turns"][which])
                if r["turns"]
                else {"valid": False, "correct": False, "error": r["outcome"]}
                for r in records
            ]
            n = len(scores)
            table[line][short] = {
                "n": n,
                "valid_call_rate": sum(s["valid"] for s in scores) / n if n else None,
                "accuracy": sum(s["correct"] for s in scores) / n if n else None,
                "errors": dict(Counter(s["error"] for s in scores if not s["correct"])),
            }
    return table


def report(table: dict[str, dict[str, dict[str, Any]]]) -> str:
    shorts = [s for s in CATEGORIES if any(s in row for row in table.values())]
    head = ["line", *[f"{s} valid/acc" for s in shorts], "overall acc"]
    rows = []
    for line, cells in table.items():
        row = [line]
        for short in shorts:
            c = cells.get(short)
            row.append(f"{c['valid_call_rate']:.0%} / {c['accuracy']:.0%}" if c and c["n"] else "-")
        total = sum(c["n"] for c in cells.values())
        right = sum(c["accuracy"] * c["n"] for c in cells.values() if c["n"])
        row.append(f"{right / total:.0%}" if total else "-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    out = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def timed_imports() -> float:
    """Seconds to import what a local model needs besides agentkit (torch, transformers' model
    code, tokenizers, safetensors, llguidance), as `load.py` times them; 0 once imported."""
    from load import IMPORTS

    start = time.perf_counter()
    for _, statement in IMPORTS:
        exec(statement, {})  # the fixed statements of load.IMPORTS
    return time.perf_counter() - start


async def run_all(
    args: argparse.Namespace, data: dict[str, Any], results: dict[str, Any], threads: int
) -> None:
    for mode in args.modes.split(","):
        imports = timed_imports()
        import torch

        torch.set_num_threads(threads)
        start = time.perf_counter()
        model = build_model(mode, args.max_new_tokens, args.model)
        own = time.perf_counter() - start
        results["load"][mode] = {"imports_s": imports, "agentkit_s": own}
        print(f"{mode}: imports {imports:.2f} s, agentkit {own:.2f} s", file=sys.stderr)
        results["routers"][mode] = type(model.router).__name__ if model.router else None
        retries = 0 if mode == "unconstrained" else RETRIES
        runs = results["runs"].setdefault(mode, {})
        for short, entries in data.items():
            runs[short] = []
            for entry in entries:
                record = await run_entry(
                    model,
                    entry,
                    retries,
                    cut=mode != "unconstrained",
                    strict_params=mode.endswith("-strict"),
                )
                runs[short].append(record)
                first = (
                    score(CATEGORIES[short], entry, record["turns"][0]) if record["turns"] else {}
                )
                print(
                    f"{mode:13} {entry['id']:22} {record['seconds']:6.1f}s "
                    f"turns={len(record['turns'])} first={first.get('correct')} "
                    f"{record['turns'][0]['text'][:70] if record['turns'] else ''!r}",
                    file=sys.stderr,
                    flush=True,
                )
            write(args.json, results)  # keep what is done if the run is stopped


def write(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=20, help="entries per category")
    parser.add_argument("--categories", default=",".join(CATEGORIES), help="comma-separated")
    parser.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated: " + ",".join(MODES + EXTRA_MODES)
    )
    parser.add_argument("--max-new-tokens", type=int, default=192, help="per model turn")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument(
        "--model",
        choices=("default", "qwen"),
        default="default",
        help="weights (qwen: bench/_qwen.py)",
    )
    parser.add_argument(
        "--data",
        choices=("bfcl", *OWN_SETS),
        default="bfcl",
        help="BFCL's files or a set of bench/data",
    )
    args = parser.parse_args(argv)

    data = {
        short: load_category(CATEGORIES[short], args.limit, args.data)
        for short in args.categories.split(",")
    }
    results: dict[str, Any] = {
        "settings": {
            "limit": args.limit,
            "model": args.model,
            "data": args.data,
            "max_new_tokens": args.max_new_tokens,
            "retries": RETRIES,
            "threads": args.threads,
            "bfcl_eval": _version("bfcl-eval"),
            "agentkit": agentkit_revision(),
            "sample": "entries spread evenly over each category file",
            "machine": f"{os.cpu_count()} CPUs, shared with other jobs",
        },
        "ids": {short: [e["id"] for e in entries] for short, entries in data.items()},
        "type_names": dict(type_names([e for entries in data.values() for e in entries])),
        "routers": {},
        "load": {},
        "runs": {},
    }
    start = time.perf_counter()
    asyncio.run(run_all(args, data, results, args.threads))
    results["wall_s"] = time.perf_counter() - start
    results["scores"] = summarise(results["runs"], data)
    write(args.json, results)
    print(report(results["scores"]))
    for mode, load in results["load"].items():
        own, imports = load["agentkit_s"], load["imports_s"]
        print(f"cached load ({mode}): imports {imports:.2f} s, agentkit's part {own:.2f} s")
    print(f"\n{args.limit} entries per category; wrote {args.json}")
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
