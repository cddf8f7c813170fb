"""Routing evaluation: does the default model call the right tool, or rightly none?

A labelled set (`bench/data/routing_eval.jsonl`, 60 requests: 40 need one of six tools, 20 need
none) is run through the default model (SmolLM2-135M-Instruct) under several designs of the
decision "which tool, if any":

- `plain`: no router; the model chooses under the reply grammar (`tool_choice="auto"`).
- `embed-0.25`: `EmbeddingRouter` at its former default threshold, 0.25.
- `embed-cal`: `EmbeddingRouter` with its threshold calibrated on one half of the set and
  applied to the other (two-fold: each half is scored with the other half's threshold), plus a
  leave-one-out figure.
- `embed-answer-cal`: the same, the threshold applying to the margin of the best tool's
  similarity over that of a description of no-tool requests (`ANSWER_DESCRIPTION`).
- `choice`: `ChoiceRouter`, the model's own constrained choice among the tool names and "answer"
  (exact log-probabilities of each option as its whole reply), the model's raw preference.
- `choice-cal`: the same with its `answer_bias` calibrated two-fold like `embed-cal`.
- `hybrid`: the embedding router picks the tool and the LM's choice decides whether to call.

Once the router has chosen, the model writes the reply under the grammar of that choice (a call
of the named tool, or text). Generation is greedy, so a reply depends only on (request, choice):
each is generated once and shared by the designs that make the same choice; a design's seconds
per request are its routing time plus the generation time of its choices. All generations share
one KV-cache session, so the tool list in the system prompt is prefilled once for the whole set
(as a long-lived agent would not; add the prefill of the tool list to compare with one-off runs).

Metrics: decision accuracy (the right tool, or rightly none, as actually called), tool-call
precision (calls made that name the right tool) and recall (requests needing a tool that got
it), argument exact match when the tool is right (JSON equal after filling defaults; strings
compared without case and whitespace), the task accuracy (rightly none, or the right tool with
the right arguments), seconds per request. A call cut at the token limit counts as a call of the
tool it names, with wrong arguments.

Usage:
    python bench/routing_eval.py                       # every design, the whole set
    python bench/routing_eval.py --limit 12 --designs plain,choice
    python bench/routing_eval.py --threads 1           # torch threads (1 is faster on a busy CPU)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentkit import Message, Tool, tool  # noqa: E402
from tools.calculator import calculate  # noqa: E402
from tools.clock import current_time  # noqa: E402

DATA = REPO / "bench" / "data" / "routing_eval.jsonl"
RESULTS = REPO / "bench" / "results" / "routing.json"


# -- the toolbox ---------------------------------------------------------------------------------
@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather conditions in a city: temperature, sky, rain and wind.

    Args:
        city: the city name, e.g. "Paris".
        unit: the temperature unit.
    """
    return f"14 degrees and cloudy in {city}"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another at today's exchange rate.

    Args:
        amount: how much money, in `from_currency`.
        from_currency: the ISO 4217 code of the currency held, e.g. "USD".
        to_currency: the ISO 4217 code of the currency wanted, e.g. "EUR".
    """
    return f"{amount} {from_currency} = {amount * 0.9:.2f} {to_currency}"


@tool
def translate_text(text: str, target_language: str) -> str:
    """Translate a piece of text into another language.

    Args:
        text: the text to translate, as the user wrote it.
        target_language: the language to translate into, in English, e.g. "Spanish".
    """
    return f"[{target_language}] {text}"


@tool
def set_timer(minutes: int) -> str:
    """Start a countdown timer that rings after a number of minutes.

    Args:
        minutes: how many minutes from now the timer rings.
    """
    return f"timer set for {minutes} minutes"


TOOLS: list[Tool] = [
    get_weather,
    calculate,
    current_time,
    convert_currency,
    translate_text,
    set_timer,
]
TOOL_NAMES = [t.name for t in TOOLS]
DESIGNS = ("plain", "embed-0.25", "embed-cal", "embed-answer-cal", "choice", "choice-cal", "hybrid")
SESSION = "routing-eval"


# -- the labelled set ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    request: str
    tool: str | None
    arguments: dict[str, Any] | None


def load_cases(limit: int | None = None) -> list[Case]:
    """The labelled set; with `limit`, the first requests of each label in turn (stratified)."""
    cases = [Case(**json.loads(line)) for line in DATA.read_text().splitlines() if line.strip()]
    unknown = {c.tool for c in cases} - {None, *TOOL_NAMES}
    if unknown:
        raise SystemExit(f"{DATA}: unknown tools {sorted(unknown)}")
    if limit is None or limit >= len(cases):
        return cases
    rank: dict[str | None, int] = {}
    keyed = []
    for i, case in enumerate(cases):
        rank[case.tool] = rank.get(case.tool, -1) + 1
        keyed.append((rank[case.tool], i, case))
    return [case for _, _, case in sorted(keyed, key=lambda k: k[:2])[:limit]]


def halves(cases: Sequence[Case]) -> list[int]:
    """A fold (0 or 1) per case: alternate within each label, so both halves are stratified.

    Each label starts on the other fold than the previous label, so halves stay balanced when
    labels have odd counts.
    """
    seen: dict[str | None, int] = {}
    start: dict[str | None, int] = {}
    folds = []
    for case in cases:
        start.setdefault(case.tool, len(start) % 2)
        seen[case.tool] = seen.get(case.tool, -1) + 1
        folds.append((seen[case.tool] + start[case.tool]) % 2)
    return folds


# -- argument matching ---------------------------------------------------------------------------
def normalise(value: Any) -> Any:
    """Strings without case and whitespace, numbers as floats, containers recursively."""
    if isinstance(value, str):
        return "".join(value.lower().split())
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def with_defaults(tool_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    props = next(t for t in TOOLS if t.name == tool_name).parameters.get("properties", {})
    defaults = {k: p["default"] for k, p in props.items() if "default" in p}
    return {**defaults, **arguments}


def arguments_match(tool_name: str, got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Exact match after filling defaults (strings compared without case and whitespace)."""
    return normalise(with_defaults(tool_name, got)) == normalise(with_defaults(tool_name, expected))


