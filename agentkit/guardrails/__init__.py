"""Guardrails: pluggable checks on input, output, tool calls and tool results.

A guardrail's `check(text, context)` returns a `Verdict`: allow, redact (with the new text) or
block. The built-ins can be called directly (`PIIGuardrail().check("...")`, no context needed:
it defaults to the input stage); each also has an async `acheck` that keeps the event loop free
(model-based ones run in a worker thread). Lists of guardrails, and `all_of` groups, run in a
chain: each sees the text as the previous one left it, and the first block wins.

Built-ins: `RegexGuardrail`, `DenyList`, `PIIGuardrail` (standard library; presidio optional),
`PromptInjectionGuardrail` (heuristics and a stdlib classifier), `ClassifierGuardrail` (any
text classifier), `TopicGuardrail` (sentence embeddings), `LLMJudgeGuardrail` (any model, a
Llama Guard style prompt). Model packages load lazily, once per process: `pip install
'agentkit[guardrails]'` (and `agentkit[local]` for the transformers-based ones).
"""

from agentkit.guardrails._base import (
    Action,
    BaseGuardrail,
    FunctionGuardrail,
    Guardrail,
    GuardrailContext,
    Stage,
    Verdict,
    guardrail,
)
from agentkit.guardrails._run import AllOf, GuardrailOutcome, VerdictRecord, all_of
from agentkit.guardrails._stream import OutputBuffer
from agentkit.guardrails.classifier import ClassifierGuardrail
from agentkit.guardrails.injection import PromptInjectionGuardrail
from agentkit.guardrails.judge import LLMJudgeGuardrail
from agentkit.guardrails.pii import PIIGuardrail
from agentkit.guardrails.rules import DenyList, RegexGuardrail
from agentkit.guardrails.topic import TopicGuardrail

__all__ = [
    "Action",
    "AllOf",
    "BaseGuardrail",
    "ClassifierGuardrail",
    "DenyList",
    "FunctionGuardrail",
    "Guardrail",
    "GuardrailContext",
    "GuardrailOutcome",
    "LLMJudgeGuardrail",
    "OutputBuffer",
    "PIIGuardrail",
    "PromptInjectionGuardrail",
    "RegexGuardrail",
    "Stage",
    "TopicGuardrail",
    "Verdict",
    "VerdictRecord",
    "all_of",
    "guardrail",
]
