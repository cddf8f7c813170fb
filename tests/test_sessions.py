"""Sessions, against each store (Redis: a real server): storage, locking, fencing and errors."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import Context
from pathlib import Path
from typing import Any

import pytest

from agentkit.errors import AgentkitError, UsageError
from agentkit.messages import Message, ToolCall
from agentkit.sessions import (
    InMemorySession,
    RedisSession,
    Session,
    SessionBusy,
    SessionCorrupted,
    SessionError,
    SessionLockLost,
    SessionStoreError,
    SQLiteSession,
    TrimPolicy,
)
from tests.test_sessions_support import (
    SHARED_STORES,
    STORES,
    make_session,
)

Factory = Callable[..., Any]


@pytest.fixture
def open_session(store: str, where: Any) -> Factory:
    """Opens a session of the store by id; in memory, one id is always the same object."""
    memory: dict[str, Any] = {}

    def factory(session_id: str, **options: Any) -> Any:
        if store == "memory":
            return memory.setdefault(session_id, make_session(store, where, session_id, **options))
        return make_session(store, where, session_id, **options)

    return factory


def sid() -> str:
    return uuid.uuid4().hex


def conversation() -> list[Message]:
    call = ToolCall(name="weather", arguments={"city": "Zürich", "days": [1, 2]})
    return [
        Message.system("Be brief."),
        Message.user("Weather in Zürich? 🌦"),
        Message.assistant(tool_calls=[call]),
        Message.tool("error: offline", call_id=call.id, name="weather", is_error=True),
        Message.assistant("I could not tell."),
    ]


@pytest.mark.parametrize("store", STORES)
def test_messages_round_trip_in_order(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session = open_session(sid())
        messages = conversation()
        assert await session.load() == []
        await session.append(messages[:2])
        await session.append([])
        await session.append(messages[2:])
        other = open_session(sid())
        await other.append([Message.user("elsewhere")])
        assert await session.load() == messages
        assert [m.content for m in await other.load()] == ["elsewhere"]
        await session.clear()
        assert await session.load() == []
        assert len(await other.load()) == 1

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_every_store_is_a_session(store: str, open_session: Factory) -> None:
    session = open_session("chat-1")
    assert isinstance(session, Session)
    assert session.session_id == "chat-1"
    assert repr(session) == f"{type(session).__name__}(session_id='chat-1')"


@pytest.mark.parametrize("store", STORES)
def test_append_of_a_non_message_writes_nothing(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session = open_session(sid())
        with pytest.raises(UsageError, match="message 1 is a dict"):
            await session.append([Message.user("a"), {"role": "user", "content": "b"}])
        assert await session.load() == []

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_policy_trims_on_load_and_keeps_everything_stored(
    store: str, open_session: Factory
) -> None:
    async def main() -> None:
        session_id = sid()
        trimmed = open_session(session_id, policy=TrimPolicy(max_turns=1))
        await trimmed.append(conversation())
        await trimmed.append([Message.user("And tomorrow?"), Message.assistant("Rain.")])
        loaded = await trimmed.load()
        assert [m.content for m in loaded] == ["Be brief.", "And tomorrow?", "Rain."]
        if store != "memory":  # another view of the same stored session, untrimmed
            assert len(await open_session(session_id).load()) == 7

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_a_held_lock_refuses_other_runs(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session_id = sid()
        holder, other = open_session(session_id), open_session(session_id)
        locked, done = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with holder.lock():
                await holder.append([Message.user("mine")])
                locked.set()
                await done.wait()

        task = asyncio.create_task(run())
        await locked.wait()
        with pytest.raises(SessionBusy, match="is in use by another run"):
            async with other.lock(timeout=0.05):
                pass
        with pytest.raises(SessionBusy, match="append refused"):
            await other.append([Message.user("not mine")])
        with pytest.raises(SessionBusy, match="clear refused"):
            await other.clear()
        waiting = asyncio.create_task(_take(other, [Message.user("after")]))
        done.set()
        await task
        await asyncio.wait_for(waiting, 10)
        assert [m.content for m in await other.load()] == ["mine", "after"]

    asyncio.run(main())


async def _take(session: Any, messages: list[Message], timeout: float = 10) -> None:
    async with session.lock(timeout=timeout):
        await session.append(messages)


@pytest.mark.parametrize("store", STORES)
def test_the_lock_is_not_reentrant(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session = open_session(sid())
        async with session.lock():
            with pytest.raises(SessionBusy, match="this task holds it already"):
                async with session.lock(timeout=0.05):
                    pass
            # Tasks started inside the block act for the run that holds the lock.
            await asyncio.create_task(session.append([Message.user("from a child task")]))
        assert len(await session.load()) == 1

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_a_stalled_run_loses_its_lock_and_cannot_write(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session_id = sid()
        stalled = open_session(session_id, lease=0.3)
        other = open_session(session_id, lease=0.3)
        async with stalled.lock():
            # This event loop is blocked (no lease renewal) while another run, on its own loop
            # and thread, waits out the lease, takes the session and writes.
            thread = threading.Thread(target=asyncio.run, args=(_take(other, [Message.user("B")]),))
            thread.start()
            thread.join(timeout=30)
            assert not thread.is_alive()
            with pytest.raises(SessionLockLost, match="append refused"):
                await stalled.append([Message.user("A")])
        assert [m.content for m in await other.load()] == ["B"]

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_a_cancelled_waiter_leaves_the_lock_free(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session_id = sid()
        first, second = open_session(session_id), open_session(session_id)
        async with first.lock():
            waiter = asyncio.create_task(_take(second, [Message.user("never")]), context=Context())
            await asyncio.sleep(0.05)  # let the waiter poll a few times
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        started = time.monotonic()
        async with second.lock(timeout=5):
            pass
        assert time.monotonic() - started < 1
        assert await second.load() == []

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_lock_renewal_outlives_the_lease(store: str, open_session: Factory) -> None:
    async def main() -> None:
        session_id = sid()
        holder, other = open_session(session_id, lease=0.2), open_session(session_id, lease=0.2)
        async with holder.lock():
            await asyncio.sleep(0.6)  # three leases: renewed all along
            attempt = asyncio.create_task(_take(other, [], 0), context=Context())  # another run
            with pytest.raises(SessionBusy):
                await attempt
            await holder.append([Message.user("still mine")])

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_a_session_serves_several_event_loops(store: str, open_session: Factory) -> None:
    session = open_session(sid())
    for text in ("first", "second"):  # as `Agent.run` does: a new loop per call
        asyncio.run(_take(session, [Message.user(text)]))
    assert [m.content for m in asyncio.run(session.load())] == ["first", "second"]


def _corrupt(store: str, where: Any, session_id: str, row: str) -> None:
    if store == "sqlite":
        with sqlite3.connect(where) as conn:
            conn.execute(
                "UPDATE agentkit_session_messages SET message = ? WHERE session_id = ? AND seq = 1",
                (row, session_id),
            )
        conn.close()
    else:
        where.lset(f"agentkit:session:{{{session_id}}}:messages", 1, row)


@pytest.mark.parametrize(
    "row",
    ['{"role": "wizard", "content": "secret plans"}', "secret plans, not JSON", '{"role": "user"'],
)
@pytest.mark.parametrize("store", SHARED_STORES)
def test_a_corrupted_row_is_a_typed_error(store: str, where: Any, row: str) -> None:
    session_id = sid()
    session = make_session(store, where, session_id)
    asyncio.run(session.append(conversation()[:3]))
    _corrupt(store, where, session_id, row)
    with pytest.raises(SessionCorrupted, match="stored message 1 cannot be read") as caught:
        asyncio.run(session.load())
    assert caught.value.index == 1
    assert caught.value.session_id == session_id
    assert "secret" not in str(caught.value)
    assert caught.value.__cause__ is None  # not a pydantic ValidationError


def test_a_store_that_fails_raises_a_typed_error(tmp_path: Path) -> None:
    session = SQLiteSession(tmp_path / "missing" / "sessions.db", "s")
    with pytest.raises(SessionStoreError, match="the store failed: OperationalError"):
        asyncio.run(session.load())


def test_an_unreachable_redis_server_raises_a_typed_error() -> None:
    redis = pytest.importorskip("redis")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    with socket_closed_port() as port:
        client = redis.Redis(port=port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        session = RedisSession(client, "s")
        with pytest.raises(SessionStoreError, match="ConnectionError"):
            asyncio.run(session.append([Message.user("hi")]))
        with pytest.raises(SessionStoreError):
            asyncio.run(_take(session, []))
        client.close()


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield sock.getsockname()[1]


def test_errors_derive_from_the_root() -> None:
    assert issubclass(SessionError, AgentkitError)
    for error in (SessionBusy, SessionCorrupted, SessionStoreError):
        assert issubclass(error, SessionError)
    assert issubclass(SessionLockLost, SessionBusy)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: InMemorySession(""), "session_id must be a non-empty string"),
        (lambda: InMemorySession(7), "session_id must be a non-empty string"),
        (lambda: InMemorySession(lease=0), "lease must be a positive number"),
        (lambda: InMemorySession(policy={"max_turns": 3}), "policy must be a TrimPolicy"),
        (lambda: InMemorySession().lock(timeout=-1), "timeout must be a number"),
    ],
)
def test_bad_arguments_are_usage_errors(make: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()


def test_a_new_session_gets_a_random_id(tmp_path: Path) -> None:
    first, second = SQLiteSession(tmp_path / "s.db"), SQLiteSession(tmp_path / "s.db")
    assert len(first.session_id) == 32
    assert first.session_id != second.session_id


@pytest.mark.parametrize("store", STORES)
def test_a_run_cancelled_while_holding_the_lock_releases_it(
    store: str, open_session: Factory
) -> None:
    async def main() -> None:
        session = open_session(sid())
        locked = asyncio.Event()

        async def run() -> None:
            async with session.lock():
                locked.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(run())
        await locked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _take(session, [Message.user("next")], timeout=2)  # the lease is 30 s

    asyncio.run(main())


@pytest.mark.parametrize("store", STORES)
def test_a_lock_released_by_a_collected_generator_is_not_held_any_more(
    store: str, open_session: Factory
) -> None:
    # A stream abandoned without `aclose()`: its lock is released by the event loop's
    # finaliser, in another task, while this task's context still names the lock.
    async def stream(session: Any) -> AsyncIterator[int]:
        async with session.lock():
            yield 1
            yield 2

    async def main() -> None:
        session = open_session(sid())
        events = stream(session)
        assert await anext(events) == 1
        del events
        await _take(session, [Message.user("after the stream")], timeout=5)
        assert len(await session.load()) == 1

    asyncio.run(main())


def test_a_redis_client_that_decodes_responses_works_too(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    session = RedisSession(client, sid())
    messages = conversation()
    asyncio.run(_take(session, messages))
    assert asyncio.run(session.load()) == messages
    client.close()


def test_a_row_of_invalid_utf8_is_corrupted_and_never_shown(tmp_path: Path) -> None:
    import sqlite3

    from agentkit.sessions import SessionCorrupted, SQLiteSession

    async def main() -> None:
        session = SQLiteSession(tmp_path / "s.db", session_id="x")
        async with session.lock():
            await session.append([Message.user("PRIVATE USER TEXT")])
        with sqlite3.connect(tmp_path / "s.db") as db:
            db.execute(
                "UPDATE agentkit_session_messages "
                "SET message = CAST(X'7b22726f6c65223a22ff505249564154452055534552' AS TEXT)"
            )
        with pytest.raises(SessionCorrupted) as caught:
            await session.load()
        assert "PRIVATE" not in str(caught.value) and caught.value.index == 0

    asyncio.run(main())


def test_a_session_id_with_a_lone_surrogate_is_refused_at_once(tmp_path: Path) -> None:
    from agentkit.sessions import SQLiteSession

    with pytest.raises(UsageError, match="Unicode"):
        SQLiteSession(tmp_path / "s.db", session_id="bad\ud800")


def test_redis_keys_of_an_id_with_braces_share_one_hash_tag() -> None:
    pytest.importorskip("redis")
    import redis

    from agentkit._sessions_redis import RedisStore

    store = RedisStore(redis.Redis(), "}x{y", "agentkit:session:")
    tags = {key[key.index("{") + 1 : key.index("}")] for key in (store._messages, store._lock)}
    assert len(tags) == 1 and "}" not in tags.pop()
