"""What a session costs a run: lock, load and save, per store, with a 100-turn history.

Each store holds sessions of 100 turns (a turn: the user's question, an assistant message with
a tool call, the tool's result, the answer; about 200 characters each, 400 messages in all).
Timed, one operation at a time in one event loop, after a warm-up:

- lock: take and release the session's lock (uncontended);
- load: read and decode the whole history (no trim policy);
- save: append one turn (4 messages, one atomic write);
- turn: what a run adds around its model turns: lock, load, save, release.

Saves go round-robin over 20 sessions, so each grows by a few turns only. SQLite is a file in
a temporary directory (WAL, synchronous=NORMAL); Redis is the system's `redis-server`, started
on a loopback port for the run (no persistence). Medians and 99th percentiles, in milliseconds.
The 99th percentiles of load include Python's cyclic garbage collector: a load allocates some
thousand objects, and a full collection now and then costs 10-30 ms on a small machine
(`gc.freeze()` after start-up, or a higher `gc.set_threshold`, takes most of it away).

Usage:
    python bench/sessions.py            # 400 timed operations of each kind per store
    python bench/sessions.py --quick    # 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from agentkit.messages import Message, ToolCall
from agentkit.sessions import InMemorySession, RedisSession, Session, SQLiteSession

SESSIONS = 20
HISTORY_TURNS = 100
TEXT = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. " * 2


def turn(n: int) -> list[Message]:
    call = ToolCall(name="search", arguments={"query": f"question {n}", "limit": 5})
    return [
        Message.user(f"Question {n}: {TEXT}"),
        Message.assistant(tool_calls=[call]),
        Message.tool(f"Result {n}: {TEXT}", call_id=call.id, name="search"),
        Message.assistant(f"Answer {n}: {TEXT}"),
    ]


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[Any]:
    """A `redis-server` on a free loopback port, and a client; None if either is missing."""
    binary = shutil.which("redis-server")
    try:
        import redis
    except ImportError:
        redis = None  # type: ignore[assignment]
    if binary is None or redis is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", ""]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


async def timed(op: Callable[[int], Awaitable[object]], runs: int) -> list[float]:
    for i in range(min(20, runs)):  # warm-up
        await op(i)
    out = []
    for i in range(runs):
        start = time.perf_counter()
        await op(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


async def measure(sessions: list[Session], runs: int) -> dict[str, list[float]]:
    for session in sessions:
        await session.clear()
        await session.append([m for n in range(HISTORY_TURNS) for m in turn(n)])
    new_turn = turn(HISTORY_TURNS)

    async def lock(i: int) -> None:
        async with sessions[i % SESSIONS].lock():
            pass

    async def load(i: int) -> object:
        return await sessions[0].load()

    async def save(i: int) -> None:
        await sessions[i % SESSIONS].append(new_turn)

    async def whole_turn(i: int) -> None:
        session = sessions[i % SESSIONS]
        async with session.lock():
            await session.load()
            await session.append(new_turn)

    return {
        "lock": await timed(lock, runs),
        "load": await timed(load, runs),
        "save": await timed(save, runs),
        "turn": await timed(whole_turn, runs // 4),
    }


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def row(store: str, figures: dict[str, list[float]]) -> str:
    cells = [f"{statistics.median(v):.2f} / {p99(v):.2f}" for v in figures.values()]
    return f"| {store} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 timed operations, not 400")
    args = parser.parse_args()
    runs = 100 if args.quick else 400
    print(f"{HISTORY_TURNS}-turn history ({4 * HISTORY_TURNS} messages); median / p99, ms\n")
    print("| store | lock | load | save | turn |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        stores: list[tuple[str, Callable[[str], Session] | None]] = [
            ("InMemorySession", InMemorySession),
            ("SQLiteSession", lambda sid: SQLiteSession(Path(tmp) / "bench.db", sid)),
        ]
        with redis_server(Path(tmp)) as client:
            redis_open = None if client is None else (lambda sid: RedisSession(client, sid))
            stores.append(("RedisSession", redis_open))
            for name, open_session in stores:
                if open_session is None:
                    print(f"| {name} | not available (no redis-server or redis client) ||||")
                    continue
                sessions = [open_session(f"bench-{i}") for i in range(SESSIONS)]
                print(row(name, asyncio.run(measure(sessions, runs))), flush=True)


if __name__ == "__main__":
    main()
