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

The toolbox, labelled set and argument matching are in `_routing_data.py`; generation, routing
evidence, calibration and the designs in `_routing_evidence.py`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _routing_data import (
    DATA,
    DESIGNS,
    REPO,
    RESULTS,
    Case,
    arguments_match,
    load_cases,
)
from _routing_evidence import (
    Evidence,
    Generator,
    Plan,
    Reply,
    gather_evidence,
    plan,
)


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
