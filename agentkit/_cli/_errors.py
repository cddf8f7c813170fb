"""The command line's own errors: each one a message for a person and an exit status."""

from __future__ import annotations

from agentkit.errors import UsageError

__all__ = ["CommandError", "FailedRun"]


class CommandError(UsageError, ValueError):
    """A mistake on the command line (a bad tool name, a missing model): exit status 2."""

    status = 2


class FailedRun(UsageError):
    """The command was right but could not be carried out (a server refused): exit status 1."""

    status = 1
