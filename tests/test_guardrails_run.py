"""The guardrail runner: chains, records, latency, errors, threads, all_of and OutputBuffer."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.guardrails import (
    AllOf,
    BaseGuardrail,
    DenyList,
    GuardrailContext,
    GuardrailOutcome,
    OutputBuffer,
    PIIGuardrail,
    RegexGuardrail,
    Stage,
    Verdict,
    all_of,
    guardrail,
)
from agentkit.guardrails._run import run_guardrails


class Fixed(BaseGuardrail):
    """Answers a fixed verdict and records the texts it saw."""

    def __init__(self, verdict: Verdict, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.verdict = verdict
        self.seen: list[str] = []

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        self.seen.append(text)
        return self.verdict


class ThreadProbe(BaseGuardrail):
    """Records the thread its check runs in."""

    in_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def check(self, text: str, context: GuardrailContext | None = None) -> Verdict:
        self.threads.append(threading.current_thread())
        return Verdict.allow()


class PlainRail:
    """A guardrail that is not a BaseGuardrail: a bare check, no name."""

    def check(self, text: str, context: GuardrailContext) -> Verdict:
        return Verdict.redact(text.upper(), "shout", category="style")


def outcome_of(rails: Any, text: str, stage: Stage = "input") -> GuardrailOutcome:
    return asyncio.run(run_guardrails(rails, text, GuardrailContext(stage)))


def test_built_ins_are_called_directly_without_a_context() -> None:
    assert PIIGuardrail().check("mail ada@example.com").text == "mail <EMAIL>"
    assert DenyList(["foo"]).check("FOO bar").action == "block"


def test_every_guardrail_has_a_name() -> None:
    @guardrail
    def no_foo(text: str, context: GuardrailContext) -> Verdict:
        return Verdict.allow()

    assert PIIGuardrail().name == "PIIGuardrail"
    assert PIIGuardrail(name="pii-strict").name == "pii-strict"
    assert no_foo.name == "no_foo"
    assert all_of(PIIGuardrail(), no_foo).name == "all_of(PIIGuardrail, no_foo)"


def test_the_chain_redacts_then_the_first_block_wins() -> None:
    after = Fixed(Verdict.allow(), name="after")
    rails = [
        PIIGuardrail(),
        RegexGuardrail(r"<EMAIL>", name="sees-redaction"),
        after,
    ]
    outcome = outcome_of(rails, "write to ada@example.com", "output")
    assert outcome.text == "write to <EMAIL>"
    assert outcome.blocked is not None
    assert outcome.blocked.category == "regex"
    assert after.seen == []  # nothing runs after a block
    [redact, block] = outcome.records
    assert (redact.stage, redact.guardrail, redact.action, redact.category) == (
        "output",
        "PIIGuardrail",
        "redact",
        "pii",
    )
    assert (block.guardrail, block.action) == ("sees-redaction", "block")
    assert redact.latency >= 0 and block.latency >= 0
    assert outcome.latency >= redact.latency + block.latency


def test_allow_verdicts_leave_no_record() -> None:
    outcome = outcome_of([Fixed(Verdict.allow()), PIIGuardrail()], "hello")
    assert outcome.records == []
    assert outcome.blocked is None and outcome.text == "hello"
    assert not outcome.redacted


def test_plain_objects_async_functions_and_nested_lists() -> None:
    @guardrail
    async def exclaim(text: str, context: GuardrailContext) -> Verdict:
        await asyncio.sleep(0)
        return Verdict.redact(text + "!", "exclaim")

    outcome = outcome_of([[PlainRail()], [exclaim]], "hi")
    assert outcome.text == "HI!"
    assert [r.guardrail for r in outcome.records] == ["PlainRail", "exclaim"]


def test_slow_guardrails_run_in_a_worker_thread() -> None:
    probe = ThreadProbe()
    outcome_of([probe], "x")
    assert probe.threads and probe.threads[0] is not threading.main_thread()
    inline = Fixed(Verdict.allow())
    assert not inline.in_thread


def test_all_of_chains_and_records_each_member() -> None:
    group = all_of(PIIGuardrail(), DenyList(["<EMAIL>"], action="redact"), name="safety")
    assert isinstance(group, AllOf)
    outcome = outcome_of([group], "ada@example.com")
    assert outcome.text == "[REDACTED]"
    assert [r.guardrail for r in outcome.records] == [
        "safety/PIIGuardrail",
        "safety/DenyList",
    ]
    verdict = group.check("ada@example.com")
    assert (verdict.action, verdict.text, verdict.category) == (
        "redact",
        "[REDACTED]",
        "pii,deny_list",
    )
    assert asyncio.run(group.acheck("ada@example.com")) == verdict
    assert group.check("nothing here") == Verdict.allow()


def test_all_of_first_block_wins() -> None:
    late = Fixed(Verdict.block("late"))
    group = all_of(Fixed(Verdict.block("early"), name="early"), late)
    assert group.check("x").reason == "early"
    assert late.seen == []


def test_all_of_sync_check_refuses_async_members() -> None:
    @guardrail
    async def slow(text: str, context: GuardrailContext) -> Verdict:
        return Verdict.allow()

    group = all_of(slow)
    with pytest.raises(UsageError, match="async"):
        group.check("x")
    assert asyncio.run(group.acheck("x")) == Verdict.allow()


def test_all_of_needs_members() -> None:
    with pytest.raises(UsageError):
        all_of()


def test_a_guardrail_that_raises_is_named_without_its_message() -> None:
    @guardrail
    def broken(text: str, context: GuardrailContext) -> Verdict:
        raise RuntimeError(f"cannot handle {text}")

    with pytest.raises(UsageError, match="'broken' failed with RuntimeError") as info:
        outcome_of([broken], "secret-value")
    assert "secret-value" not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_agentkit_errors_pass_through() -> None:
    @guardrail
    def missing(text: str, context: GuardrailContext) -> Verdict:
        raise ModelNotAvailableError("pip install 'agentkit[guardrails]'")

    with pytest.raises(ModelNotAvailableError):
        outcome_of([missing], "x")


def test_a_non_verdict_is_a_usage_error_naming_the_guardrail() -> None:
    @guardrail
    def sloppy(text: str, context: GuardrailContext) -> Verdict:
        return "allow"

    with pytest.raises(UsageError, match="'sloppy' returned str, not a Verdict"):
        outcome_of([sloppy], "x")


def test_not_a_guardrail() -> None:
    with pytest.raises(UsageError, match="not a guardrail"):
        outcome_of([42], "x")


def test_a_guardrail_that_hangs_times_out() -> None:
    @guardrail
    async def hangs(text: str, context: GuardrailContext) -> Verdict:
        await asyncio.Event().wait()
        return Verdict.allow()

    with pytest.raises(UsageError, match=r"no verdict within 0\.05 s"):
        asyncio.run(run_guardrails([hangs], "x", timeout=0.05))


# -- OutputBuffer ----------------------------------------------------------------------------------


def stream(buffer: OutputBuffer, deltas: list[str]) -> list[str]:
    async def main() -> list[str]:
        out = [await buffer.feed(delta) for delta in deltas]
        return [*out, await buffer.flush()]

    return asyncio.run(main())


def test_sentences_are_released_whole_and_redacted() -> None:
    pii = PIIGuardrail()
    buffer = OutputBuffer([pii])
    deltas = ["Sure. Write to ada@exa", "mple.com or call +44 20 ", "7946 0958. Bye", "!"]
    out = stream(buffer, deltas)
    assert out == ["Sure. ", "", "Write to <EMAIL> or call <PHONE>. ", "", "Bye!"]
    assert buffer.released == "Sure. Write to <EMAIL> or call <PHONE>. Bye!"
    assert [r.action for r in buffer.records] == ["redact"]
    assert buffer.blocked is None


def test_a_block_stops_the_stream_before_the_offending_sentence() -> None:
    buffer = OutputBuffer([DenyList(["launch codes"])])
    out = stream(buffer, ["Hello there. The launch ", "codes are 1234. More text. ", "And more."])
    assert out == ["Hello there. ", "", "", ""]
    assert buffer.blocked is not None and buffer.blocked.category == "deny_list"
    assert buffer.released == "Hello there. "
    assert "1234" not in "".join(out)


def test_a_safe_sentence_before_a_blocked_one_in_the_same_delta_is_released() -> None:
    buffer = OutputBuffer([DenyList(["secret"])])
    assert stream(buffer, ["Fine. Also fine. The secret is out. Tail"]) == [
        "Fine. Also fine. ",
        "",
    ]


def test_character_mode_cuts_at_spaces_never_inside_digit_groups() -> None:
    seen: list[str] = []

    @guardrail
    def spy(text: str, context: GuardrailContext) -> Verdict:
        seen.append(text)
        return Verdict.allow()

    buffer = OutputBuffer([spy, PIIGuardrail()], mode=10)
    out = stream(buffer, ["Card number ", "4111 1111 ", "1111 1111 is", " on file now"])
    assert "".join(out) == "Card number <CREDIT_CARD> is on file now"
    assert all(len(chunk) >= 10 for chunk in seen[:-1])
    assert not any(chunk.endswith(("4111", "1111")) for chunk in seen[:-1])


def test_max_chars_bounds_what_is_held_back() -> None:
    buffer = OutputBuffer([Fixed(Verdict.allow())], max_chars=8)
    assert stream(buffer, ["abcdefghij", "kl"]) == ["abcdefghij", "", "kl"]


def test_the_context_defaults_to_the_output_stage() -> None:
    stages: list[str] = []

    @guardrail
    def spy(text: str, context: GuardrailContext) -> Verdict:
        stages.append(context.stage)
        return Verdict.allow()

    stream(OutputBuffer([spy]), ["One. ", "Two."])
    assert stages == ["output", "output"]


def test_feed_after_flush_and_bad_modes_are_usage_errors() -> None:
    buffer = OutputBuffer([])
    stream(buffer, ["x"])
    with pytest.raises(UsageError):
        asyncio.run(buffer.feed("y"))
    for kwargs in ({"mode": 0}, {"mode": "word"}, {"mode": 50, "max_chars": 10}):
        with pytest.raises(UsageError):
            OutputBuffer([], **kwargs)
