"""Guardrails: pluggable checks on input, output, tool calls and tool results."""

from agentkit.guardrails._base import (
    Action,
    FunctionGuardrail,
    Guardrail,
    GuardrailContext,
    Stage,
    Verdict,
    apply_guardrails,
    guardrail,
)

__all__ = [
    "Action",
    "FunctionGuardrail",
    "Guardrail",
    "GuardrailContext",
    "Stage",
    "Verdict",
    "apply_guardrails",
    "guardrail",
]
