"""The errors of sessions (drawn as a tree in `agentkit.sessions`)."""

from __future__ import annotations

from agentkit.errors import AgentkitError

__all__ = [
    "SessionBusy",
    "SessionCorrupted",
    "SessionError",
    "SessionLockLost",
    "SessionStoreError",
]


class SessionError(AgentkitError):
    """A session could not be used.

    Attributes:
        session_id: the session concerned.
    """

    def __init__(self, message: str, session_id: str) -> None:
        super().__init__(message)
        self.session_id = session_id


class SessionBusy(SessionError):
    """Another run holds the session.

    Either the lock was not free within its timeout, or a write was attempted without the lock
    while another run held it.
    """


class SessionLockLost(SessionBusy):
    """This run's lease expired and another run took the session.

    Its renewals failed or stalled; the write was refused, so the two runs' messages are never
    interleaved.
    """


class SessionCorrupted(SessionError):
    """A stored message cannot be read back as a `Message`.

    Attributes:
        index: the position of the bad row in the stored transcript (0 is the oldest).
    """

    def __init__(self, session_id: str, index: int, reason: str) -> None:
        super().__init__(
            f"session {session_id!r}: stored message {index} cannot be read: {reason}", session_id
        )
        self.index = index


class SessionStoreError(SessionError):
    """The database or server under a session failed (the cause is chained)."""
