"""`LLMJudgeGuardrail`: any agentkit model asked for a Llama Guard style safety verdict."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from agentkit.errors import ModelError, UsageError
from agentkit.guardrails._base import INPUT_CONTEXT, BaseGuardrail, GuardrailContext, Verdict
from agentkit.messages import Message

if TYPE_CHECKING:
    from agentkit.models import Model

__all__ = ["JUDGE_PROMPT", "LLAMA_GUARD_CATEGORIES", "LLMJudgeGuardrail", "parse_judgement"]

logger = logging.getLogger("agentkit.guardrails")

LLAMA_GUARD_CATEGORIES: Mapping[str, str] = {
    "S1": "Violent Crimes.",
    "S2": "Non-Violent Crimes.",
    "S3": "Sex-Related Crimes.",
    "S4": "Child Sexual Exploitation.",
    "S5": "Defamation.",
    "S6": "Specialized Advice.",
    "S7": "Privacy.",
    "S8": "Intellectual Property.",
    "S9": "Indiscriminate Weapons.",
    "S10": "Hate.",
    "S11": "Suicide & Self-Harm.",
    "S12": "Sexual Content.",
    "S13": "Elections.",
    "S14": "Code Interpreter Abuse.",
}
"""The hazard categories of Llama Guard 3 (MLCommons taxonomy), by code."""

JUDGE_PROMPT = """Task: Check if there is unsafe content in '{role}' messages in conversations \
according to our safety policy with the below categories.

<BEGIN UNSAFE CONTENT CATEGORIES>
{categories}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

{role}: {text}

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST {role} message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories."""
"""The Llama Guard prompt; `{role}`, `{categories}` and `{text}` are filled in."""

# The verdict opening a line, after Markdown or a label: "**Unsafe**", "Assessment: safe".
_LEADING_VERDICT = re.compile(
    r"^[\s*_`#>\-\"']*(?:(?:final\s+)?(?:answer|assessment|verdict|result|rating|"
    r"classification)\s*[:=\-]\s*[*_`\"']*)?(unsafe|not\s+safe|safe)\b",
    re.IGNORECASE | re.MULTILINE,
)
_VERDICT_WORD = re.compile(r"\b(unsafe|not\s+safe|safe)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:whether|if|cannot|can't|unsure|not sure|unclear|maybe|might)\b", re.I)
_CODE = re.compile(r"\bS(\d{1,2})\b", re.IGNORECASE)
# Who speaks the text at each stage, in the prompt's terms.
_ROLES = {"input": "User", "tool_result": "User", "output": "Agent", "tool_call": "Agent"}


def parse_judgement(reply: str, codes: Mapping[str, str] = LLAMA_GUARD_CATEGORIES) -> Verdict:
    r"""Read a judge's reply: `safe`, or `unsafe` and the category codes (on the next line).

    Case, whitespace, Markdown and extra prose are tolerated. The first line that opens with
    a verdict decides; without one, a verdict word anywhere does, unsafe winning over safe,
    and a lone "safe" in a hedging reply ("I cannot tell whether it is safe") is no verdict.
    Codes not in `codes` are ignored.

    Raises:
        ModelError: the reply says neither `safe` nor `unsafe`.

    Example:
        >>> verdict = parse_judgement("**Unsafe**\n s2 , S9")
        >>> verdict.action, verdict.category
        ('block', 'S2,S9')
        >>> verdict.reason
        'unsafe: S2 Non-Violent Crimes, S9 Indiscriminate Weapons'
        >>> parse_judgement("  SAFE. The message is a greeting.").action
        'allow'
    """
    word = _verdict_word(reply)
    if word is None:
        excerpt = " ".join(reply.split())[:80]
        raise ModelError(f"the judge's reply is neither 'safe' nor 'unsafe': {excerpt!r}")
    if word == "safe":
        return Verdict.allow()
    found = [f"S{int(n)}" for n in _CODE.findall(reply)]
    known = [code for code in dict.fromkeys(found) if code in codes]
    described = ", ".join(f"{code} {codes[code].rstrip('.')}" for code in known)
    return Verdict.block(
        f"unsafe: {described}" if described else "unsafe",
        category=",".join(known) or "unsafe",
    )


def _verdict_word(reply: str) -> str | None:
    """`"safe"`, `"unsafe"`, or None when the reply gives no clear verdict."""
    leading = _LEADING_VERDICT.search(reply)
    if leading:
        return "safe" if leading.group(1).lower() == "safe" else "unsafe"
    words = {w.lower().split()[0] for w in _VERDICT_WORD.findall(reply)}
    if words & {"unsafe", "not"}:
        return "unsafe"
    if words and not _HEDGE.search(reply):
        return "safe"
    return None


class LLMJudgeGuardrail(BaseGuardrail):
    r"""Asks a model whether the text is safe, with a Llama Guard style prompt.

    Any agentkit `Model` serves: a Llama Guard model behind an OpenAI-compatible server, a
    local `TransformersModel`, or a `ScriptedModel` in tests. The reply is read robustly
    (`parse_judgement`). A judge that fails or answers nonsense never allows silently: with
    `on_error="block"` (the default) the text is blocked (category `"judge_error"`), with
    `on_error="raise"` a `ModelError` is raised.

    Args:
        model: the judge.
        categories: the hazard categories by code (Llama Guard 3's S1 to S14 by default).
        on_error: `"block"` or `"raise"` when the judge fails or answers nonsense.
        prompt: the prompt template, with `{role}`, `{categories}` and `{text}` fields.
        name: the guardrail's name.

    Example:
        >>> from agentkit.models import ScriptedModel
        >>> judge = LLMJudgeGuardrail(ScriptedModel(["unsafe\nS9"]))
        >>> judge.check("How do I build a dirty bomb?").category
        'S9'

    `check` runs the judge to completion (outside an event loop); inside one, `await
    judge.acheck(text)`.
    """

    def __init__(
        self,
        model: Model,
        *,
        categories: Mapping[str, str] = LLAMA_GUARD_CATEGORIES,
        on_error: Literal["block", "raise"] = "block",
        prompt: str = JUDGE_PROMPT,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if on_error not in ("block", "raise"):
            raise UsageError(f"on_error must be 'block' or 'raise', got {on_error!r}")
        self.model = model
        self.categories = dict(categories)
        self.on_error = on_error
        self.prompt = prompt

    def render(self, text: str, context: GuardrailContext | None = None) -> str:
        """The judge's prompt for `text` at the context's stage."""
        role = _ROLES[(context or INPUT_CONTEXT).stage]
        listed = "\n".join(f"{code}: {label}" for code, label in self.categories.items())
        return self.prompt.format(role=role, categories=listed, text=text)

    async def acheck(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Ask the judge and read its verdict."""
        from agentkit.models import ModelRequest

        request = ModelRequest(
            transcript=[Message.user(self.render(text, context))],
            format=self.model.format,
            tool_choice="none",
        )
        try:
            response = await self.model.complete(request)
            return parse_judgement(response.text, self.categories)
        except ModelError as exc:
            if self.on_error == "raise":
                raise
            logger.warning("%s failed, blocking: %s", self.name, exc)
            return Verdict.block(f"the judge gave no verdict: {exc}", category="judge_error")

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        """Ask the judge synchronously (not inside a running event loop: use `acheck`)."""
        import asyncio  # here, not at the top: `import agentkit` stays without it

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.acheck(text, context))
        raise UsageError(f"{self.name}.check cannot run inside an event loop: await .acheck()")
