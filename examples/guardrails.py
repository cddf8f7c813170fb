"""Guardrails: redact a phone number from the input, block an answer that leaks a secret.

Run: `python -m examples.guardrails`.
"""

from __future__ import annotations

import re

from agentkit import Agent
from agentkit.errors import OutputGuardrailTripped
from agentkit.guardrails import GuardrailContext, Verdict, guardrail
from agentkit.models import ScriptedModel

PHONE = re.compile(r"\+?\d[\d \-]{7,}\d")


@guardrail
def redact_phone_numbers(text: str, context: GuardrailContext) -> Verdict:
    if PHONE.search(text):
        return Verdict.redact(PHONE.sub("[phone]", text), "phone number", category="pii")
    return Verdict.allow()


@guardrail
def no_secrets(text: str, context: GuardrailContext) -> Verdict:
    if "sk-" in text:
        return Verdict.block("the answer contains an API key", category="secret")
    return Verdict.allow()


model = ScriptedModel(["Noted, I will call you back.", "Sure, the key is sk-12345."])
agent = Agent(model, input_guardrails=[redact_phone_numbers], output_guardrails=[no_secrets])

result = agent.run("Call me at +33 6 12 34 56 78 please")
print("the model saw:", model.requests[0].messages[-1].content)
print("answer:", result.output)
try:
    agent.run("What is the API key?")
except OutputGuardrailTripped as exc:
    print("blocked:", exc.verdict.reason)
