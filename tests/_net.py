"""Servers in subprocesses for tests: a free loopback port, and a process started on it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from typing import IO


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_listening(
    argv: Sequence[str], port: int, log: IO[str], *, cwd: str | None = None, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """Start `argv` and return once it accepts connections on `port` (killed after `timeout`).

    Raises:
        RuntimeError: the process exited, or did not listen in time.
    """
    process = subprocess.Popen(list(argv), cwd=cwd, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # a port gives nothing to await: poll, bounded
        if process.poll() is not None:
            raise RuntimeError(f"{argv[-1]!r}: the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{argv[-1]!r}: the server did not start")
