"""MCP both ways: agentkit's calculator served over MCP, and an agent using it as MCP tools.

`python -m agentkit mcp calculator` serves the ready-made calculator over stdio (any MCP client,
e.g. a desktop assistant, could start it); `MCPToolset.stdio` starts that same command and turns
the server's tools back into agentkit tools. The model is scripted, so this runs anywhere:
swap in `TransformersModel.default()` or an `OpenAICompatibleModel` for a real one.

Run: `python -m examples.mcp_tools` (from the repository root; needs `agentkit[mcp]`).
"""

from __future__ import annotations

import asyncio
import json
import sys

from agentkit import Agent
from agentkit.events import FinalEvent, ToolCallEvent, ToolResultEvent
from agentkit.mcp import MCPToolset
from agentkit.models import ScriptedModel


async def main() -> None:
    server = MCPToolset.stdio(sys.executable, ["-m", "agentkit", "mcp", "calculator"])
    async with server as tools:  # starts the server; closing ends it
        print(f"tools from the MCP server: {', '.join(tools.names)}")
        calls = [
            {"name": "calculate", "arguments": {"expression": "17 * 23"}},
            {"name": "calculate", "arguments": {"expression": "1 / 0"}},
        ]
        model = ScriptedModel([json.dumps(calls), "17 * 23 is 391; 1 / 0 has no value."])
        agent = Agent(model, tools=tools)
        async for event in agent.stream("What are 17 * 23 and 1 / 0?"):
            if isinstance(event, ToolCallEvent):
                print(f"call    {event.call.name}({json.dumps(event.call.arguments)})")
            elif isinstance(event, ToolResultEvent):
                shown = event.error if event.error is not None else event.content
                print(f"result  {shown}")
            elif isinstance(event, FinalEvent):
                print(f"answer  {event.result.output}")


if __name__ == "__main__":
    asyncio.run(main())
