"""Signs that a server in native mode ignores the tools it is sent.

A server renders `tools` through the model's chat template; a template without a tools section
(SmolLM2's, many base or older chat models') drops them without an error, and the model never
learns it has tools. Nothing in the reply says so, but three things give it away, each logged
once per model as a warning that points to text mode (`native_tools=False`), where the format
puts the function list into the system prompt itself:

- the server counts fewer prompt tokens than the tool list alone must take (conclusive);
- `tool_choice` asked for a call (`"required"` or a tool's name) and none came;
- the first `NO_CALL_REPLIES` replies to requests offering tools hold no call at all (a hint:
  the requests may simply not have needed one).
"""

from __future__ import annotations

import json
import logging
import threading

from agentkit.models._base import ModelRequest, ModelResponse

__all__ = ["NO_CALL_REPLIES", "DroppedToolsCheck"]

logger = logging.getLogger("agentkit.models.openai")

NO_CALL_REPLIES = 5
"""Replies to requests offering tools, none with a call, after which the hint is logged."""
CHARS_PER_TOKEN = 8
"""More characters of compact JSON than any tokenizer puts into one token (they put 2 to 5)."""
MAX_PARSED_CHARS = 32_768
"""Longer replies are not looked at (a call-less reply is rarely that long anyway)."""
MIN_TOOL_TOKENS = 16
"""Tool lists shorter than this (in tokens, at the most) are not judged by prompt size."""


class DroppedToolsCheck:
    """Watches the native replies of one model; warns once when its tools seem to be dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._no_call = 0

    def observe(self, request: ModelRequest, response: ModelResponse, url: str) -> None:
        """Look at one native reply to `request` (one that offered tools, or not)."""
        if self._done or not request.tools or request.tool_choice == "none":
            return
        if len(response.text) > MAX_PARSED_CHARS:  # not worth parsing on the event loop
            return
        called = bool(response.calls) or _text_holds_call(request, response)
        reason = None if called else _conclusive(request, response)
        with self._lock:
            if self._done:
                return
            if called:
                self._done = True  # the server passes tools on: nothing more to watch
                return
            self._no_call += 1
            if reason is None and self._no_call >= NO_CALL_REPLIES:
                reason = (
                    f"none of the first {self._no_call} replies to requests offering tools "
                    "holds a tool call"
                )
            if reason is None:
                return
            self._done = True
        logger.warning(
            "%s in native mode: %s. A server whose chat template has no tools section drops "
            "the tools silently; with native_tools=False the function list goes into the "
            "system prompt instead",
            url,
            reason,
        )


def _conclusive(request: ModelRequest, response: ModelResponse) -> str | None:
    """Why this reply alone shows the tools were ignored, or None."""
    if request.tool_choice != "auto":
        return f"tool_choice={request.tool_choice!r} was sent and the reply holds no tool call"
    prompt = response.prompt_tokens
    tools = json.dumps([t.schema for t in request.tools], separators=(",", ":"))
    floor = len(tools) // CHARS_PER_TOKEN
    if prompt is not None and floor >= MIN_TOOL_TOKENS and prompt < floor:
        return (
            f"the server counted {prompt} prompt tokens, fewer than the tool list alone takes "
            f"(at least {floor})"
        )
    return None


def _text_holds_call(request: ModelRequest, response: ModelResponse) -> bool:
    """Whether the reply's text holds a call the server did not extract (the model saw tools)."""
    if response.calls is not None and not response.text.strip():
        return False
    names = [t.name for t in request.tools]
    try:
        return bool(request.format.parse(response.text, tool_names=names).calls)
    except Exception:  # a parser failure must not fail the turn: the loop reports it
        return False