# -- generation, shared by the designs -----------------------------------------------------------
@dataclass
class Reply:
    tool: str | None
    arguments: dict[str, Any] | None
    text: str
    seconds: float
    finish: str | None


def attempted_call(text: str, call_open: str) -> str | None:
    """The tool a reply set out to call when the call could not be parsed (cut at the limit).

    Counting such a reply as "no call" would credit a wrong choice on a no-tool request.
    """
    if not text.lstrip().startswith(call_open or "["):
        return None
    found = re.search(r'"name":\s*"([^"]*)"', text)
    return found.group(1) if found else "(unnamed)"


class Generator:
    """One reply per (request, tool_choice), generated once (greedy decoding is deterministic)."""

    def __init__(self, model: Any, *, routed_prompt: bool = False) -> None:
        self.model = model
        self.memo: dict[tuple[str, str], Reply] = {}
        # As TransformersModel does with a router: the prompt lists only the chosen tool.
        self.routed_prompt = routed_prompt

    def reply(self, request: str, choice: str) -> Reply:
        key = (request, choice)
        if key not in self.memo:
            self.memo[key] = self._generate(request, choice)
            if choice == "auto" and self.memo[key].tool is None:
                # The text branch of the "auto" grammar is the whole "none" grammar: same reply.
                self.memo.setdefault((request, "none"), self.memo[key])
        return self.memo[key]

    def _generate(self, request: str, choice: str) -> Reply:
        from agentkit.models import ModelRequest

        fmt = self.model.format
        transcript = [Message.user(request)]
        shown = list(TOOLS)
        if self.routed_prompt and choice != "auto":
            shown = [t for t in TOOLS if t.name == choice]
        model_request = ModelRequest(
            messages=fmt.render(transcript, shown),
            transcript=transcript,
            tools=shown,
            format=fmt,
            tool_choice=choice,
            run_id=SESSION,  # one session: the tool list is prefilled once for the whole set
        )
        start = time.perf_counter()
        response = asyncio.run(self.model.complete(model_request))
        seconds = time.perf_counter() - start
        parsed = fmt.parse(response.text, tool_names=TOOL_NAMES)
        call = parsed.calls[0] if parsed.calls else None
        name = call.name if call else attempted_call(response.text, fmt.call_open)
        return Reply(
            tool=name,
            arguments=call.arguments if call else None,
            text=response.text,
            seconds=seconds,
            finish=response.finish_reason,
        )


