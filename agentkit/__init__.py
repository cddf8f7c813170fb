"""agentkit: typed tools, function-calling formats and a robust agent loop for open-weight models.

Example:
    >>> from agentkit import Agent, tool
    >>> from agentkit.models import ScriptedModel
    >>> @tool
    ... def weather(city: str) -> str:
    ...     '''Current weather in a city.'''
    ...     return f"sunny in {city}"
    >>> model = ScriptedModel(['[{"name": "weather", "arguments": {"city": "Oslo"}}]', "Sunny."])
    >>> Agent(model, tools=[weather]).run("Weather in Oslo?").tool_calls[0].result
    'sunny in Oslo'
"""

from agentkit.agent import Agent
from agentkit.errors import AgentkitError
from agentkit.limits import UsageLimits
from agentkit.messages import CallError, Message, RunResult, ToolCall, ToolCallRecord, Usage
from agentkit.state import PendingCall, RunState
from agentkit.tools import RunContext, Tool, Toolbox, tool

__all__ = [
    "Agent",
    "AgentkitError",
    "CallError",
    "Message",
    "PendingCall",
    "RunContext",
    "RunResult",
    "RunState",
    "Tool",
    "ToolCall",
    "ToolCallRecord",
    "Toolbox",
    "Usage",
    "UsageLimits",
    "tool",
]

__version__ = "0.1.0"
