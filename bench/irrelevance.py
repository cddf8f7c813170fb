"""Calibrating when the default path answers in words instead of calling, on agentkit's own data.

For every entry of a labelled set in BFCL's format (by default `bench/data/calls_dev.jsonl`: 80
requests that need a call, 20 that need none, close to the tools' topics or small talk), the
`EmbeddingRouter` scores the request against the entry's tools and the answer description.
Reported, per threshold on that margin: how many requests that need a call would call, and how
many that need none would be answered in words, for

- `router`: the margin alone (the default threshold is `routing.DEFAULT_THRESHOLD`);
- `router + fillable`: also no call when the chosen tool requires a free number and the request
  writes none (call shaping's rule, `agentkit.models.shaping`);
- `prototypes + fillable`: the answer side scored as the best of several descriptions of
  no-tool requests (a variant that was tried and not kept).

No model is loaded: this is the router's decision only, in a few seconds.

Usage:
    python bench/irrelevance.py [--data bench/data/calls_dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from agentkit import Tool
from agentkit.models._arguments import fillable
from agentkit.models.routing import ANSWER_DESCRIPTION, DEFAULT_THRESHOLD, EmbeddingRouter

REPO = Path(__file__).resolve().parent.parent
PROTOTYPES = [
    ANSWER_DESCRIPTION,
    "Explain what something is or how it works; the meaning or definition of a term.",
    "A general knowledge question about facts: history, geography, science, people, languages.",
    "Small talk: hello, good morning, how are you, thanks, thank you, goodbye.",
    "Write a joke, a poem, a story or a haiku; give advice, tips or a recommendation.",
]
THRESHOLDS = (0.0, 0.05, DEFAULT_THRESHOLD, 0.15, 0.2)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measure(path: Path) -> list[dict[str, Any]]:
    """Each entry's label, margins (one description, several) and whether its tool is fillable."""
    router = EmbeddingRouter()
    prototypes = router.embed(PROTOTYPES)
    out = []
    for entry in rows(path):
        tools = [Tool.from_schema(f) for f in entry["function"]]
        query = entry["question"][0][-1]["content"]
        route = router.decide(query, tools)
        best = max(route.scores, key=lambda name: route.scores[name])
        vector = router.embed([query])[0]
        several = route.scores[best] - float((prototypes @ vector).max())
        tool = next(t for t in tools if t.name == best)
        out.append(
            {
                "needs_call": bool(entry["ground_truth"]),
                "margin": route.score,
                "margin_prototypes": several,
                "fillable": fillable(tool.parameters, query, query),
                "request": query,
            }
        )
    return out


def table(found: list[dict[str, Any]]) -> str:
    calls = [f for f in found if f["needs_call"]]
    answers = [f for f in found if not f["needs_call"]]
    lines = ["| rule | threshold | calls made (need one) | answered in words (need none) |"]
    lines.append("|---|---|---|---|")
    rules = {
        "router": lambda f, t: f["margin"] >= t,
        "router + fillable": lambda f, t: f["margin"] >= t and f["fillable"],
        "prototypes + fillable": lambda f, t: f["margin_prototypes"] >= t and f["fillable"],
    }
    for name, calls_at in rules.items():
        for threshold in THRESHOLDS:
            made = sum(calls_at(f, threshold) for f in calls)
            held = sum(not calls_at(f, threshold) for f in answers)
            lines.append(f"| {name} | {threshold} | {made}/{len(calls)} | {held}/{len(answers)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "calls_dev.jsonl")
    args = parser.parse_args(argv)
    print(table(measure(args.data)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
