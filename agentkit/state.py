"""`RunState`: a paused run, serialisable to JSON and resumable in another process."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from agentkit.errors import RunStateError
from agentkit.formats._json import clean_strings
from agentkit.messages import CallError, Message, ToolCallRecord, Usage, encodable

if TYPE_CHECKING:
    from agentkit.tools import Toolbox

__all__ = ["PendingCall", "RunState"]

STATE_VERSION = 1


class PendingCall(BaseModel):
    """A call waiting for a person's decision.

    Attributes:
        id: the call id (decide with `agent.resume(state, approve=[id], reject={id: why})`).
        name: the tool.
        arguments: the arguments as the model gave them.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class _Payload(BaseModel):
    """Everything a paused run needs to go on."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: int
    tools: str  # the fingerprint of the agent's tools
    run_id: str
    step: int = Field(ge=0)
    messages: list[Message]
    records: list[ToolCallRecord] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    failed_in_row: int = Field(default=0, ge=0)
    failures: list[dict[str, Any]] = Field(default_factory=list)
    repeats: dict[str, int] = Field(default_factory=dict)
    last_outcomes: dict[str, str] = Field(default_factory=dict)
    pending: list[PendingCall]
    history: int = Field(default=0, ge=0)
    elapsed: float = Field(default=0.0, ge=0)


def tools_fingerprint(toolbox: Toolbox) -> str:
    """A digest of an agent's tools (names and schemas): a state resumes only with the same."""
    schemas = json.dumps(toolbox.schemas(), sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(schemas.encode()).hexdigest()[:32]


class RunState:
    """The whole state of a paused run: transcript, records, usage, and the calls that wait.

    `to_json()` gives a versioned JSON document carrying a digest of its content (a keyed HMAC
    when the agent has a `state_key`); `RunState.from_json` reads it back, refusing malformed or
    altered documents. Resume with `agent.resume(state, approve=[...], reject={...})`; a state
    object resumes once.

    Attributes:
        run_id: the run.
        pending: the calls waiting for a decision.
        messages: the transcript so far.
    """

    def __init__(self, payload: _Payload, *, key: bytes | None = None) -> None:
        self._payload = payload
        self._key = key
        self._digest: str | None = None  # as read from JSON: checked when resumed, kept on save
        self.resumed = False

    @property
    def run_id(self) -> str:
        """The run."""
        return self._payload.run_id

    @property
    def pending(self) -> list[PendingCall]:
        """The calls waiting for a decision."""
        return list(self._payload.pending)

    @property
    def messages(self) -> list[Message]:
        """The transcript so far."""
        return list(self._payload.messages)

    @property
    def payload(self) -> _Payload:
        """The state's content (for the agent that resumes it)."""
        return self._payload

    def to_json(self) -> str:
        """The state as a JSON document (store it anywhere; resume it once)."""
        body = self._payload.model_dump_json()
        digest = self._digest if self._key is None and self._digest else _digest(body, self._key)
        return json.dumps({"agentkit_run_state": STATE_VERSION, "digest": digest,
                           "body": json.loads(body)})  # fmt: skip

    @classmethod
    def from_json(cls, data: str | bytes) -> RunState:
        """Read a state written by `to_json`.

        Raises:
            RunStateError: not such a document, another version, or its digest does not match
                its content (an HMAC is checked when the agent resumes it, with its key).
        """
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise RunStateError(f"the run state is not JSON: {exc}") from None
        if not isinstance(doc, dict) or "agentkit_run_state" not in doc:
            raise RunStateError("this is not an agentkit run state")
        if doc["agentkit_run_state"] != STATE_VERSION:
            raise RunStateError(
                f"run state version {doc['agentkit_run_state']!r} is not supported "
                f"(this agentkit reads version {STATE_VERSION})"
            )
        try:
            payload = _Payload.model_validate(doc.get("body"))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:5]
            )
            raise RunStateError(f"the run state is malformed: {problems}") from None
        digest = doc.get("digest")
        body = payload.model_dump_json()
        if not isinstance(digest, str) or not (
            digest.startswith("hmac-sha256:") or hmac.compare_digest(digest, _digest(body, None))
        ):
            raise RunStateError("the run state was altered: its digest does not match")
        state = cls(payload)
        state._digest = digest
        return state

    def verify(self, key: bytes | None) -> None:
        """Check the keyed digest of a state read from JSON (nothing to check for a live one).

        Raises:
            RunStateError: the digest does not match (or needs a key the agent lacks).
        """
        if self._digest is None:
            return
        expected = _digest(self._payload.model_dump_json(), key)
        if not hmac.compare_digest(self._digest, expected):
            raise RunStateError(
                "the run state was altered, or signed with another state_key: its digest "
                "does not match"
            )


def make_state(
    *,
    toolbox: Toolbox,
    run_id: str,
    step: int,
    messages: Sequence[Message],
    records: Sequence[ToolCallRecord],
    usage: Usage,
    failed_in_row: int,
    failures: Sequence[CallError],
    repeats: tuple[dict[str, int], dict[str, str]],
    pending: Sequence[PendingCall],
    history: int,
    elapsed: float,
    key: bytes | None,
) -> RunState:
    """A `RunState` of a run paused before `step`."""
    payload = _Payload(
        version=STATE_VERSION,
        tools=tools_fingerprint(toolbox),
        run_id=run_id,
        step=step,
        messages=list(messages),
        records=[
            ToolCallRecord(
                r.id,
                r.name,
                clean_strings(r.arguments),
                _plain(r.result),
                None if r.error is None else encodable(r.error),
                encodable(r.content),
            )
            for r in records
        ],
        usage=to_jsonable_python(usage),
        failed_in_row=failed_in_row,
        failures=[{"kind": f.kind, "message": f.message, "tool": f.tool} for f in failures],
        repeats=dict(repeats[0]),
        last_outcomes=dict(repeats[1]),
        pending=list(pending),
        history=history,
        elapsed=elapsed,
    )
    return RunState(payload, key=key)


def _plain(value: Any) -> Any:
    """A tool's return value as JSON data that always serialises (else its `repr`)."""
    try:
        return clean_strings(to_jsonable_python(value, fallback=repr, bytes_mode="base64"))
    except Exception:  # a value that even pydantic cannot walk
        return encodable(_safe_repr(value))


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:2000]
    except Exception:  # a repr that raises
        return f"<{type(value).__name__}>"


def _digest(body: str, key: bytes | None) -> str:
    if key is None:
        return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
    return "hmac-sha256:" + hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
