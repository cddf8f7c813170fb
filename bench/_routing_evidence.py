"""bench/routing_eval.py: generation, routing evidence, calibration and the designs."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from _routing_data import (
    SESSION,
    TOOL_NAMES,
    TOOLS,
    Case,
    halves,
)

from agentkit import Message


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
