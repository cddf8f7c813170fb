"""The error the ready-made tools raise for input they refuse."""

from __future__ import annotations

from agentkit.errors import AgentkitError

__all__ = ["ToolError"]


class ToolError(AgentkitError, ValueError):
    """A ready-made tool refused its input; the message, addressed to the model, says why.

    It is a `ValueError` too, so callers that caught `ValueError` keep working.
    """
