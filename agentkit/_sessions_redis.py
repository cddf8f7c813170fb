"""A session's rows and lock on a Redis server, for services with several replicas.

The messages are one list (`RPUSH`, one item per message); the lock is a key set with
`SET NX PX` to a random token, renewed and released only by the token's owner (compare and
expire, compare and delete). Each fenced write is one Lua script, so the lock check and the
write are one atomic step on the server, and its rows land in one `RPUSH`: all or none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentkit._sessions_stores import Outcome

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStore"]

# KEYS[1]: the message list, KEYS[2]: the lock; ARGV[1]: the caller's token ('' if none).
_FENCE = """
local holder = redis.call('GET', KEYS[2])
if ARGV[1] == '' then
    if holder then return 'busy' end
elseif holder ~= ARGV[1] then
    return 'lost'
end
"""
# Lua's unpack is bounded (a few thousand values): a larger append is pushed in chunks, still
# within the one script, so no other client sees a part of it.
_APPEND = (
    _FENCE
    + """
for i = 2, #ARGV, 4000 do
    redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 3999, #ARGV)))
end
return 'ok'
"""
)
_CLEAR = _FENCE + "redis.call('DEL', KEYS[1])\nreturn 'ok'\n"
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore:
    """Rows and a lease on a Redis server, through a synchronous `redis.Redis` client.

    Keys are `<prefix>{<tag>}:messages` and `<prefix>{<tag>}:lock`, where the tag is the
    session id (or, for an id holding a brace, a digest of it); the braces make both keys of a
    session hash to the same slot, as Redis Cluster requires of a script.
    """

    blocking = True

    def __init__(self, client: redis.Redis, session_id: str, prefix: str) -> None:
        import redis as redis_module

        self.failures: tuple[type[BaseException], ...] = (redis_module.RedisError,)
        self._client = client
        tag = session_id
        if "{" in session_id or "}" in session_id:  # a brace would end the hash tag early
            tag = "sha256:" + hashlib.sha256(session_id.encode()).hexdigest()
        self._messages = f"{prefix}{{{tag}}}:messages"
        self._lock = f"{prefix}{{{tag}}}:lock"
        self.key = f"redis:{id(client)}:{self._lock}"
        self._append = client.register_script(_APPEND)
        self._clear = client.register_script(_CLEAR)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def read(self) -> list[str | bytes]:
        rows: list[str | bytes] = list(self._client.lrange(self._messages, 0, -1))
        return rows

    def append(self, rows: Sequence[str], token: str | None) -> Outcome:
        keys = [self._messages, self._lock]
        return Outcome(_text(self._append(keys=keys, args=[token or "", *rows])))

    def clear(self, token: str | None) -> Outcome:
        keys = [self._messages, self._lock]
        return Outcome(_text(self._clear(keys=keys, args=[token or ""])))

    def acquire(self, token: str, lease: float) -> bool:
        return bool(self._client.set(self._lock, token, nx=True, px=_millis(lease)))

    def renew(self, token: str, lease: float) -> bool:
        return bool(self._renew(keys=[self._lock], args=[token, _millis(lease)]))

    def release(self, token: str) -> None:
        self._release(keys=[self._lock], args=[token])
