"""Local-model performance of agentkit on the embedded default model (SmolLM2-135M-Instruct).

Five measurements, four of them against a target of issue 3:

1. speed: decoding through agentkit (`TransformersModel.generate`, unconstrained, greedy) against
   transformers' own `model.generate` on the same weights, prompt and number of new tokens
   (`min_new_tokens = max_new_tokens =` what agentkit generated), as tokens/s, prefill included.
   Two prompts: a bare user message and an agent prompt (the function list in the system prompt).
   Target: ratio >= 0.95.
2. grammar: constrained against unconstrained time per generated token on the same request, with
   the prompt already in the run's KV cache (so nearly pure decoding), plus the grammar's own work
   per token (mask computation and application, token consumption) timed alone by replaying the
   constrained reply through a fresh matcher, and the grammar's compile time. Target: <= 5 %.
3. turns: a scripted six-turn conversation (one run id, the transcript growing each turn, the
   function list in the system prompt): prompt tokens prefilled and wall time with KV-cache reuse
   against `cache_sessions=0`. Target: >= 3x fewer tokens prefilled. Also the first turns of
   six new runs of one agent, starting from a recent prompt's cache (`share_prefixes`) or not.
4. load: `TransformersModel.default()` in a fresh interpreter, first (GGUF conversion into an
   empty temporary `AGENTKIT_CACHE`) and cached; the load call alone (torch, transformers,
   agentkit and transformers' lazily imported Llama modules already imported) and including all
   those imports. Target: cached <= 3 s.
5. batch: 2, 4 and 8 runs generating at once (a thread each, the agent prompt, different
   requests), one reply at a time (`batch_size=1`) against decoding together: wall time, mean
   latency, and whether the replies are identical; cold (every prompt prefilled whole) and warm
   (the prompt's beginning cached by an earlier run, as in a running service).

Every timing is repeated and the median kept; the agentkit and reference runs are interleaved so
that load from other processes hits both alike, and ratios are medians of adjacent pairs. Torch
runs on `--threads` threads (default 1: on a shared machine two OpenMP threads fighting other
processes for two cores ran 3-5x slower).

Usage:
    python bench/local.py --quick            # about 10 minutes on a loaded 2-core machine
    python bench/local.py                    # more tokens and repeats
    python bench/local.py --only speed,load  # some sections
    python bench/local.py --profile          # also cProfile agentkit's token loop

Writes bench/results/local.json (or `--json PATH`). The grammar section reaches into agentkit's
private token loop (`agentkit.models._decode`) on purpose, to time exactly the work it does.
Sections 1, 2, 3 and 5 are in `_local_sections.py`, the profile and report in
`_local_report.py`, settings, prompts and helpers in `_local_common.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _local_common import (
    FULL,
    QUICK,
    REPO,
    RESULTS,
    SECTIONS,
    TARGETS,
    Settings,
    machine,
    median,
    timed,
)
from _local_report import profile, report
from _local_sections import bench_batch, bench_grammar, bench_speed, bench_turns

# -- 4. load --------------------------------------------------------------------------------------
LOAD_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
from agentkit.models import TransformersModel
imported = time.perf_counter()
# transformers imports a model family's modules lazily, on its first load in a process
import transformers.models.llama.modeling_llama
lazy = time.perf_counter()
TransformersModel.default()
done = time.perf_counter()
print(json.dumps({"imports_s": imported - start, "lazy_imports_s": lazy - imported,
                  "load_s": done - lazy, "with_imports_s": done - start}))
"""


def load_once(cache: Path) -> dict[str, float]:
    env = {**os.environ, "AGENTKIT_CACHE": str(cache)}
    seconds, proc = timed(
        lambda: subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
    )
    if proc.returncode != 0:
        raise RuntimeError(f"loading failed:\n{proc.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_s"] = seconds
    return figures


def bench_load(settings: Settings) -> dict[str, Any]:
    first, cached = [], []
    with tempfile.TemporaryDirectory(prefix="agentkit-bench-") as tmp:
        for i in range(settings.first_loads):
            first.append(load_once(Path(tmp) / f"cache-{i}"))
        for _ in range(settings.cached_loads):
            cached.append(load_once(Path(tmp) / "cache-0"))

    def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
        keys = ("load_s", "with_imports_s", "imports_s", "lazy_imports_s", "process_s")
        return {**{k: median([r[k] for r in runs]) for k in keys}, "runs": runs}

    return {"first": summary(first), "cached": summary(cached)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile agentkit's generate")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    sections = [s for s in SECTIONS if s in args.only.split(",")]

    results: dict[str, Any] = {"settings": vars(settings) | {"quick": args.quick}}
    if "load" in sections:  # first: in fresh interpreters, before this process loads anything
        results["load"] = bench_load(settings)
    import torch

    torch.set_num_threads(args.threads)
    results["machine"] = machine()
    benches = {
        "speed": bench_speed,
        "grammar": bench_grammar,
        "turns": bench_turns,
        "batch": bench_batch,
    }
    for name in sections:
        if name in benches:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = benches[name](settings)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["targets"] = TARGETS
    if args.profile:
        results["profile"] = profile(settings)
    print(report(results))
    if args.profile:
        print(results["profile"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
