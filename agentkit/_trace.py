"""The tracing hooks the run loop calls: cheap no-ops, with no OpenTelemetry import, until enabled.

The loop is a chain of async generators, so parents are passed explicitly and no span is made
the current one across a `yield`: each hook takes the span it belongs under.

    with _trace.run_span(agent_name, model_name, run_id) as run:          # Run.events
        with _trace.turn_span(run, model_name, step) as turn:            # one model turn
            turn.usage(response.prompt_tokens, response.completion_tokens)
        with _trace.tool_span(run, tool.name, call.id, kwargs) as span:  # one tool call
            span.result(content)   # or span.error(message)
        run.retry(attempt, kinds)                                        # a failed turn
        run.verdicts(guards.records)                                     # guardrail verdicts

`agentkit.tracing.enable` installs a factory of OpenTelemetry spans here; until then (and after
`disable`) every hook returns the one shared `NO_SPAN`, whose methods do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types import TracebackType

    from agentkit.guardrails import VerdictRecord
    from agentkit.messages import Message

__all__ = [
    "NO_SPAN",
    "AttributeValue",
    "Span",
    "SpanFactory",
    "install",
    "run_span",
    "tool_span",
    "turn_span",
]

AttributeValue = str | bool | int | float | Sequence[str]
"""What a span attribute or event attribute may hold."""


class Span:
    """A span of a run, a model turn or a tool call; this base class records nothing.

    Every method is safe to call on any span: a run span ignores `result`, a tool span `usage`
    is kept as given. Use as a context manager: the span ends when the block does, with an
    error status if an exception (other than the generator closing) leaves it.
    """

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        """Record a model turn's token counts (also added to its run's totals)."""

    def prompt(self, messages: Sequence[Message]) -> None:
        """Record the messages a model turn received (only with `record_content`)."""

    def reply(self, text: str) -> None:
        """Record a model turn's reply or a run's final answer (only with `record_content`)."""

    def result(self, content: str) -> None:
        """Record a tool call's result text (only with `record_content`)."""

    def error(self, message: str, error_type: str = "tool_error") -> None:
        """Mark the span failed: an error status with `message`, and `error.type`."""

    def event(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """Add a timestamped event to the span."""

    def retry(self, attempt: int, kinds: Sequence[str]) -> None:
        """Record a failed turn (`agentkit.retry`): its number in a row and its error kinds."""

    def verdicts(self, records: Sequence[VerdictRecord]) -> None:
        """Record guardrail verdicts (`agentkit.guardrail`), each record once.

        Pass the run's whole list of records as often as convenient: the span remembers how
        many it has already recorded and adds only the new ones.
        """


NO_SPAN = Span()
"""The span every hook returns while tracing is off."""


class SpanFactory(Protocol):
    """Makes the real spans; installed by `agentkit.tracing.enable`."""

    def run_span(self, agent_name: str, model_name: str, run_id: str) -> Span:
        """A span for a whole run (`invoke_agent`)."""
        ...

    def turn_span(self, parent: Span, model_name: str, step: int) -> Span:
        """A span for one model turn (`chat`)."""
        ...

    def tool_span(
        self, parent: Span, tool_name: str, call_id: str, arguments: Mapping[str, Any]
    ) -> Span:
        """A span for one tool call (`execute_tool`)."""
        ...


_factory: SpanFactory | None = None


def install(factory: SpanFactory | None) -> None:
    """Make the hooks record through `factory` (None: back to no-ops)."""
    global _factory
    _factory = factory


def run_span(agent_name: str, model_name: str, run_id: str) -> Span:
    """The span of a whole run; wrap `Run.events` in it.

    Args:
        agent_name: the agent's name (`gen_ai.agent.name`).
        model_name: the model's name (`gen_ai.request.model`).
        run_id: the run's id (`agentkit.run.id`).
    """
    factory = _factory
    if factory is None:
        return NO_SPAN
    return factory.run_span(agent_name, model_name, run_id)


def turn_span(parent: Span, model_name: str, step: int) -> Span:
    """The span of one model turn, under its run's span."""
    factory = _factory
    if factory is None or parent is NO_SPAN:
        return NO_SPAN
    return factory.turn_span(parent, model_name, step)


def tool_span(parent: Span, tool_name: str, call_id: str, arguments: Mapping[str, Any]) -> Span:
    """The span of one tool call, under its run's span.

    It becomes the current span while the block runs, so spans the tool makes itself nest
    under it: wrap only the awaiting of the call (no `yield` inside the block).
    """
    factory = _factory
    if factory is None or parent is NO_SPAN:
        return NO_SPAN
    return factory.tool_span(parent, tool_name, call_id, arguments)