# -- routing evidence, computed once per request -------------------------------------------------
@dataclass
class Evidence:
    embed: dict[str, float] = field(default_factory=dict)
    embed_answer: float = 0.0
    embed_seconds: float = 0.0
    choice: dict[str, float] = field(default_factory=dict)
    choice_seconds: float = 0.0

    def embed_pick(self) -> tuple[str, float]:
        """The most similar tool and its similarity."""
        best = max(self.embed, key=lambda n: self.embed[n])
        return best, self.embed[best]

    def embed_answer_pick(self) -> tuple[str, float]:
        """The most similar tool and its margin over the answer description."""
        best, similarity = self.embed_pick()
        return best, similarity - self.embed_answer

    def choice_pick(self) -> tuple[str, float]:
        """The LM's likeliest tool and its log-odds against "answer"."""
        tools = {n: v for n, v in self.choice.items() if n in TOOL_NAMES}
        best = max(tools, key=lambda n: tools[n])
        return best, tools[best] - self.choice["answer"]


def gather_evidence(cases: Sequence[Case], model: Any, need: set[str]) -> list[Evidence]:
    from agentkit.routing import ANSWER_DESCRIPTION, ChoiceRouter, EmbeddingRouter

    embedder = EmbeddingRouter(answer_description=ANSWER_DESCRIPTION) if "embed" in need else None
    chooser = ChoiceRouter(model) if "choice" in need else None
    if embedder is not None:
        embedder.decide("warm up", TOOLS)  # loads the encoder and embeds the tools
    out = []
    for case in cases:
        ev = Evidence()
        if embedder is not None:
            start = time.perf_counter()
            route = embedder.decide(case.request, TOOLS)
            ev.embed, ev.embed_answer = route.scores, max(route.scores.values()) - route.score
            ev.embed_seconds = time.perf_counter() - start
        if chooser is not None:
            start = time.perf_counter()
            ev.choice = chooser.option_logprobs(case.request, TOOLS)
            ev.choice_seconds = time.perf_counter() - start
        out.append(ev)
    return out


# -- calibration ---------------------------------------------------------------------------------
Margin = Callable[[Evidence], tuple[str, float]]
"""A design's evidence: the tool it would call, and the margin a threshold is compared with."""


