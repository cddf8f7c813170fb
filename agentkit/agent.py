"""`Agent`: the configuration of runs (the run itself lives in `_loop.Run`)."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal

from typing_extensions import TypeVar

from agentkit._approval import Resume, check_decisions
from agentkit._loop import Run
from agentkit._transcript import prepare_transcript
from agentkit.errors import AgentkitError, RunStateError, UsageError
from agentkit.events import Event, FinalEvent
from agentkit.formats import ToolChoice
from agentkit.guardrails import Guardrail
from agentkit.limits import UsageLimits
from agentkit.messages import Message, OutputT, RunResult
from agentkit.models import Model
from agentkit.state import RunState, tools_fingerprint
from agentkit.tools import Tool, Toolbox

if TYPE_CHECKING:
    from agentkit.sessions import Session

__all__ = ["Agent", "RunResult"]

DepsT = TypeVar("DepsT", default=Any)
_RESUMED_MEMORY = 65_536  # paused states an agent remembers having resumed
_T = TypeVar("_T")


class Agent(Generic[OutputT, DepsT]):
    """A model, its tools and the rules of a run.

    Configuration only: one instance serves many concurrent runs; all run state lives in the run.

    Args:
        model: the backend (its `format` renders and parses).
        tools: tools, plain functions (wrapped with `@tool`) or a `Toolbox`.
        system_prompt: the user's own system prompt (the format adds the function list after it).
            A transcript given as the prompt may begin with this same system message (as an
            earlier `RunResult.messages` does); a different one is refused with `UsageError`.
        max_steps: the most model turns in a run.
        max_retries: failed turns in a row allowed; the next one raises `RetriesExhausted`.
        input_guardrails: checks on the newest user message, before the model sees it.
        output_guardrails: checks on the final answer, before it is returned.
        tool_guardrails: checks on every call's arguments before it runs, and on every result
            before the model sees it (a tool's own `guardrails` run after these).
        on_block: at the tool stages, `"continue"` (a blocked call is not run, a blocked result
            is withheld, and the model is told why) or `"raise"` (`ToolGuardrailTripped`).
        run_in_parallel: run the input guardrails beside the first model turn instead of
            before it (a guardrail may also ask for it with its own `run_in_parallel = True`).
            The turn's events and calls wait for the verdict: a block cancels the turn, a
            redaction starts it again on the redacted message.
        output_chunks: how `stream` releases text under output guardrails: checked a sentence
            (`"sentence"`) or at least N characters (an int) at a time, held back until then.
        output_type: `str`, or a Pydantic model (or any type Pydantic validates) for structured
            answers.
        deps_type: the type of the `deps` that runs pass to tools (for type checkers).
        tool_choice: `"auto"`, `"required"`, `"none"` or a tool name (constrains backends that
            can constrain decoding; `"none"` also refuses calls).
        tool_timeout: seconds a tool call may take unless the tool sets its own timeout.
        model_timeout: seconds a model turn may take, start to end.
        max_calls_per_turn: the most calls one reply may make; further calls are dropped and the
            model is told to make them in its next reply.
        usage_limits: bounds on what each run may use (`UsageLimits`), unless a run gives its
            own.
        name: the agent's name, in traces (`gen_ai.agent.name`).
        state_key: a secret that signs paused runs' states (HMAC), so a state stored outside
            your trust boundary cannot be altered unnoticed; without it a plain digest catches
            corruption and careless edits only.

    Example:
        >>> from agentkit.models import ScriptedModel
        >>> from agentkit import tool
        >>> @tool
        ... def add(a: int, b: int) -> int:
        ...     '''Add two integers.'''
        ...     return a + b
        >>> model = ScriptedModel(['[{"name": "add", "arguments": {"a": 2, "b": 3}}]', "5"])
        >>> Agent(model, tools=[add]).run("What is 2 + 3?").output
        '5'
    """

    def __init__(
        self,
        model: Model,
        *,
        tools: Iterable[Tool | Callable[..., Any]] | Toolbox = (),
        system_prompt: str | None = None,
        max_steps: int = 10,
        max_retries: int = 3,
        input_guardrails: Sequence[Guardrail] = (),
        output_guardrails: Sequence[Guardrail] = (),
        tool_guardrails: Sequence[Guardrail] = (),
        on_block: Literal["continue", "raise"] = "continue",
        run_in_parallel: bool = False,
        output_chunks: Literal["sentence"] | int = "sentence",
        output_type: type[OutputT] = str,  # type: ignore[assignment]
        deps_type: type[DepsT] = object,  # type: ignore[assignment]
        tool_choice: ToolChoice = "auto",
        tool_timeout: float = 60.0,
        model_timeout: float = 600.0,
        max_calls_per_turn: int = 16,
        usage_limits: UsageLimits | None = None,
        state_key: str | bytes | None = None,
        name: str = "agent",
    ) -> None:
        _check_limits(max_steps, max_retries, tool_timeout, model_timeout, max_calls_per_turn)
        if on_block not in ("continue", "raise"):
            raise UsageError(f"on_block must be 'continue' or 'raise', got {on_block!r}")
        if output_chunks != "sentence" and not (
            isinstance(output_chunks, int) and output_chunks > 0
        ):
            raise UsageError(
                f"output_chunks must be 'sentence' or a positive int: {output_chunks!r}"
            )
        self.model = model
        self.toolbox = tools if isinstance(tools, Toolbox) else Toolbox(tools)
        if tool_choice not in ("auto", "required", "none") and tool_choice not in self.toolbox:
            raise UsageError(f"tool_choice names no tool: {tool_choice!r}")
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.max_retries = max_retries
        self.input_guardrails = tuple(input_guardrails)
        self.output_guardrails = tuple(output_guardrails)
        self.tool_guardrails = tuple(tool_guardrails)
        self.on_block = on_block
        self.run_in_parallel = run_in_parallel
        self.output_chunks = output_chunks
        self.output_type = output_type
        self.deps_type = deps_type
        self.tool_choice = tool_choice
        self.tool_timeout = tool_timeout
        self.model_timeout = model_timeout
        self.max_calls_per_turn = max_calls_per_turn
        self.usage_limits = usage_limits
        self.name = name
        self._resumed: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._resumed_lock = threading.Lock()
        self.state_key = state_key.encode() if isinstance(state_key, str) else state_key

    @property
    def tools(self) -> list[Tool]:
        """The tools, in order."""
        return list(self.toolbox)

    @property
    def model_name(self) -> str:
        """The model's name (for traces): a server's model name, or the backend's class."""
        name = getattr(self.model, "model", None)
        return name if isinstance(name, str) else type(self.model).__name__

    def __repr__(self) -> str:
        return f"Agent(model={self.model!r}, tools={self.toolbox.names!r})"

    async def stream(
        self,
        prompt: str | Sequence[Message],
        *,
        deps: DepsT | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> AsyncIterator[Event[OutputT]]:
        """Run, yielding events as they happen; the last one is `FinalEvent`.

        Events: `TextDelta`, `ToolCallEvent`, `ToolResultEvent`, `RetryEvent`,
        `ApprovalRequestEvent` (the run pauses), `FinalEvent`. With output guardrails, text is
        held back until they have checked it (see `output_chunks`): a block stops the stream
        before the offending text, with `OutputGuardrailTripped`; a redaction replaces it.

        Args:
            prompt: a user message, or a transcript (e.g. an earlier `RunResult.messages` plus a
                new user message).
            deps: an object tools receive through a `RunContext` parameter.
            usage_limits: bounds for this run (instead of the agent's `usage_limits`).
            session: a conversation store: its history comes before `prompt`, and the run's
                new messages are saved to it when the run completes (the session is locked
                for the whole run).
        """
        async for event in self._events(prompt, deps, usage_limits, session, streaming=True):
            yield event

    async def run_async(
        self,
        prompt: str | Sequence[Message],
        *,
        deps: DepsT | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """Run to the final answer, or to a pause for approval (`result.status == "paused"`).

        Arguments as for `stream`.

        Raises:
            MaxStepsExceeded: no final answer after `max_steps` model turns.
            RetriesExhausted: more than `max_retries` failed turns in a row.
            UsageLimitExceeded: a usage limit would be passed.
            InputGuardrailTripped / OutputGuardrailTripped / ToolGuardrailTripped: a guardrail
                blocked.
            ModelError: the backend failed.
            UsageError: the prompt is not a valid transcript.
        """
        return await _final(self._events(prompt, deps, usage_limits, session, streaming=False))

    def run(
        self,
        prompt: str | Sequence[Message],
        *,
        deps: DepsT | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """Run synchronously (see `run_async`).

        Inside a running event loop (a notebook, an async service), the run goes to a worker
        thread with its own loop; prefer `await agent.run_async(...)` there.
        """
        return _sync(self.run_async(prompt, deps=deps, usage_limits=usage_limits, session=session))

    async def resume_async(
        self,
        state: RunState | str,
        *,
        approve: Iterable[str] = (),
        reject: Mapping[str, str] | None = None,
        deps: DepsT | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """Go on with a paused run, given a decision for each of its pending calls.

        Approved calls run (checked again first); a rejected call's result tells the model it
        was refused, with the reason given; then the run goes on, and may pause again.

        Args:
            state: `result.state` of the paused run, or its `to_json()` text.
            approve: ids of the calls to run.
            reject: ids of the calls refused, each with a reason for the model.
            deps: as for `run`.
            usage_limits: bounds for the rest of the run (its usage so far counts).
            session: the session the paused run came from, to save the finished conversation.

        Raises:
            RunStateError: a malformed or altered state, another agent's tools, a state already
                resumed, or decisions that name unknown calls or leave one undecided.
        """
        resume = self._check_resume(state, approve, dict(reject or {}))
        limits = usage_limits or self.usage_limits

        def start(history: list[Message]) -> Run[OutputT]:  # the state holds the transcript
            return Run(self, (), deps, limits=limits, resume=resume)

        return await _final(self._session_events(session, start, load=False))

    def resume(
        self,
        state: RunState | str,
        *,
        approve: Iterable[str] = (),
        reject: Mapping[str, str] | None = None,
        deps: DepsT | None = None,
        usage_limits: UsageLimits | None = None,
        session: Session | None = None,
    ) -> RunResult[OutputT]:
        """Go on with a paused run, synchronously (see `resume_async`)."""
        return _sync(
            self.resume_async(
                state,
                approve=approve,
                reject=reject,
                deps=deps,
                usage_limits=usage_limits,
                session=session,
            )
        )

    async def _events(
        self,
        prompt: str | Sequence[Message],
        deps: DepsT | None,
        limits: UsageLimits | None,
        session: Session | None,
        *,
        streaming: bool,
    ) -> AsyncIterator[Event[OutputT]]:
        limits = limits or self.usage_limits

        def start(history: list[Message]) -> Run[OutputT]:  # the stored history, then the prompt
            given = [*history, *prepare_transcript(prompt, None)] if history else prompt
            return Run(self, given, deps, streaming=streaming, limits=limits, history=len(history))

        async for event in self._session_events(session, start, load=True):
            yield event

    async def _session_events(
        self,
        session: Session | None,
        start: Callable[[list[Message]], Run[OutputT]],
        *,
        load: bool,
    ) -> AsyncIterator[Event[OutputT]]:
        """A run's events, its session locked; its new messages saved once it completes.

        The session's history is passed to `start` when `load` (a resumed run has its own).
        """
        async with _locked(session):
            history = await session.load() if session is not None and load else []
            run = start(history)
            events = run.events()
            async with contextlib.aclosing(events):
                async for event in events:
                    if isinstance(event, FinalEvent) and session is not None:
                        if event.result.status == "completed":
                            await session.append(event.result.messages[run.history :])
                    yield event

    def _check_resume(
        self, state: RunState | str, approve: Iterable[str], reject: dict[str, str]
    ) -> Resume:
        if isinstance(state, str | bytes):
            state = RunState.from_json(state)
        if not isinstance(state, RunState):
            raise UsageError(f"resume needs a RunState or its JSON, not {type(state).__name__}")
        if state.resumed:
            raise RunStateError("this run state was already resumed: a state resumes once")
        state.verify(self.state_key)
        if state.payload.tools != tools_fingerprint(self.toolbox):
            raise RunStateError(
                "this run state was made by an agent with other tools (names or schemas differ)"
            )
        approved = frozenset(approve)
        check_decisions(state.pending, approved, reject)
        with self._resumed_lock:  # the same state (object or JSON) resumes once per agent
            key = (state.run_id, state.payload.step)
            if key in self._resumed:
                raise RunStateError("this run state was already resumed: a state resumes once")
            self._resumed[key] = None
            while len(self._resumed) > _RESUMED_MEMORY:
                self._resumed.popitem(last=False)
        state.resumed = True
        return Resume(state, approved, reject)


@contextlib.asynccontextmanager
async def _locked(session: Session | None) -> AsyncIterator[None]:
    if session is None:
        yield
        return
    async with session.lock():
        yield


async def _final(events: AsyncIterator[Event[OutputT]]) -> RunResult[OutputT]:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, FinalEvent):
                return event.result
    raise AgentkitError("the run ended without a final event")  # pragma: no cover


def _sync(work: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to its end from sync code (on a worker thread inside a running loop)."""
    import asyncio  # here, not at module level: keeps `import agentkit` light
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="agentkit-run") as pool:
        return pool.submit(asyncio.run, work).result()


def _check_limits(
    max_steps: int, max_retries: int, tool_timeout: float, model_timeout: float, max_calls: int
) -> None:
    if max_steps < 1:
        raise UsageError(f"max_steps must be at least 1, got {max_steps}")
    if max_retries < 0:
        raise UsageError(f"max_retries must be 0 or more, got {max_retries}")
    if max_calls < 1:
        raise UsageError(f"max_calls_per_turn must be at least 1, got {max_calls}")
    if not (0 < tool_timeout < float("inf") and 0 < model_timeout < float("inf")):
        raise UsageError("tool_timeout and model_timeout must be positive and finite")
