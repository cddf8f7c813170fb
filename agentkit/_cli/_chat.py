"""`agentkit chat`: an interactive session that keeps the conversation.

Each line is a turn: calls and results are shown as they happen and the answer streams.
`/reset` forgets the conversation, `/tools` lists the tools, `/exit` (or Ctrl-D) leaves, and
Ctrl-C stops the current answer and returns to the prompt, the conversation as it was before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agentkit import Agent, Message
from agentkit._cli._output import Console, StepStreamer
from agentkit.errors import AgentkitError
from agentkit.events import FinalEvent

__all__ = ["COMMANDS", "ChatSession"]

COMMANDS = {
    "/reset": "forget the conversation",
    "/tools": "list the tools",
    "/help": "show these commands",
    "/exit": "leave (Ctrl-D too); Ctrl-C stops an answer",
}
PROMPT = "you> "


class ChatSession:
    """A conversation with an agent, one line of input per turn.

    Args:
        agent: the agent that answers.
        console: where output goes.
        read: reads one line (raises EOFError at the end of input); `input` by default.
    """

    def __init__(
        self,
        agent: Agent[Any],
        console: Console,
        read: Callable[[str], str] = input,
    ) -> None:
        self.agent = agent
        self.console = console
        self.read = read
        self.messages: list[Message] = []

    def command(self, line: str) -> bool:
        """Carry out a `/command`; False when the session should end."""
        name = line.split()[0].lower()
        if name in ("/exit", "/quit"):
            return False
        if name == "/reset":
            self.messages = []
            self.console.line("(conversation cleared)")
        elif name == "/tools":
            for item in self.agent.tools:
                summary = item.description.strip().splitlines()[0] if item.description else ""
                self.console.line(f"  {item.name}: {summary}")
            if not self.agent.tools:
                self.console.line("  (no tools)")
        else:
            if name != "/help":
                self.console.line(f"unknown command {name}")
            for command, meaning in COMMANDS.items():
                self.console.line(f"  {command}: {meaning}")
        return True

    async def turn(self, text: str) -> None:
        """Send one user message; on success the conversation grows by the whole turn."""
        prompt = [*self.messages, Message.user(text)]
        streamer = StepStreamer(self.console)
        async for event in self.agent.stream(prompt):
            streamer.feed(event)
            if isinstance(event, FinalEvent):
                self.messages = list(event.result.messages)

    def run_turn(self, text: str) -> None:
        """One turn, its errors shown; Ctrl-C stops it and leaves the conversation as it was."""
        try:
            asyncio.run(self.turn(text))
        except KeyboardInterrupt:
            self.console.line("\n(stopped)")
        except AgentkitError as exc:
            self.console.error(f"{type(exc).__name__}: {exc}")

    def loop(self) -> int:
        """Read and answer lines until `/exit` or the end of input; the exit status."""
        self.console.line("agentkit chat: /help for commands, /exit or Ctrl-D to leave")
        while True:
            try:
                line = self.read(PROMPT).strip()
            except EOFError:
                self.console.line()
                return 0
            except KeyboardInterrupt:  # at the prompt: a fresh line, as a shell does
                self.console.line()
                continue
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    return 0
                continue
            self.run_turn(line)
