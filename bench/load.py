"""Cached load of the default model, in fresh processes: imports, agentkit's part, first turn.

Each repeat starts a fresh Python process that, timing each phase apart:

1. imports torch and transformers, then the rest of what a local model needs: transformers'
   model code (`modeling_utils` and the Llama model class, which `import transformers` defers),
   tokenizers, safetensors and llguidance;
2. builds `TransformersModel.default()` (agentkit's part: importing agentkit, reading the cached
   safetensors and the tokenizer, picking the router);
3. generates one constrained, routed turn of a short tool reply (the first turn: the router's
   encoder load, the grammar engine's tokenizer, prefill and decoding), with the encoder load
   and the grammar tokenizer also shown apart.

One process per tree runs first, untimed, so that the timed ones read compiled bytecode, as
a user's do (the children never inherit `PYTHONDONTWRITEBYTECODE`). The model must already be
converted (`agentkit pull default`, or one `TransformersModel.default()`).
With `--compare PATH` the agentkit sources at PATH (e.g. a `git worktree` of an older commit) are
measured too, with the same Python, in turns (this tree then PATH, PATH then this tree, ...) so
that the load of a shared machine falls on both alike; the greedy reply's token ids must be the
same in both. `--compare-cache DIR` gives the compared sources their own `AGENTKIT_CACHE`, for a
change in what the cache holds (a copy of the cache as the older sources left it).
`agentkit_with_deferred_imports` adds to agentkit's part the imports timed after
`import torch, transformers` (transformers' model code above all), which a plain
`TransformersModel.default()` right after `import torch, transformers` would pay inside it.
`cpu_imports` (from the process's start) and `cpu_agentkit` are CPU seconds, which the load of
other processes changes far less than wall time.

Usage:
    python bench/load.py                       # 5 fresh processes
    python bench/load.py --repeats 9 --compare /tmp/oldrev
    python bench/load.py --compare /tmp/oldrev --compare-cache /tmp/oldcache
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _revision import agentkit_revision

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
REPO = Path(__file__).resolve().parent.parent

IMPORTS = (
    ("torch", "import torch"),
    ("transformers", "import transformers"),
    ("modeling", "import transformers.modeling_utils, transformers.models.llama.modeling_llama"),
    ("tokenizers", "import tokenizers"),
    ("safetensors", "import safetensors.torch"),
    ("llguidance", "import llguidance, llguidance.hf"),
)
"""What a local model imports besides agentkit, in order, each timed apart."""

PHASES = ("agentkit", "first_turn", "encoder", "grammar_tokenizer")


def child() -> None:
    """One measurement, in this (fresh) process: prints one JSON line."""
    import time

    timings: dict[str, float] = {}
    for name, statement in IMPORTS:
        start = time.perf_counter()
        exec(statement, {})  # the fixed statements of IMPORTS
        timings[f"import_{name}"] = time.perf_counter() - start

    start, cpu = time.perf_counter(), time.process_time()
    from agentkit.models import TransformersModel

    model = TransformersModel.default()
    timings["agentkit"] = time.perf_counter() - start
    timings["cpu_imports"] = cpu  # CPU seconds: little changed by other processes' load
    timings["cpu_agentkit"] = time.process_time() - cpu
    _time_inner_phases(timings)

    from agentkit import tool
    from agentkit.messages import Message
    from agentkit.models._base import ModelRequest

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return "sunny"

    request = ModelRequest(
        transcript=[Message(role="user", content="What is the weather in Paris right now?")],
        tools=[get_weather],
        format=model.format,
    )
    start = time.perf_counter()
    reply = model.generate(request)
    timings["first_turn"] = time.perf_counter() - start
    start = time.perf_counter()
    model.generate(request)
    timings["second_turn"] = time.perf_counter() - start
    import agentkit

    where = str(Path(agentkit.__file__).parent.parent)
    print(
        json.dumps(
            {"timings": timings, "token_ids": reply.token_ids, "text": reply.text, "source": where}
        )
    )


def _time_inner_phases(timings: dict[str, float]) -> None:
    """Time the encoder load and the grammar tokenizer's build when the first turn does them."""
    import time

    from agentkit.models import _encoder, _local

    read_encoder = _encoder._read_encoder
    grammar_tokenizer = _local.Loaded.grammar_tokenizer

    def timed_read_encoder(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return read_encoder(*args, **kwargs)
        finally:
            timings["encoder"] = timings.get("encoder", 0.0) + time.perf_counter() - start

    def timed_grammar_tokenizer(self: Any) -> Any:
        start = time.perf_counter()
        try:
            return grammar_tokenizer(self)
        finally:
            timings.setdefault("grammar_tokenizer", time.perf_counter() - start)

    _encoder._read_encoder = timed_read_encoder
    _local.Loaded.grammar_tokenizer = timed_grammar_tokenizer  # type: ignore[method-assign]


def measure(source: Path | None, cache: Path | None = None) -> dict[str, Any]:
    """One fresh process with agentkit from `source` (None: this tree), `cache` its cache."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if cache is not None:
        env["AGENTKIT_CACHE"] = str(cache)
    env["TOKENIZERS_PARALLELISM"] = "false"
    env["PYTHONPATH"] = str(source or REPO)
    # a cached load reads agentkit's compiled bytecode, as that of any installed package; with
    # PYTHONDONTWRITEBYTECODE set, every process would compile agentkit's sources again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child"],
        env=env,
        cwd=str(source or REPO),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Min and median of every timing over the runs, in seconds."""
    names = sorted({name for run in runs for name in run["timings"]})
    summary: dict[str, Any] = {}
    for name in names:
        values = [run["timings"][name] for run in runs if name in run["timings"]]
        summary[name] = {"min": min(values), "median": statistics.median(values)}
    for name, compute in (
        ("imports", _imports),
        ("agentkit_with_deferred_imports", _agentkit_with_deferred_imports),
    ):
        values = [compute(run["timings"]) for run in runs]
        summary[name] = {"min": min(values), "median": statistics.median(values)}
    return summary


def _imports(timings: dict[str, float]) -> float:
    return sum(v for k, v in timings.items() if k.startswith("import_"))  # wall time


def _agentkit_with_deferred_imports(timings: dict[str, float]) -> float:
    """Agentkit's part timed from `import torch, transformers`: what they defer included."""
    before = timings["import_torch"] + timings["import_transformers"]
    return _imports(timings) - before + timings["agentkit"]


def table(label: str, summary: dict[str, Any]) -> str:
    """Rows of seconds, min and median."""
    rows = [f"{label}: seconds, min / median"]
    order = [f"import_{name}" for name, _ in IMPORTS]
    order += ["imports", "agentkit", "agentkit_with_deferred_imports", "cpu_imports"]
    order += ["cpu_agentkit"]
    order += ["first_turn", "encoder", "grammar_tokenizer", "second_turn"]
    for name in order:
        if name in summary:
            cell = summary[name]
            rows.append(f"  {name:<31} {cell['min']:7.3f} {cell['median']:7.3f}")
    return "\n".join(rows)


def main() -> None:
    """Measure, print the tables and write `bench/results/load.json`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per tree")
    parser.add_argument("--compare", type=Path, help="other agentkit sources to measure in turn")
    parser.add_argument(
        "--compare-cache",
        type=Path,
        help="the compared sources' own AGENTKIT_CACHE (a copy of the cache as they left it)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    trees: dict[str, Path | None] = {"this tree": None}
    if args.compare:
        trees["compared"] = args.compare.resolve()
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    for source in trees.values():  # not counted: writes the bytecode the timed loads read
        measure(source, args.compare_cache if source is not None else None)
    load_before = os.getloadavg()
    for repeat in range(args.repeats):
        order = list(trees.items())
        for label, source in order[::-1] if repeat % 2 else order:  # each tree first in turn
            cache = args.compare_cache if source is not None else None
            runs[label].append(measure(source, cache))
    load_after = os.getloadavg()
    report = _report(trees, runs, load_before, load_after)
    report["compared_cache"] = str(args.compare_cache or "")
    for label, summary in report["summary"].items():
        print(table(label, summary))
    print(f"load average before / after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    if args.compare:
        print("same greedy token ids:", report["same_token_ids"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


def _report(
    trees: dict[str, Path | None],
    runs: dict[str, list[dict[str, Any]]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, Any]:
    token_ids = {
        label: [run["token_ids"] for run in tree_runs] for label, tree_runs in runs.items()
    }
    every = [ids for tree_ids in token_ids.values() for ids in tree_ids]
    python = platform.python_version()
    return {
        "machine": f"Python {python}, {os.cpu_count()} CPUs, {platform.system()}",
        "agentkit": agentkit_revision(),
        "compared": str(trees.get("compared") or ""),
        "repeats": len(runs["this tree"]),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "same_token_ids": all(ids == every[0] for ids in every),
        "reply": runs["this tree"][0]["text"],
        "summary": {label: summarise(tree_runs) for label, tree_runs in runs.items()},
        "runs": runs,
    }


if __name__ == "__main__":
    main()