def calibrate(cases: Sequence[Case], evidence: Sequence[Evidence], margin: Margin) -> float:
    """The threshold on the margin that decides best on these cases (middle of the best ones)."""
    points = [(margin(ev), case.tool) for case, ev in zip(cases, evidence, strict=True)]
    if not points:
        return 0.0
    values = sorted({m for (_, m), _ in points})
    candidates = [values[0] - 1.0]
    candidates += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    candidates.append(values[-1] + 1.0)

    def accuracy(threshold: float) -> int:
        return sum((tool if m >= threshold else None) == expected for (tool, m), expected in points)

    scored = [(accuracy(t), t) for t in candidates]
    best = max(s for s, _ in scored)
    winners = [t for s, t in scored if s == best]
    return winners[len(winners) // 2]


@dataclass
class Calibration:
    threshold_all: float
    thresholds: tuple[float, float]
    test_accuracy: tuple[float, float]
    loo_accuracy: float

    def describe(self) -> str:
        t0, t1 = self.thresholds
        a0, a1 = self.test_accuracy
        return (
            f"fit on half A: {t0:.3f} -> half B {a0:.1%}; fit on half B: {t1:.3f} -> half A "
            f"{a1:.1%}; leave-one-out {self.loo_accuracy:.1%}; fit on all: {self.threshold_all:.3f}"
        )


def cross_validate(
    cases: Sequence[Case], evidence: Sequence[Evidence], margin: Margin
) -> tuple[list[str | None], list[str | None], Calibration]:
    """Out-of-sample decisions and the calibration report.

    Returns:
        Two-fold decisions (each half with the threshold fitted on the other half),
        leave-one-out decisions (each case with the threshold fitted on all the others), and the
        thresholds and accuracies.
    """
    folds = halves(cases)

    def pick(ev: Evidence, threshold: float) -> str | None:
        tool, m = margin(ev)
        return tool if m >= threshold else None

    def subset(fold: int) -> tuple[list[Case], list[Evidence]]:
        idx = [i for i, f in enumerate(folds) if f == fold]
        return [cases[i] for i in idx], [evidence[i] for i in idx]

    thresholds = tuple(calibrate(*subset(f), margin) for f in (0, 1))
    decisions = [pick(ev, thresholds[1 - f]) for ev, f in zip(evidence, folds, strict=True)]

    def fold_accuracy(fold: int) -> float:
        idx = [i for i, f in enumerate(folds) if f == fold]
        return sum(decisions[i] == cases[i].tool for i in idx) / max(len(idx), 1)

    loo = []
    for i, ev in enumerate(evidence):
        rest = [c for j, c in enumerate(cases) if j != i]
        rest_ev = [e for j, e in enumerate(evidence) if j != i]
        loo.append(pick(ev, calibrate(rest, rest_ev, margin)))
    loo_right = sum(d == c.tool for d, c in zip(loo, cases, strict=True))
    report = Calibration(
        threshold_all=calibrate(cases, evidence, margin),
        thresholds=(thresholds[0], thresholds[1]),
        test_accuracy=(fold_accuracy(1), fold_accuracy(0)),
        loo_accuracy=loo_right / len(cases),
    )
    return decisions, loo, report


# -- designs -------------------------------------------------------------------------------------
@dataclass
class Plan:
    """A design's choices: a tool_choice per case, routing seconds, calibration if any."""

    choices: list[str]
    route_seconds: list[float]
    threshold: float | None = None
    calibration: Calibration | None = None


def fixed(evidence: Sequence[Evidence], margin: Margin, threshold: float) -> list[str]:
    out = []
    for ev in evidence:
        tool_name, m = margin(ev)
        out.append(tool_name if m >= threshold else "none")
    return out


def plan(
    design: str, cases: Sequence[Case], evidence: Sequence[Evidence]
) -> list[tuple[str, Plan]]:
    """The design's plans, by row name: one, or for calibrated designs two-fold and LOO."""
    embed_s = [ev.embed_seconds for ev in evidence]
    choice_s = [ev.choice_seconds for ev in evidence]
    margins: dict[str, tuple[Margin, list[float]]] = {
        "embed-cal": (Evidence.embed_pick, embed_s),
        "embed-answer-cal": (Evidence.embed_answer_pick, embed_s),
        "choice-cal": (Evidence.choice_pick, choice_s),
        # The embedding router picks the tool; the LM's log-odds of calling decide whether.
        "hybrid": (
            lambda ev: (ev.embed_pick()[0], ev.choice_pick()[1]),
            [a + b for a, b in zip(embed_s, choice_s, strict=True)],
        ),
    }
    if design == "plain":
        return [(design, Plan(["auto"] * len(cases), [0.0] * len(cases)))]
    if design == "embed-0.25":
        choices = fixed(evidence, Evidence.embed_pick, 0.25)
        return [(design, Plan(choices, embed_s, threshold=0.25))]
    if design == "choice":
        return [(design, Plan(fixed(evidence, Evidence.choice_pick, 0.0), choice_s, threshold=0.0))]
    margin, seconds = margins[design]
    two_fold, loo, calibration = cross_validate(cases, evidence, margin)
    return [
        (
            f"{design} (2-fold)",
            Plan([d or "none" for d in two_fold], seconds, calibration.threshold_all, calibration),
        ),
        (f"{design} (LOO)", Plan([d or "none" for d in loo], seconds, calibration.threshold_all)),
    ]


# -- scoring -------------------------------------------------------------------------------------
def score(
    cases: Sequence[Case], replies: Sequence[Reply], seconds: Sequence[float]
) -> dict[str, Any]:
    n = len(cases)
    right = [r.tool == c.tool for c, r in zip(cases, replies, strict=True)]
    calls = sum(r.tool is not None for r in replies)
    needed = sum(c.tool is not None for c in cases)
    hits = [
        (c, r)
        for c, r in zip(cases, replies, strict=True)
        if c.tool is not None and r.tool == c.tool
    ]
    exact = sum(
        arguments_match(c.tool or "", r.arguments or {}, c.arguments or {}) for c, r in hits
    )
    task = (
        sum(right) - len(hits) + exact
    )  # rightly none, or the right tool with the right arguments
    return {
        "cases": n,
        "decision_accuracy": sum(right) / n,
        "calls": calls,
        "precision": len(hits) / calls if calls else math.nan,
        "recall": len(hits) / needed if needed else math.nan,
        "argument_exact_match": exact / len(hits) if hits else math.nan,
        "task_accuracy": task / n,
        "seconds_per_request": sum(seconds) / n,
        "unfinished_calls": sum(r.tool is not None and r.arguments is None for r in replies),
    }


def evaluate(
    design: str, cases: Sequence[Case], evidence: Sequence[Evidence], gen: Generator
) -> list[dict[str, Any]]:
    return [run_plan(name, chosen, cases, gen) for name, chosen in plan(design, cases, evidence)]


def run_plan(design: str, chosen: Plan, cases: Sequence[Case], gen: Generator) -> dict[str, Any]:
    replies = []
    seconds = []
    for case, choice, routing in zip(cases, chosen.choices, chosen.route_seconds, strict=True):
        reply = gen.reply(case.request, choice)
        replies.append(reply)
        seconds.append(routing + reply.seconds)
    out = {"design": design, "threshold": chosen.threshold, **score(cases, replies, seconds)}
    if chosen.calibration is not None:
        out["calibration"] = asdict(chosen.calibration)
        out["calibration_text"] = chosen.calibration.describe()
    out["records"] = [
        {
            "request": c.request,
            "expected": c.tool,
            "expected_arguments": c.arguments,
            "tool_choice": choice,
            "tool": r.tool,
            "arguments": r.arguments,
            "text": r.text if r.tool is None else "",
            "seconds": round(s, 3),
        }
        for c, choice, r, s in zip(cases, chosen.choices, replies, seconds, strict=True)
    ]
    return out


def table(results: Sequence[dict[str, Any]]) -> str:
    def pct(x: float) -> str:
        return "-" if isinstance(x, float) and math.isnan(x) else f"{x:.0%}"

    lines = [
        "| design | threshold | decision acc. | precision | recall | args exact | task acc. "
        "| s/request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        threshold = "-" if r["threshold"] is None else f"{r['threshold']:.3g}"
        lines.append(
            f"| {r['design']} | {threshold} | {pct(r['decision_accuracy'])} | {pct(r['precision'])}"
            f" ({r['calls']} calls) | {pct(r['recall'])} | {pct(r['argument_exact_match'])} |"
            f" {pct(r['task_accuracy'])} | {r['seconds_per_request']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="requests (stratified subset)")
    parser.add_argument("--designs", default=",".join(DESIGNS), help="comma-separated designs")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument(
        "--routed-prompt",
        action="store_true",
        help="list only the routed tool in the prompt (no tools for 'none'), as the default does",
    )
    args = parser.parse_args(argv)
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        parser.error(f"unknown designs {sorted(unknown)}; known: {', '.join(DESIGNS)}")

    import torch

    from agentkit.models import TransformersModel

    if args.threads:
        torch.set_num_threads(args.threads)
    cases = load_cases(args.limit)
    model = TransformersModel.default(router=None, max_new_tokens=args.max_new_tokens)
    need = {"embed" for d in designs if d.startswith("embed") or d == "hybrid"}
    need |= {"choice" for d in designs if d.startswith("choice") or d == "hybrid"}
    print(f"{len(cases)} requests, designs: {', '.join(designs)}", flush=True)
    evidence = gather_evidence(cases, model, need)
    gen = Generator(model, routed_prompt=args.routed_prompt)
    results = []
    for design in designs:
        start = time.perf_counter()
        results.extend(evaluate(design, cases, evidence, gen))
        print(f"  {design}: {time.perf_counter() - start:.0f} s", flush=True)
    print(table(results))
    for r in results:
        if "calibration_text" in r:
            print(f"{r['design']}: {r['calibration_text']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "model": model.name,
        "requests": len(cases),
        "max_new_tokens": args.max_new_tokens,
        "torch_threads": torch.get_num_threads(),
        "data": str(DATA.relative_to(REPO)),
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
