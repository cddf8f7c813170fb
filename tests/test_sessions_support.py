"""Shared by the session tests: a real Redis server, sessions of each store, child processes.

No tests here. The Redis server is the system's `redis-server` (installed by `.ci/setup`),
started on a free loopback port in a temporary directory and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit._sessions_base import StoredSession
from agentkit.sessions import InMemorySession, RedisSession, SQLiteSession
from tests._net import free_port

ROOT = Path(__file__).resolve().parent.parent
STORES = ["memory", "sqlite", "redis"]
SHARED_STORES = ["sqlite", "redis"]  # the ones several processes can share


def _wait_ready(url: str, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.02)  # the server is starting: nothing to await from here
        return False
    finally:
        client.close()


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """Start `redis-server` on a free loopback port (no persistence); yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None or importlib.util.find_spec("redis") is None:
        missing = "redis-server" if binary is None else "the redis client (agentkit[redis])"
        if os.environ.get("CI"):  # `.ci/setup` installs both: CI must not skip these tests
            pytest.fail(f"{missing} is not installed")
        pytest.skip(f"{missing} is not installed here (`.ci/setup` installs it)")
    for _attempt in range(3):  # a port found free may be taken before the server binds it
        port = free_port()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp)]
        args += ["--save", "", "--appendonly", "no", "--logfile", str(tmp / "redis.log")]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            if _wait_ready(url, proc, time.monotonic() + 15):
                yield url
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    log = (tmp / "redis.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"redis-server did not start:\n{log}")


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=10)


def make_session(store: str, where: Any, session_id: str, **options: Any) -> StoredSession:
    """A session of `store`: `where` is the SQLite path or the Redis client (ignored in memory)."""
    if store == "memory":
        return InMemorySession(session_id, **options)
    if store == "sqlite":
        return SQLiteSession(where, session_id, **options)
    return RedisSession(where, session_id, **options)


CHILD = r"""
import asyncio, sys
from agentkit.messages import Message
from agentkit.sessions import RedisSession, SQLiteSession

store, where, session_id, mode, lease = sys.argv[1:6]

def session():
    if store == "sqlite":
        return SQLiteSession(where, session_id, lease=float(lease))
    import redis
    return RedisSession(redis.Redis.from_url(where), session_id, lease=float(lease))

async def hold(s):
    # A run that took the lock and read the history, then hangs (until it is killed).
    async with s.lock(timeout=30):
        history = await s.load()
        print("locked", len(history), flush=True)
        await asyncio.Event().wait()

async def write(s):
    # A run that appends batches of 20 messages, forever, under the lock.
    async with s.lock(timeout=30):
        for batch in range(10**6):
            await s.append([Message.user(f"b{batch} m{i}") for i in range(20)])
            print("appended", batch, flush=True)

async def race(s, runs):
    # Runs racing other processes on one session: each sees every earlier run's messages.
    for run in range(runs):
        async with s.lock(timeout=60):
            seen = len(await s.load())
            await asyncio.sleep(0.001)
            await s.append([Message.user(f"{sys.argv[6]}-{run}"), Message.assistant(f"saw {seen}")])

s = session()
if mode == "hold":
    asyncio.run(hold(s))
elif mode == "write":
    asyncio.run(write(s))
else:
    asyncio.run(race(s, int(mode)))
"""


def spawn(store: str, where: str, session_id: str, mode: str, lease: float, *extra: str) -> Any:
    """Start a child process that uses the session (see `CHILD`); its stdout is a pipe."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    args = [sys.executable, "-c", CHILD, store, where, session_id, mode, str(lease), *extra]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


class Lines:
    """A child's stdout, read on a thread so that each line can be awaited with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._queue.put(line.strip())
        self._queue.put("")  # end of output

    def next(self, timeout: float = 30) -> str:
        return self._queue.get(timeout=timeout)

    def until(self, prefix: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(0.01, deadline - time.monotonic()))
            if line.startswith(prefix) or not line:
                return line
