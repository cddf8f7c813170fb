"""Serving: `agentkit serve` under load, beside a bare Starlette endpoint (the ceiling).

Both servers run as one uvicorn worker in their own process on 127.0.0.1 (loopback only); the
same client (httpx, in this process) sends `--total` requests with `--concurrent` in flight and
times each one. The bare endpoint reads the body and returns a fixed completion: what any
Python server on Starlette and uvicorn costs. The served agent runs on `ScriptedModel(callable)`
with one tool: each request is a run of two model turns (a call of `add`, then the answer), so
what the ratio shows is the protocol mapping, the limits and the agent loop with a tool call.
Every answer is checked against its own request (no cross-talk). The agentkit server's memory
(RSS) is read after a warm-up round, after the load, and after each of `--rounds` more rounds:
it should level off.

`--local` also serves the default local model (`TransformersModel.default()`, CPU) to 8
concurrent clients and times their runs.

Usage:
    python bench/serve.py                       # 2000 requests, 200 in flight (a minute or two)
    python bench/serve.py --total 400 --concurrent 100
    python bench/serve.py --local --json out.json

Bounded: each phase stops at `--deadline` seconds. Client and servers share the machine, so on
a small or busy machine the client's own cost weighs on both sides of the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()
_ADD = re.compile(r"add (-?\d+) (-?\d+)")
FIXED_ANSWER = "2 + 3 = 5"
FIXED = {
    "id": "chatcmpl-bare",
    "object": "chat.completion",
    "created": 0,
    "model": "agentkit",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": FIXED_ANSWER},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
}


# -- what is served --------------------------------------------------------------------------------
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def reply(request: Any) -> str:
    """`add A B` -> a call; its result -> `A + B = R`."""
    last = request.transcript[-1]
    if last.role == "tool":
        call = request.transcript[-2].tool_calls[0]
        return f"{call.arguments['a']} + {call.arguments['b']} = {last.content}"
    match = _ADD.fullmatch(last.content.strip())
    if match is None:
        return "no sum asked"
    return json.dumps([{"name": "add", "arguments": {"a": int(match[1]), "b": int(match[2])}}])


def make_agent() -> Any:
    """The agent served under load: a scripted model and one tool."""
    from agentkit import Agent
    from agentkit.models import ScriptedModel

    model = ScriptedModel(reply)
    # ScriptedModel records every request it gets (for tests); a server runs for long: keep
    # only the last few, or the record itself is what grows.
    model.requests = collections.deque(maxlen=100)  # type: ignore[assignment]
    return Agent(model, tools=[add])


def make_local_agent() -> Any:
    """The default local model with the same tool."""
    from agentkit import Agent
    from agentkit.models import TransformersModel

    return Agent(TransformersModel.default(), tools=[add], max_steps=4)


def bare_app() -> Any:
    """A Starlette endpoint that reads the body and returns a fixed completion."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def completions(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(FIXED)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/health", health),
        ]
    )


