"""Guardrails: latency per check of each built-in, and detection on a labelled set.

Latency: each built-in checks a short text (68 characters, a user request) and a long one
(about 2,000 characters, a web page with the request buried in it), many times after a
warm-up; the median and the 99th percentile are printed, with the count of timed checks and the
one-off load time of the model behind it. The checks are called directly (`check`, or
`await acheck` for the LLM judge), in one thread, so the figures are the guardrail's own cost:
the runner adds a worker-thread hop (about 0.1 ms) for the model-based ones.

- `ClassifierGuardrail` runs all-MiniLM-L6-v2 with an untrained two-label head through a
  transformers pipeline: the latency of any MiniLM-sized classifier (its weights do not change
  it). `TopicGuardrail` runs the same encoder (shared).
- torch runs on one thread (`--threads`): on a busy 2-core machine two threads made MiniLM
  ten times slower.
- `LLMJudgeGuardrail` runs on a `ScriptedModel`: the figure is agentkit's own part (prompt,
  request, parsing); the judge model's generation time comes on top.

Detection (`bench/data/guardrails_set.jsonl`, 220 texts, every one written for this set) in
two splits:

- `dev` (148 texts): written first; the injection heuristics and the PII rules were refined
  while looking at its misses, so its figures are optimistic.
- `held-out` (72 texts): written after those rules were frozen, and never used to change
  them: the honest figures. (Its PII texts were still written by someone who knew the
  detectors.)

- injection: attempts, direct (in a user's message) and indirect (inside tool results: web
  pages, e-mails, documents, reviews, search results, files, chat messages, calendar events,
  JSON tool output), against benign texts written to look like them ("ignore the typos",
  "act as a chef", HTML comments, e-mails that say "ignore my previous email"): dev 44 + 44,
  held-out 24 + 24. Each text is checked at its stage (`input` or `tool_result`).
  Detection = attempts blocked; false positives = benign texts blocked.
- PII: texts with personal data (e-mails; phone numbers in national and international
  formats of several countries; card numbers; IBANs of 7 countries; IPv4 and IPv6; in dev
  also 5 names or street addresses) against texts full of ordinary numbers (dates, order,
  tracking and invoice numbers, prices, versions, codes): dev 30 + 30, held-out 12 + 12.
  Detection = the labelled kind is redacted; a false positive = anything redacted in a
  text without personal data.

Usage:
    python bench/guardrails.py                     # everything (a few minutes on 2 cores)
    python bench/guardrails.py --quick             # fewer timed checks
    python bench/guardrails.py --json bench/results/guardrails.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agentkit.guardrails import (  # noqa: E402
    ClassifierGuardrail,
    DenyList,
    GuardrailContext,
    LLMJudgeGuardrail,
    PIIGuardrail,
    PromptInjectionGuardrail,
    RegexGuardrail,
    TopicGuardrail,
    Verdict,
)
from agentkit.models import ScriptedModel  # noqa: E402
from bench._revision import agentkit_revision  # noqa: E402

DATA = REPO / "bench" / "data" / "guardrails_set.jsonl"
SPLITS = ("dev", "held-out")

SHORT = "Please ignore the typos in my last message and fix the grammar, thanks"
_PAGE = (
    "Welcome to the Riverside Bakery. We bake sourdough, rye and spelt loaves every morning "
    "from 6:00, and our pastry counter opens at 7:30. Orders over 20 loaves need two days' "
    "notice. Our flour comes from a mill 40 km away, and we never use additives. "
)
LONG = (_PAGE * 8 + SHORT + ". " + _PAGE * 4)[:2000]


@dataclass
class Latency:
    guardrail: str
    text: str
    n: int
    median_ms: float
    p99_ms: float
    load_s: float


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_checks(check: Callable[[str], Verdict], text: str, n: int) -> tuple[float, float]:
    for _ in range(max(3, n // 10)):
        check(text)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        check(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, _percentile(times, 0.99) * 1e3


def _classifier() -> ClassifierGuardrail:
    import transformers

    from agentkit.routing import load_encoder

    path = str(load_encoder().path)
    transformers.logging.set_verbosity_error()
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    pipe = transformers.pipeline(
        "text-classification", model=model.eval(), tokenizer=tokenizer, top_k=None
    )
    return ClassifierGuardrail(pipe, {"LABEL_1": "block"}, threshold=0.99)


def _judge() -> Callable[[str], Verdict]:
    judge = LLMJudgeGuardrail(ScriptedModel(lambda request: "safe"))
    loop = asyncio.new_event_loop()
    return lambda text: loop.run_until_complete(judge.acheck(text))


def _topic() -> TopicGuardrail:
    return TopicGuardrail(
        allowed=["How long should I bake bread?", "What time does the bakery open?"],
        forbidden=["Which stocks should I buy?", "Is bitcoin a good investment?"],
    )


def builders() -> list[tuple[str, Callable[[], Any], bool]]:
    """(label, builder, model-based) for each built-in."""
    return [
        ("RegexGuardrail (3 patterns)", lambda: RegexGuardrail(
            [r"\bsk-[A-Za-z0-9]{20,}", r"AKIA[0-9A-Z]{16}", r"ghp_[A-Za-z0-9]{36}"]
        ), False),
        ("DenyList (50 phrases)", lambda: DenyList(
            [f"forbidden phrase {i}" for i in range(49)] + ["crème brûlée"]
        ), False),
        ("PIIGuardrail (regex)", PIIGuardrail, False),
        ("PIIGuardrail (presidio)", lambda: PIIGuardrail(backend="presidio"), True),
        ("PromptInjectionGuardrail", PromptInjectionGuardrail, False),
        ("ClassifierGuardrail (MiniLM)", _classifier, True),
        ("TopicGuardrail (MiniLM)", _topic, True),
        ("LLMJudgeGuardrail (scripted)", _judge, False),
    ]  # fmt: skip


def measure_latency(quick: bool) -> list[Latency]:
    rows = []
    for label, build, heavy in builders():
        start = time.perf_counter()
        rail = build()
        check = rail if callable(rail) and not hasattr(rail, "check") else rail.check
        check("warm up: load the model")
        load = time.perf_counter() - start
        n_short, n_long = (30, 10) if heavy else (300, 100)
        if quick:
            n_short, n_long = max(10, n_short // 5), max(5, n_long // 5)
        for name, text, n in (("short", SHORT, n_short), ("long", LONG, n_long)):
            median, p99 = time_checks(check, text, n)
            rows.append(Latency(label, name, n, median, p99, load))
        print(f"  timed {label}", file=sys.stderr)
    return rows


@dataclass
class Rates:
    guardrail: str
    group: str
    positives: int
    detected: int
    negatives: int
    false_positives: int
    missed: list[str]
    flagged: list[str]


def _rate(
    name: str, group: str, items: list[dict[str, Any]], hit: Callable[[dict[str, Any]], bool]
) -> Rates:
    pos = [i for i in items if i["label"] == 1]
    neg = [i for i in items if i["label"] == 0]
    missed = [i["id"] for i in pos if not hit(i)]
    flagged = [i["id"] for i in neg if hit(i)]
    return Rates(
        name, group, len(pos), len(pos) - len(missed), len(neg), len(flagged), missed, flagged
    )


def injection_rates(items: list[dict[str, Any]]) -> list[Rates]:
    configs = {
        "PromptInjectionGuardrail": PromptInjectionGuardrail(),
        "  heuristics only": PromptInjectionGuardrail(classifier=False),
        "  classifier only": PromptInjectionGuardrail(heuristics=False),
    }
    rows = []
    for name, rail in configs.items():

        def blocked(item: dict[str, Any], rail: PromptInjectionGuardrail = rail) -> bool:
            context = GuardrailContext(item["stage"])
            return rail.check(item["text"], context).action == "block"

        for split in SPLITS:
            for stage in ("input", "tool_result"):
                group = [i for i in items if i["stage"] == stage and i["split"] == split]
                rows.append(_rate(name, f"{split}: {stage}", group, blocked))
    return rows


def pii_rates(items: list[dict[str, Any]]) -> list[Rates]:
    rows = []
    for name, rail in (
        ("PIIGuardrail (regex)", PIIGuardrail()),
        ("PIIGuardrail (presidio)", PIIGuardrail(backend="presidio")),
    ):

        def found(item: dict[str, Any], rail: PIIGuardrail = rail) -> bool:
            kinds = {span.entity for span in rail.find(item["text"])}
            return item["form"] in kinds if item["label"] else bool(kinds)

        regex_kinds = {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS"}
        for split in SPLITS:
            part = [i for i in items if i["split"] == split]
            structured = [i for i in part if i["label"] == 0 or i["form"] in regex_kinds]
            rows.append(
                _rate(name, f"{split}: e-mails, phones, cards, IBANs, IPs", structured, found)
            )
            people = [i for i in part if i["label"] == 1 and i["form"] not in regex_kinds]
            if people:
                rows.append(_rate(name, f"{split}: names, street addresses", people, found))
    return rows


def print_tables(latency: list[Latency], rates: list[Rates]) -> None:
    print("\n### Latency per check (ms)\n")
    print("| guardrail | short: median | short: p99 | long: median | long: p99 | load (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    by_rail: dict[str, dict[str, Latency]] = {}
    for row in latency:
        by_rail.setdefault(row.guardrail, {})[row.text] = row
    for name, rows in by_rail.items():
        s, lg = rows["short"], rows["long"]
        print(
            f"| {name} | {s.median_ms:.3f} | {s.p99_ms:.3f} | {lg.median_ms:.3f} | "
            f"{lg.p99_ms:.3f} | {s.load_s:.2f} |"
        )
    counts = sorted({(r.n, r.text) for r in latency})
    print(f"\nTimed checks per cell: {', '.join(f'{n} ({t})' for n, t in counts)}.")
    print("\n### Detection on the labelled set\n")
    print("| guardrail | texts | detected | false positives |")
    print("|---|---|---:|---:|")
    for r in rates:
        print(
            f"| {r.guardrail} | {r.group} | {r.detected}/{r.positives} "
            f"({100 * r.detected / max(1, r.positives):.0f}%) | "
            + (
                f"{r.false_positives}/{r.negatives} "
                f"({100 * r.false_positives / r.negatives:.0f}%) |"
                if r.negatives
                else "n/a |"
            )
        )
    print("\nMissed and falsely flagged (ids in the set):\n")
    for r in rates:
        if r.missed or r.flagged:
            print(f"- {r.guardrail.strip()}, {r.group}: missed {r.missed}, flagged {r.flagged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timed checks")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    items = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    latency = measure_latency(args.quick)
    rates = injection_rates([i for i in items if i["kind"] == "injection"])
    rates += pii_rates([i for i in items if i["kind"] == "pii"])
    print_tables(latency, rates)
    if args.json:
        result = {
            "agentkit_revision": agentkit_revision(),
            "set": {"path": str(DATA.relative_to(REPO)), "size": len(items)},
            "latency": [asdict(r) for r in latency],
            "detection": [asdict(r) for r in rates],
        }
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
