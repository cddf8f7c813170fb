"""Approval through the server: a paused run's reply, and the request that resumes it.

A run that pauses for a person's approval is answered with its pending calls and its state,
sealed (`_server_seal`): the client shows the calls to a person, then sends the decisions with
the state back (`agentkit_resume`). The server opens the state, checks it was signed with its
key, and claims it: a state resumes once per process (the ids of resumed states are kept in a
bounded set; see `ResumedStates`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agentkit._server_reply import state_error
from agentkit._server_seal import StateSeal
from agentkit._server_wire import ResumeRequest
from agentkit.agent import Agent
from agentkit.errors import RunStateError
from agentkit.events import Event, FinalEvent, ToolCallEvent, ToolResultEvent
from agentkit.messages import RunResult, ToolCall
from agentkit.state import RunState

__all__ = ["REMEMBERED_STATES", "Approvals", "PreparedResume", "ResumedStates"]

logger = logging.getLogger("agentkit.server")

REMEMBERED_STATES = 65_536
"""Resumed states a server process remembers (to refuse them again); the oldest go first."""


class ResumedStates:
    """The states already resumed, most recent last; bounded (the oldest are forgotten).

    Example:
        >>> seen = ResumedStates(2)
        >>> seen.claim("a"), seen.claim("a"), seen.claim("b"), seen.claim("c"), seen.claim("a")
        (True, False, True, True, True)
    """

    def __init__(self, capacity: int = REMEMBERED_STATES) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def claim(self, key: str) -> bool:
        """Mark `key` resumed; False if it already was."""
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def release(self, key: str) -> None:
        """Forget a claim (its resume was refused before anything ran)."""
        self._seen.pop(key, None)

    def __len__(self) -> int:
        return len(self._seen)


class Approvals:
    """The server's side of approval: sealing paused states and claiming resumed ones."""

    def __init__(self, key: bytes, *, remembered: int = REMEMBERED_STATES) -> None:
        self.key = key
        self.seal = StateSeal(key)
        self.resumed = ResumedStates(remembered)

    def paused_fields(self, result: RunResult[Any]) -> dict[str, Any] | None:
        """The extension fields of a paused run's reply (None for a completed run)."""
        if result.status != "paused" or result.state is None:
            return None
        return {
            "agentkit_pending_calls": [call.model_dump() for call in result.pending_calls],
            "agentkit_state": self.seal.seal(result.state.to_json()),
        }

    def prepare(self, request: ResumeRequest) -> PreparedResume:
        """Open, check and claim the state a resume request sends back.

        Raises:
            ApiError: 400 (`invalid_run_state`) for a state that is not this server's (altered,
                or sealed under another key) or was already resumed.
        """
        try:
            state = RunState.from_json(self.seal.open(request.state))
            state.verify(self.key)
        except RunStateError as exc:
            raise state_error(exc) from None
        key = hashlib.sha256(state.payload.model_dump_json().encode()).hexdigest()
        if not self.resumed.claim(key):
            logger.info("a resumed run state was sent again (run %s)", state.run_id)
            raise state_error(RunStateError("this run state was already resumed"))
        return PreparedResume(self, state, request, key)


@dataclass
class PreparedResume:
    """A claimed state and the decisions to resume it with."""

    approvals: Approvals
    state: RunState
    request: ResumeRequest
    key: str

    async def run(self, agent: Agent[Any, Any]) -> RunResult[Any]:
        """Resume the run to its end (or its next pause).

        A refusal by the agent before anything ran (decisions that name unknown calls or leave
        one undecided, another agent's tools) releases the claim: the client may try again.
        """
        try:
            return await agent.resume_async(
                self.state, approve=self.request.approve, reject=self.request.reject
            )
        except RunStateError:
            if not self.state.resumed:
                self.approvals.resumed.release(self.key)
            raise

    async def events(self, agent: Agent[Any, Any]) -> AsyncIterator[Event[Any]]:
        """The resumed run as events: its new calls and results, then `FinalEvent`.

        They come once the run is over (resuming does not stream).
        """
        result = await self.run(agent)
        for record in result.tool_calls[len(self.state.payload.records) :]:
            call = ToolCall(id=record.id, name=record.name, arguments=record.arguments)
            yield ToolCallEvent(call)
            yield ToolResultEvent(
                record.id, record.name, record.result, record.content, record.error
            )
        yield FinalEvent(result)
