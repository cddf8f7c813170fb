"""Structured answers: `output_type` makes the final answer a validated Pydantic object.

The format states the schema to the model; an invalid answer is sent back with its errors.
Run: `python -m examples.structured_output`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agentkit import Agent
from agentkit.models import ScriptedModel


class Ticket(BaseModel):
    """A support ticket extracted from a message."""

    product: str
    severity: Literal["low", "medium", "high"]
    summary: str = Field(max_length=80)


replies = [
    '{"product": "router X2", "severity": "urgent", "summary": "no wifi"}',  # invalid severity
    'Here it is:\n```json\n{"product": "router X2", "severity": "high", '
    '"summary": "Wi-Fi drops every few minutes since the update"}\n```',
]
agent = Agent(ScriptedModel(replies), output_type=Ticket)
result = agent.run("My router X2 keeps dropping Wi-Fi since yesterday's update!!")
ticket: Ticket = result.output
print(ticket.model_dump())
print("retries:", result.usage.failed_turns)
print("told the model:", result.messages[2].content.splitlines()[1])
