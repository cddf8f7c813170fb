"""RegexGuardrail and DenyList on real texts."""

from __future__ import annotations

import re

import pytest

from agentkit.errors import UsageError
from agentkit.guardrails import DenyList, Guardrail, RegexGuardrail, Verdict
from agentkit.guardrails.rules import fold


def test_regex_block_and_allow() -> None:
    rail = RegexGuardrail([r"\bsk-[A-Za-z0-9]{20,}\b", re.compile(r"AKIA[0-9A-Z]{16}")])
    assert isinstance(rail, Guardrail)
    verdict = rail.check("aws key AKIAIOSFODNN7EXAMPLE in the log")
    assert verdict == Verdict.block("1 pattern(s) matched", category="regex")
    assert rail.check("the sky is blue").action == "allow"


def test_regex_redacts_every_match_with_group_references() -> None:
    rail = RegexGuardrail(
        r"(user|pass)=\S+", action="redact", replacement=r"\1=***", category="credentials"
    )
    verdict = rail.check("login user=ada pass=hunter2 ok")
    assert verdict.text == "login user=*** pass=*** ok"
    assert (verdict.reason, verdict.category) == ("2 match(es) redacted", "credentials")
    assert "hunter2" not in verdict.reason


def test_regex_replacement_function_flags_and_reason() -> None:
    rail = RegexGuardrail(
        r"secret",
        action="redact",
        replacement=lambda m: "*" * len(m.group()),
        flags=re.IGNORECASE,
        reason="secret word",
    )
    verdict = rail.check("A SECRET and a secret")
    assert (verdict.text, verdict.reason) == ("A ****** and a ******", "secret word")


@pytest.mark.parametrize(
    "kwargs",
    [{"patterns": []}, {"patterns": "("}, {"patterns": "x", "action": "warn"}],
)
def test_regex_bad_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        RegexGuardrail(**kwargs)  # type: ignore[arg-type]


def test_fold_drops_case_and_accents_and_keeps_positions() -> None:
    folded, index = fold("Crème Straße")
    assert folded == "creme strasse"
    assert len(index) == len(folded)
    assert index[folded.index("ss")] == "Crème Straße".index("ß")


@pytest.mark.parametrize(
    "text",
    [
        "I'd like the creme brulee",
        "I'd like the CRÈME BRÛLÉE.",
        "Crème   brûlée, please",
        "une crème\nbrûlée",
    ],
)
def test_deny_list_is_case_accent_and_space_insensitive(text: str) -> None:
    assert DenyList(["Crème brûlée"]).check(text).action == "block"


@pytest.mark.parametrize("text", ["first class", "a bass guitar", "assassin", "passé"])
def test_deny_list_matches_whole_words_only(text: str) -> None:
    assert DenyList(["ass"]).check(text).action == "allow"


def test_deny_list_redacts_in_the_original_text() -> None:
    rail = DenyList(["darn", "heck"], action="redact", replacement="***")
    verdict = rail.check("Darn! What the HÉCK, darned thing.")
    assert verdict.text == "***! What the ***, darned thing."
    assert verdict.category == "deny_list"


def test_deny_list_prefers_the_longer_phrase() -> None:
    rail = DenyList(["bomb", "bomb threat"], action="redact", replacement="[x]")
    assert rail.check("a bomb threat today").text == "a [x] today"


def test_deny_list_needs_words() -> None:
    with pytest.raises(UsageError):
        DenyList(["", "  "])
