"""Sessions under load and under failure, against each store (Redis: a real server).

Many runs at once, runs racing on one session (in one process and across processes), and
processes killed in the middle of a run.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit.messages import Message
from agentkit.sessions import SessionBusy
from tests.test_sessions_support import (
    SHARED_STORES,
    STORES,
    Lines,
    make_session,
    redis_client,
    spawn,
)


@pytest.fixture
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """Where the store lives: (what a session in this process takes, what a child takes)."""
    store = request.node.callspec.params["store"]
    if store == "sqlite":
        path = tmp_path / "sessions.db"
        yield path, str(path)
    elif store == "redis":
        url = request.getfixturevalue("redis_url")
        client = redis_client(url)
        yield client, url
        client.close()
    else:
        yield None, ""


async def run(session: Any, user: str) -> int:
    """One simulated run: under the lock, read the history, add a turn that records its length.

    Returns the length seen.
    """
    async with session.lock(timeout=60):
        seen = len(await session.load())
        await asyncio.sleep(0)  # let the other runs try to get in
        await session.append([Message.user(user), Message.assistant(f"saw {seen}")])
        return seen


def assert_serialised(messages: list[Message], runs: int) -> None:
    """Every run's turn is whole, and each run saw exactly the turns before its own."""
    assert len(messages) == 2 * runs
    for i in range(runs):
        user, answer = messages[2 * i], messages[2 * i + 1]
        assert (user.role, answer.role) == ("user", "assistant")
        assert answer.content == f"saw {2 * i}"
    assert len({m.content for m in messages[::2]}) == runs  # no run lost, none twice


@pytest.mark.parametrize("store", STORES)
def test_fifty_runs_on_fifty_sessions(store: str, place: tuple[Any, str]) -> None:
    ids = [f"user-{i}-{uuid.uuid4().hex}" for i in range(50)]
    sessions = [make_session(store, place[0], session_id) for session_id in ids]

    async def main() -> list[list[Message]]:
        for turn in range(3):
            await asyncio.gather(*(run(s, f"{s.session_id} turn {turn}") for s in sessions))
        return list(await asyncio.gather(*(s.load() for s in sessions)))

    for session_id, messages in zip(ids, asyncio.run(main()), strict=True):
        assert [m.content for m in messages[::2]] == [f"{session_id} turn {t}" for t in range(3)]
        assert [m.content for m in messages[1::2]] == ["saw 0", "saw 2", "saw 4"]


@pytest.mark.parametrize("store", STORES)
def test_ten_runs_racing_on_one_session(store: str, place: tuple[Any, str]) -> None:
    session_id = uuid.uuid4().hex
    shared = make_session(store, place[0], session_id)
    # In memory, the runs share one object; elsewhere each run opens the session itself.
    sessions = [
        shared if store == "memory" else make_session(store, place[0], session_id)
        for _ in range(10)
    ]

    async def main() -> list[int]:
        return list(await asyncio.gather(*(run(s, f"run {i}") for i, s in enumerate(sessions))))

    seen = asyncio.run(main())
    assert sorted(seen) == list(range(0, 20, 2))
    assert_serialised(asyncio.run(shared.load()), 10)


@pytest.mark.parametrize("store", SHARED_STORES)
def test_runs_racing_across_processes(store: str, place: tuple[Any, str]) -> None:
    session_id = uuid.uuid4().hex
    children = [spawn(store, place[1], session_id, "2", 30.0, f"p{i}") for i in range(5)]
    for child in children:
        assert child.wait(timeout=120) == 0
        child.stdout.close()
    assert_serialised(asyncio.run(make_session(store, place[0], session_id).load()), 10)


@pytest.mark.parametrize("store", SHARED_STORES)
def test_a_killed_run_keeps_the_history_and_its_lease_expires(
    store: str, place: tuple[Any, str]
) -> None:
    session_id, lease = uuid.uuid4().hex, 2.0
    session = make_session(store, place[0], session_id)
    asyncio.run(run(session, "before"))
    asyncio.run(run(session, "before, again"))
    history = asyncio.run(session.load())

    child = spawn(store, place[1], session_id, "hold", lease)
    lines = Lines(child)
    assert lines.next() == "locked 4"  # the child's run holds the lock and saw the history
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    child.stdout.close()
    killed_at = time.monotonic()

    assert asyncio.run(session.load()) == history
    with pytest.raises(SessionBusy):  # its lease outlives it for a while ...
        asyncio.run(_try(session))
    asyncio.run(run(session, "after"))  # ... then the next run proceeds
    assert time.monotonic() - killed_at < lease + 2
    messages = asyncio.run(session.load())
    assert messages[:4] == history
    assert [m.content for m in messages[4:]] == ["after", "saw 4"]


async def _try(session: Any) -> None:
    async with session.lock(timeout=0):
        pass


@pytest.mark.parametrize("store", SHARED_STORES)
def test_a_run_killed_while_appending_leaves_only_whole_appends(
    store: str, place: tuple[Any, str]
) -> None:
    session_id = uuid.uuid4().hex
    child = spawn(store, place[1], session_id, "write", 2.0)
    lines = Lines(child)
    assert lines.until("appended 5") == "appended 5"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    messages = asyncio.run(make_session(store, place[0], session_id).load())
    assert len(messages) >= 120
    assert len(messages) % 20 == 0
    expected = [f"b{b} m{i}" for b in range(len(messages) // 20) for i in range(20)]
    assert [m.content for m in messages] == expected
