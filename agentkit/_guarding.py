"""The guardrails of one run, at their four stages, with the record of every verdict."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from agentkit._execution import Blocked, ToolStage
from agentkit.errors import InputGuardrailTripped, OutputGuardrailTripped, ToolGuardrailTripped
from agentkit.guardrails import Guardrail, GuardrailContext, OutputBuffer, Verdict, VerdictRecord
from agentkit.guardrails._run import run_guardrails
from agentkit.messages import Message
from agentkit.tools import Tool

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = ["RunGuards"]

_T = TypeVar("_T")
_QUEUE_BOUND = 4096  # model-turn items held while a parallel input check is pending


class RunGuards:
    """Applies an agent's guardrails to one run's transcript and keeps their verdicts.

    Args:
        agent: the agent whose guardrails apply.
        messages: the run's transcript (the same list the run appends to).
        run_id: the run.
    """

    def __init__(self, agent: Agent[Any, Any], messages: list[Message], run_id: str) -> None:
        self.agent = agent
        self.messages = messages
        self.run_id = run_id
        self.records: list[VerdictRecord] = []
        rails = agent.input_guardrails
        beside = [r for r in rails if agent.run_in_parallel or getattr(r, "run_in_parallel", False)]
        self.input_first = [r for r in rails if r not in beside]
        self.input_beside = beside
        self.tools_guarded = bool(agent.tool_guardrails) or any(t.guardrails for t in agent.toolbox)

    async def apply(
        self, rails: Sequence[Guardrail], text: str, context: GuardrailContext
    ) -> str | Verdict:
        """The text to use (redacted where a guardrail redacted it), or the blocking verdict."""
        if not rails:
            return text
        outcome = await run_guardrails(rails, text, context)
        self.records.extend(outcome.records)
        return outcome.blocked if outcome.blocked is not None else outcome.text

    async def check_input(self, rails: Sequence[Guardrail]) -> bool:
        """Check the newest user message; True if a guardrail redacted it.

        Raises:
            InputGuardrailTripped: a guardrail blocked it.
        """
        messages = self.messages
        index = next(
            (i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), -1
        )
        if not rails or index < 0:
            return False
        context = GuardrailContext("input", list(messages), run_id=self.run_id)
        text = messages[index].content
        checked = await self.apply(rails, text, context)
        if isinstance(checked, Verdict):
            raise InputGuardrailTripped(checked)
        if checked == text:
            return False
        messages[index] = messages[index].model_copy(update={"content": checked})
        return True

    async def beside_input(
        self, turn: AsyncGenerator[_T, None], restart: Callable[[], AsyncIterator[_T]]
    ) -> AsyncIterator[_T]:
        """A first model turn run beside the parallel input guardrails.

        Its items are held until the verdict: a block cancels the turn and raises
        `InputGuardrailTripped` (no tool has run); a redaction discards the turn and starts it
        again (`restart()`) on the redacted message; an allow releases the held items.
        """
        import asyncio  # here, not at module level: keeps `import agentkit` light

        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(_QUEUE_BOUND)

        async def produce() -> None:
            try:
                async with contextlib.aclosing(turn):
                    async for item in turn:
                        await queue.put(("item", item))
            except Exception as exc:  # handed to the consumer, which raises it in order
                await queue.put(("error", exc))
            else:
                await queue.put(("end", None))

        producer = asyncio.ensure_future(produce())
        try:
            if await self.check_input(self.input_beside):
                producer.cancel()
                async for item in restart():
                    yield item
                return
            while (got := await queue.get())[0] == "item":
                yield got[1]
            if got[0] == "error":
                raise got[1]
        finally:
            producer.cancel()

    async def check_output(self, text: str) -> str:
        """The final answer as the output guardrails leave it.

        Raises:
            OutputGuardrailTripped: a guardrail blocked it.
        """
        context = GuardrailContext("output", list(self.messages), run_id=self.run_id)
        checked = await self.apply(self.agent.output_guardrails, text, context)
        if isinstance(checked, Verdict):
            raise OutputGuardrailTripped(checked)
        return checked

    def output_buffer(self) -> OutputBuffer | None:
        """A buffer that holds streamed text back until the output guardrails pass it."""
        rails = self.agent.output_guardrails
        if not rails:
            return None
        context = GuardrailContext("output", self.messages, run_id=self.run_id)
        return OutputBuffer(list(rails), context, mode=self.agent.output_chunks)

    async def tool_stage(self, stage: ToolStage, text: str, tool: Tool) -> str | Blocked:
        """The tool-stage guardrails (the agent's, then the tool's own) on one call or result.

        Raises:
            ToolGuardrailTripped: a block, when the agent's `on_block` is `"raise"`.
        """
        rails = (*self.agent.tool_guardrails, *tool.guardrails)
        context = GuardrailContext(stage, list(self.messages), tool.name, self.run_id)
        checked = await self.apply(rails, text, context)
        if not isinstance(checked, Verdict):
            return checked
        if self.agent.on_block == "raise":
            raise ToolGuardrailTripped(checked)
        return Blocked(checked.reason or "a guardrail blocked it")