# -- servers ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command() -> list[str]:
    """`python -m agentkit serve` once the command line has it, else the subcommand's module."""
    done = subprocess.run(
        [sys.executable, "-m", "agentkit", "serve", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    module = "agentkit" if done.returncode == 0 else "agentkit._serve_cli"
    return [sys.executable, "-m", module, "serve"]


class Server:
    """A server process on a free port, ready when its `/health` answers."""

    def __init__(self, command: list[str], port: int, *, ready_within: float = 600) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        import httpx

        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}: {command}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"the server did not start: {command}")

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = int(re.search(r"VmRSS:\s+(\d+)", status)[1])  # type: ignore[index]
        return round(kib / 1024, 1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def agentkit_server(target: str, *options: str) -> Server:
    port = free_port()
    command = [*serve_command(), f"{HERE}:{target}", "--port", str(port), "--log-level", "warning"]
    return Server([*command, *options], port)


def bare_server() -> Server:
    port = free_port()
    return Server([sys.executable, str(HERE), "--bare-port", str(port)], port)


# -- the client ------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client on asyncio streams: one keep-alive connection per request in flight.
# httpx's pool costs more than the bare server itself at 200 connections, which would make the
# ceiling the client's.
async def load(
    url: str, total: int, concurrent: int, *, stream: bool, deadline: float, fixed: bool
) -> dict[str, Any]:
    """`total` requests, `concurrent` at a time; requests per second and latency percentiles."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    wrong: list[str] = []
    todo = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in todo:
                body = {
                    "model": "agentkit",
                    "messages": [{"role": "user", "content": f"add {i} {i + 1}"}],
                }
                if stream:
                    body["stream"] = True
                payload = json.dumps(body).encode()
                head = (
                    f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                start = time.perf_counter()
                writer.write(head.encode() + payload)
                status, text = await read_response(reader)
                latencies.append(time.perf_counter() - start)
                expected = FIXED_ANSWER if fixed else f"{i} + {i + 1} = {2 * i + 1}"
                got = answer(text, stream) if status == 200 else f"HTTP {status}: {text[:200]}"
                if got != expected:
                    wrong.append(got)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(concurrent))), deadline)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": total,
        "concurrent": concurrent,
        "failed_or_wrong": len(wrong),
        "first_wrong": wrong[:1],
        "rps": round(total / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
    }


async def read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Status and body of one response (by Content-Length, or chunked)."""
    status = int((await reader.readline()).split()[1])
    length, chunked = None, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, (await reader.readexactly(length or 0)).decode()
    parts = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readexactly(2)
    return status, b"".join(parts).decode()


def answer(text: str, stream: bool) -> str:
    if not stream:
        return str(json.loads(text)["choices"][0]["message"]["content"])
    parts = []
    for line in text.splitlines():
        data = json.loads(line[6:]) if line.startswith("data: {") else {}
        if data.get("choices"):
            parts.append(data["choices"][0]["delta"].get("content") or "")
    return "".join(parts)


# -- phases ----------------------------------------------------------------------------------------
def scripted(args: argparse.Namespace) -> dict[str, Any]:
    def run(url: str, stream: bool = False) -> dict[str, Any]:
        fixed = url == bare.url
        figures = load(
            url, args.total, args.concurrent, stream=stream, deadline=args.deadline, fixed=fixed
        )
        return asyncio.run(figures)

    bare = bare_server()
    try:
        run(bare.url)  # warm-up
        ceiling = run(bare.url)
    finally:
        bare.stop()
    served = agentkit_server("make_agent", "--max-concurrency", str(max(args.concurrent, 64)))
    try:
        run(served.url)  # warm-up
        rss_warm = served.rss_mib()
        plain = run(served.url)
        streamed = run(served.url, stream=True)
        rss_loaded = served.rss_mib()
        rss_rounds = []
        for _ in range(args.rounds):  # more of the same load: memory should level off
            run(served.url)
            rss_rounds.append(served.rss_mib())
    finally:
        served.stop()
    return {
        "bare_starlette": ceiling,
        "agentkit_serve": plain,
        "agentkit_serve_stream": streamed,
        "ratio_rps": round(plain["rps"] / ceiling["rps"], 3),
        "ratio_p50": round(plain["p50_ms"] / ceiling["p50_ms"], 2),
        "ratio_p99": round(plain["p99_ms"] / ceiling["p99_ms"], 2),
        "rss_mib": {
            "after_warm_up": rss_warm,
            "after_load": rss_loaded,
            "after_each_further_round": rss_rounds,
        },
    }


async def local_load(url: str, clients: int, deadline: float) -> dict[str, Any]:
    import httpx

    questions = [f"What is {7 * i + 3} plus {11 * i + 5}?" for i in range(clients)]
    latencies: list[float] = []
    answers: list[str] = []

    async def one(client: httpx.AsyncClient, question: str) -> None:
        body = {"model": "agentkit", "messages": [{"role": "user", "content": question}]}
        start = time.perf_counter()
        response = await client.post("/v1/chat/completions", json=body)
        latencies.append(time.perf_counter() - start)
        answers.append(
            response.json()["choices"][0]["message"]["content"]
            if response.status_code == 200
            else f"HTTP {response.status_code}"
        )

    async with httpx.AsyncClient(base_url=url, timeout=deadline) as client:
        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(client, q) for q in questions)), deadline)
        elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "wall_s": round(elapsed, 1),
        "rps": round(clients / elapsed, 3),
        "p50_s": round(statistics.median(latencies), 2),
        "max_s": round(max(latencies), 2),
        "answers": answers,
    }


def local(args: argparse.Namespace) -> dict[str, Any]:
    served = agentkit_server("make_local_agent", "--timeout", str(args.deadline))
    try:
        asyncio.run(local_load(served.url, 1, args.deadline))  # warm: the first run loads
        return asyncio.run(local_load(served.url, 8, args.deadline))
    finally:
        served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4, help="further rounds for memory")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds per phase, at most")
    parser.add_argument(
        "--local", action="store_true", help="also the default local model, 8 clients"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--bare-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_port:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare_port, log_level="warning")
        return
    sys.path.insert(0, str(REPO))
    from bench._revision import agentkit_revision

    figures: dict[str, Any] = {"agentkit_revision": agentkit_revision(), "cpus": os.cpu_count()}
    figures["scripted"] = scripted(args)
    if args.local:
        figures["local_default_model"] = local(args)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
