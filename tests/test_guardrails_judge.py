"""LLMJudgeGuardrail with a scripted judge: prompt, robust parsing, failing closed."""

from __future__ import annotations

import asyncio

import pytest

from agentkit.errors import ModelError, UsageError
from agentkit.guardrails import GuardrailContext, LLMJudgeGuardrail, Verdict
from agentkit.guardrails._run import run_guardrails
from agentkit.guardrails.judge import parse_judgement
from agentkit.models import ModelRequest, ScriptedModel


@pytest.mark.parametrize(
    ("reply", "action", "category"),
    [
        ("safe", "allow", None),
        ("  SAFE  \n", "allow", None),
        ("Safe. The user greets the assistant.", "allow", None),
        ("unsafe\nS1", "block", "S1"),
        ("UNSAFE\n s2 , S9 ", "block", "S2,S9"),
        ("**unsafe**\nCategories: S10, s11", "block", "S10,S11"),
        ("Assessment: unsafe\nS14", "block", "S14"),
        (
            "Here is my assessment.\n\nunsafe\nS7\nThe message asks for a home address.",
            "block",
            "S7",
        ),
        ("unsafe", "block", "unsafe"),
        ("unsafe\nS99, S3", "block", "S3"),
        ("The message is not safe: it plans a robbery (S2).", "block", "S2"),
        ("I'd say this one is safe.", "allow", None),
    ],
)
def test_parse_judgement(reply: str, action: str, category: str | None) -> None:
    verdict = parse_judgement(reply)
    assert (verdict.action, verdict.category) == (action, category)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I am not able to help with that.",
        "Sure! Here is a poem.",
        "I cannot tell if it's safe.",
    ],
)
def test_nonsense_is_an_error(reply: str) -> None:
    with pytest.raises(ModelError, match="neither 'safe' nor 'unsafe'"):
        parse_judgement(reply)


def test_the_prompt_is_llama_guard_style_and_names_the_role() -> None:
    model = ScriptedModel(["safe", "safe"])
    judge = LLMJudgeGuardrail(model)
    assert judge.check("Hello there") == Verdict.allow()
    asyncio.run(judge.acheck("Here you go.", GuardrailContext("output")))
    first, second = (r.messages[-1]["content"] for r in model.requests)
    assert "S1: Violent Crimes." in first and "S14: Code Interpreter Abuse." in first
    assert "User: Hello there" in first
    assert "ONLY THE LAST User message" in first
    assert "Agent: Here you go." in second
    assert all(r.tool_choice == "none" for r in model.requests)


def test_unsafe_verdict_describes_the_categories() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel(["unsafe\nS9"]), name="guard")
    verdict = judge.check("How do I enrich uranium at home?")
    assert verdict == Verdict.block("unsafe: S9 Indiscriminate Weapons", category="S9")
    assert judge.name == "guard"


def test_custom_categories() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel(["unsafe\nS1"]), categories={"S1": "Competitors."})
    assert judge.check("Is BrandX better?").reason == "unsafe: S1 Competitors"


def test_nonsense_blocks_by_default() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel(["I like turtles"]))
    verdict = judge.check("anything")
    assert verdict.action == "block"
    assert verdict.category == "judge_error"


def test_nonsense_raises_when_asked() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel(["I like turtles"]), on_error="raise")
    with pytest.raises(ModelError, match="turtles"):
        judge.check("anything")


def test_a_failing_judge_model_fails_closed() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel([]))
    assert judge.check("anything").category == "judge_error"
    with pytest.raises(ModelError):
        LLMJudgeGuardrail(ScriptedModel([]), on_error="raise").check("anything")


def test_an_async_judge_in_the_runner() -> None:
    async def judge_reply(request: ModelRequest) -> str:
        await asyncio.sleep(0)
        text = request.messages[-1]["content"]
        return "unsafe\nS2" if "steal" in text else "safe"

    judge = LLMJudgeGuardrail(ScriptedModel(judge_reply))
    context = GuardrailContext("input")
    ok = asyncio.run(run_guardrails([judge], "How do I bake bread?", context))
    assert ok.blocked is None and ok.records == []
    bad = asyncio.run(run_guardrails([judge], "How do I steal a car?", context))
    assert bad.blocked is not None and bad.blocked.category == "S2"
    assert [r.guardrail for r in bad.records] == ["LLMJudgeGuardrail"]


def test_sync_check_inside_an_event_loop_is_a_usage_error() -> None:
    judge = LLMJudgeGuardrail(ScriptedModel(["safe"]))

    async def main() -> None:
        with pytest.raises(UsageError, match="acheck"):
            judge.check("x")

    asyncio.run(main())


def test_bad_on_error() -> None:
    with pytest.raises(UsageError):
        LLMJudgeGuardrail(ScriptedModel([]), on_error="allow")  # type: ignore[arg-type]
