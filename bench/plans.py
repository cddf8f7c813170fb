"""What call shaping's plan alone gets right, without decoding: call count and reachable values.

For each entry the router and `plan_calls` run as in a routed turn of `TransformersModel`
(`agentkit.models._routed.routed_request`); no model decodes. Reported per category:

- `route`: a text answer where BFCL wants none (irrelevance), calls where it wants calls;
- `count`: the planned calls name the expected tools, as many times as expected;
- `reachable`: besides the right count, every expected argument can still be decoded under the
  shaped schema (a grounded string or number admits one of the right values, after BFCL's
  string normalisation; a parameter the answer needs is not left out; a parameter the answer
  leaves out is not required): the best the model can then do.

The model's own errors come on top of these; they bound what `bench/bfcl.py` can score. Fast
(seconds for hundreds of entries), so that the planner's rules can be checked on agentkit's own
sets and on BFCL's live categories (user-contributed prompts, never the scored ones) while
they are written.

Usage:
    python bench/plans.py --data dev                     # agentkit's development set
    python bench/plans.py --data live --limit 200        # BFCL's live categories
    python bench/plans.py --data bfcl --limit 50 --show  # the scored set, each miss printed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _bfcl_ast import standardize_string
from bfcl import CATEGORIES, OWN_SETS, load_category, read_jsonl, spread

from agentkit import Message, Tool
from agentkit.models import ModelRequest
from agentkit.models._routed import routed_request
from agentkit.models.routing import EmbeddingRouter
from agentkit.models.shaping import CallShaping, PlannedCall

LIVE = {
    "simple": "live_simple",
    "multiple": "live_multiple",
    "parallel": "live_parallel",
    "parallel_multiple": "live_parallel_multiple",
    "irrelevance": "live_irrelevance",
}


def record_only(**_: Any) -> str:
    return "ok"


def entries(source: str, short: str, limit: int) -> list[dict[str, Any]]:
    if source in OWN_SETS or source == "bfcl":
        return load_category(CATEGORIES[short], limit, source)
    from bfcl import data_dir

    root = data_dir()
    rows = read_jsonl(root / f"BFCL_v4_{LIVE[short]}.json")
    answers = root / "possible_answer" / f"BFCL_v4_{LIVE[short]}.json"
    if answers.exists():
        truth = {a["id"]: a["ground_truth"] for a in read_jsonl(answers)}
        for row in rows:
            row["ground_truth"] = truth[row["id"]]
    return spread(rows, limit)


def admits(schema: dict[str, Any], value: Any) -> bool:
    """Whether a shaped property schema can still produce `value` (BFCL's string rules)."""
    enum = [schema["const"]] if "const" in schema else schema.get("enum")
    if isinstance(enum, list):
        if isinstance(value, str):
            return standardize_string(value) in {
                standardize_string(e) for e in enum if isinstance(e, str)
            }
        return any(e == value and type(e) is not bool for e in enum) or value in enum
    kind = schema.get("type")
    if kind == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        lead = schema.get("prefixItems") or []
        if len(value) < len(lead) or len(value) > schema.get("maxItems", len(value)):
            return False
        return all(admits(s, v) for s, v in zip(lead, value, strict=False)) and all(
            admits(schema["items"], v) for v in value[len(lead) :]
        )
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties") or {}
        return all(  # BFCL writes a nested value's fields as lists of alternatives
            any(admits(props[k], a) for a in (v if isinstance(v, list) else [v]) if a != "")
            or "" in (v if isinstance(v, list) else [])
            if isinstance(props.get(k), dict)
            else True
            for k, v in value.items()
        )
    return True


def call_reachable(planned: PlannedCall, expected: dict[str, list[Any]]) -> str:
    """The empty string when the expected call can be decoded under the plan, else why not."""
    properties = planned.parameters.get("properties") or {}
    required = set(planned.parameters.get("required") or ())
    for name, allowed in expected.items():
        optional = "" in allowed
        if name not in properties:
            if not optional:
                return f"{name}: left out"
            continue
        values = [v for v in allowed if v != ""]
        if name in required and not values:
            return f"{name}: required, answer leaves it out"
        if values and not any(admits(properties[name], v) for v in values):
            shown = properties[name].get("enum")
            return f"{name}: {values[:3]} not in {shown if shown is None else shown[:6]}"
    for name in required - set(expected):
        return f"{name}: required, not in the answer"
    return ""


def plan_entry(router: EmbeddingRouter, shaping: CallShaping, entry: dict[str, Any]) -> Any:
    tools = [Tool.from_schema(f, fn=record_only) for f in entry["function"]]
    transcript = [Message(role=m["role"], content=m["content"]) for m in entry["question"][0]]
    request = ModelRequest(transcript=transcript, tools=tools)
    routed, planned = routed_request(router, shaping, request)
    return routed, planned


def judge(short: str, entry: dict[str, Any], routed: Any, planned: list[PlannedCall]) -> str:
    """The empty string when right, else the first reason."""
    truth = entry.get("ground_truth") or []
    if short == "irrelevance":
        return "" if routed.tool_choice == "none" else f"calls {[p.tool.name for p in planned]}"
    if routed.tool_choice == "none":
        return "text answer"
    if not planned:
        return "unplanned (model decides the count)"
    names = [p.tool.name for p in planned]
    wanted = [next(iter(call)) for call in truth]
    if Counter(names) != Counter(wanted):
        return f"count: planned {names}, expected {wanted}"
    unmatched = list(truth)
    for p in planned:  # BFCL's greedy matching, any order
        reasons = []
        for call in unmatched:
            name, args = next(iter(call.items()))
            if name == p.tool.name:
                reason = call_reachable(p, args)
                if not reason:
                    unmatched.remove(call)
                    break
                reasons.append(reason)
        else:
            return f"value: {p.tool.name}: {reasons[0] if reasons else 'no match'}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default="dev", choices=["dev", "heldout", "style", "bfcl", "live"]
    )
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--categories", default=",".join(CATEGORIES))
    parser.add_argument("--show", action="store_true", help="print every miss")
    parser.add_argument("--off", default="", help="CallShaping fields turned off, comma-separated")
    args = parser.parse_args(argv)
    off = dict.fromkeys(filter(None, args.off.split(",")), False)
    shaping = CallShaping(**off)
    router = EmbeddingRouter()
    totals: dict[str, Counter[str]] = {}
    for short in args.categories.split(","):
        rows = entries(args.data, short, args.limit)
        tally: Counter[str] = Counter(n=len(rows))
        for entry in rows:
            routed, planned = plan_entry(router, shaping, entry)
            reason = judge(short, entry, routed, planned)
            kind = reason.split(":")[0].split(" [")[0]
            tally["right" if not reason else kind] += 1
            if reason and args.show:
                question = entry["question"][0][-1]["content"].replace("\n", " ")[:160]
                print(f"[{short}] {entry['id']}: {reason}\n    {question}")
        totals[short] = tally
    print(json.dumps({k: dict(v) for k, v in totals.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    raise SystemExit(main())
