"""OpenTelemetry traces of runs, model turns and tool calls (the GenAI semantic conventions).

Nothing is recorded, and OpenTelemetry is not imported, until `enable()` is called
(`pip install 'agentkit[otel]'`). Then each run is a span `invoke_agent {agent}`, each model turn a
child span `chat {model}` and each tool call a child span `execute_tool {tool}`:

| attribute | on |
|---|---|
| `gen_ai.operation.name` (`invoke_agent`, `chat`, `execute_tool`) | every span |
| `gen_ai.agent.name`, `agentkit.run.id` | run |
| `gen_ai.request.model` | run, turn |
| `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` | turn (run: the totals) |
| `gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.tool.type` | tool call |
| `error.type` and an error status | a failed span |

Failed turns are `agentkit.retry` events and guardrail verdicts `agentkit.guardrail` events on
the run span. What the model read and wrote, tool arguments and results, and error messages
(which may quote them) are recorded only with `record_content=True`
(`gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.tool.call.arguments`,
`gen_ai.tool.call.result`); otherwise an error status says only the error's type.

Example:
    >>> from agentkit import tracing
    >>> tracing.is_enabled()
    False
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentkit import _trace
from agentkit._trace import AttributeValue, Span
from agentkit.errors import UsageError

if TYPE_CHECKING:
    from types import TracebackType

    from opentelemetry.trace import Tracer, TracerProvider

    from agentkit.guardrails import VerdictRecord
    from agentkit.messages import Message

__all__ = ["disable", "enable", "is_enabled"]

_INSTALL = "pip install 'agentkit[otel]'"
MAX_CONTENT_CHARS = 16_384
"""Content attributes longer than this are cut (a marker says so)."""


def enable(tracer_provider: TracerProvider | None = None, *, record_content: bool = False) -> None:
    """Trace every run from now on, in this process.

    Args:
        tracer_provider: where spans go; None for OpenTelemetry's global provider.
        record_content: also record prompts, replies, tool arguments, results and error
            messages (they may hold personal or secret data).

    Raises:
        UsageError: OpenTelemetry is not installed.
    """
    try:
        from opentelemetry import trace
    except ImportError:
        raise UsageError(f"tracing needs OpenTelemetry: {_INSTALL}") from None
    from agentkit import __version__

    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    tracer = provider.get_tracer("agentkit", __version__)
    _trace.install(_OtelFactory(tracer, record_content))


def disable() -> None:
    """Stop tracing (runs already started finish their spans)."""
    _trace.install(None)


def is_enabled() -> bool:
    """Whether runs are traced."""
    return _trace._factory is not None


def _cut(text: str) -> str:
    if len(text) <= MAX_CONTENT_CHARS:
        return text
    return f"{text[:MAX_CONTENT_CHARS]}[... {len(text) - MAX_CONTENT_CHARS} more characters]"


def _json(value: Any) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, default=str))


class _OtelFactory:
    """Makes OpenTelemetry spans for the hooks of `agentkit._trace`."""

    def __init__(self, tracer: Tracer, record_content: bool) -> None:
        self.tracer = tracer
        self.record_content = record_content

    def run_span(self, agent_name: str, model_name: str, run_id: str) -> Span:
        from opentelemetry.trace import SpanKind

        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent_name,
            "gen_ai.request.model": model_name,
            "agentkit.run.id": run_id,
        }
        span = self.tracer.start_span(
            f"invoke_agent {agent_name}", kind=SpanKind.INTERNAL, attributes=attributes
        )
        return _OtelSpan(self, span, None)

    def turn_span(self, parent: Span, model_name: str, step: int) -> Span:
        from opentelemetry.trace import SpanKind

        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model_name,
            "agentkit.step": step,
        }
        return self._child(parent, f"chat {model_name}", SpanKind.CLIENT, attributes)

    def tool_span(
        self, parent: Span, tool_name: str, call_id: str, arguments: Mapping[str, Any]
    ) -> Span:
        from opentelemetry.trace import SpanKind

        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool_name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
        }
        if self.record_content:
            attributes["gen_ai.tool.call.arguments"] = _json(dict(arguments))
        span = self._child(parent, f"execute_tool {tool_name}", SpanKind.INTERNAL, attributes)
        span.make_current = True
        return span

    def _child(
        self, parent: Span, name: str, kind: Any, attributes: Mapping[str, AttributeValue]
    ) -> _OtelSpan:
        from opentelemetry import trace

        run = parent if isinstance(parent, _OtelSpan) else None
        context = trace.set_span_in_context(run.span) if run is not None else None
        span = self.tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        return _OtelSpan(self, span, run)


class _OtelSpan(Span):
    """One OpenTelemetry span behind the hook API."""

    __slots__ = ("_seen", "_token", "_totals", "factory", "make_current", "parent", "span")

    def __init__(self, factory: _OtelFactory, span: Any, parent: _OtelSpan | None) -> None:
        self.factory = factory
        self.span = span
        self.parent = parent
        self.make_current = False
        self._token: object = None
        self._totals = [0, 0]  # a run's input and output tokens, summed over its turns
        self._seen = 0  # verdict records already recorded

    def __enter__(self) -> Span:
        if self.make_current:
            from opentelemetry import context, trace

            self._token = context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            from opentelemetry import context

            context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        if exc is not None and not isinstance(exc, GeneratorExit):  # closing is no failure
            message = f"{type(exc).__name__}: {exc}"
            self.error(message, type(exc).__name__)
        if self.parent is None and any(self._totals):
            self._set_usage(*self._totals)
        self.span.end()

    # -- what the loop records ---------------------------------------------------------------------
    def usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        self._set_usage(prompt_tokens, completion_tokens)
        if self.parent is not None:
            self.parent._totals[0] += prompt_tokens or 0
            self.parent._totals[1] += completion_tokens or 0

    def _set_usage(self, prompt_tokens: int | None, completion_tokens: int | None) -> None:
        if prompt_tokens is not None:
            self.span.set_attribute("gen_ai.usage.input_tokens", prompt_tokens)
        if completion_tokens is not None:
            self.span.set_attribute("gen_ai.usage.output_tokens", completion_tokens)

    def prompt(self, messages: Sequence[Message]) -> None:
        if self.factory.record_content:
            shown = [m.model_dump(mode="json", exclude_none=True) for m in messages]
            self.span.set_attribute("gen_ai.input.messages", _json(shown))

    def reply(self, text: str) -> None:
        if self.factory.record_content:
            shown = [{"role": "assistant", "content": text}]
            self.span.set_attribute("gen_ai.output.messages", _json(shown))

    def result(self, content: str) -> None:
        if self.factory.record_content:
            self.span.set_attribute("gen_ai.tool.call.result", _cut(content))

    def error(self, message: str, error_type: str = "tool_error") -> None:
        from opentelemetry.trace import Status, StatusCode

        shown = _cut(message) if self.factory.record_content else error_type
        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, shown))

    def event(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        self.span.add_event(name, dict(attributes or {}))

    def retry(self, attempt: int, kinds: Sequence[str]) -> None:
        self.event(
            "agentkit.retry",
            {"agentkit.retry.attempt": attempt, "agentkit.retry.errors": list(kinds)},
        )

    def verdicts(self, records: Sequence[VerdictRecord]) -> None:
        for record in records[self._seen :]:
            attributes: dict[str, AttributeValue] = {
                "agentkit.guardrail.stage": record.stage,
                "agentkit.guardrail.name": record.guardrail,
                "agentkit.guardrail.action": record.action,
                "agentkit.guardrail.latency_ms": round(record.latency * 1000, 3),
            }
            if record.category is not None:
                attributes["agentkit.guardrail.category"] = record.category
            if record.score is not None:
                attributes["agentkit.guardrail.score"] = record.score
            if self.factory.record_content and record.reason:
                attributes["agentkit.guardrail.reason"] = _cut(record.reason)
            self.event("agentkit.guardrail", attributes)
        self._seen = max(self._seen, len(records))
