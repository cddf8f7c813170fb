"""PIIGuardrail on real formats, and on texts full of ordinary numbers that must pass."""

from __future__ import annotations

import sys

import pytest

from agentkit.errors import ModelNotAvailableError, UsageError
from agentkit.guardrails import GuardrailContext, PIIGuardrail, _presidio
from agentkit.guardrails._pii_detect import iban_valid, luhn_valid
from agentkit.guardrails.pii import PII_ENTITIES

PII = PIIGuardrail()


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Mail ada.lovelace@example.co.uk today.", "Mail <EMAIL> today."),
        ("Contact: j_doe+news@mail-server.example.org", "Contact: <EMAIL>"),
        ("Call +44 20 7946 0958 now", "Call <PHONE> now"),
        ("Mon numéro : +33 6 12 34 56 78.", "Mon numéro : <PHONE>."),
        ("Mon numéro : 06 12 34 56 78.", "Mon numéro : <PHONE>."),
        ("US office (415) 555-0132, fax 415.555.0100", "US office <PHONE>, fax <PHONE>"),
        ("Ring +1-202-555-0147 or 0049 30 1234 5678", "Ring <PHONE> or <PHONE>"),
        ("Berlin office: 030 1234567", "Berlin office: <PHONE>"),
        ("call me on 0612345678 tomorrow", "call me on <PHONE> tomorrow"),
        ("Visa 4111 1111 1111 1111 exp 12/27", "Visa <CREDIT_CARD> exp 12/27"),
        ("Amex 3782-822463-10005.", "Amex <CREDIT_CARD>."),
        ("card=5500000000000004;", "card=<CREDIT_CARD>;"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN <IBAN> please"),
        ("Pay DE89370400440532013000.", "Pay <IBAN>."),
        ("FR14 2004 1010 0505 0001 3M02 606 is it", "<IBAN> is it"),
        ("from 192.168.1.20 at noon", "from <IP_ADDRESS> at noon"),
        ("v6 2001:db8::8a2e:370:7334 and fe80::1.", "v6 <IP_ADDRESS> and <IP_ADDRESS>."),
    ],
)
def test_pii_is_redacted_with_typed_placeholders(text: str, redacted: str) -> None:
    verdict = PII.check(text)
    assert verdict.action == "redact"
    assert verdict.text == redacted
    assert verdict.category == "pii"


@pytest.mark.parametrize(
    "text",
    [
        "Order #123456789012 shipped on 2024-05-17, total $1,299.00.",
        "Order number 4111111111111112 (not a valid card: Luhn fails).",
        "Your order no. 4111 1111 1111 1111 shipped (Luhn-valid, but an order number).",
        "Reference 4521-7789-12, invoice 2024-000123, tracking 1Z999AA10123456784.",
        "Meeting on 05.12.2024 at 10:30:15 in room 301; version 1.2.3.",
        "Population 8,336,817; ISBN 978-3-16-148410-0; SKU 00012345678.",
        "Prices: 1 299,00 EUR, 12 500 000 people, pi is 3.14159265358979.",
        "Dates 2024/05/17 and 17/05/2024; 1.000.000 units; ratio 16:9; std::vector.",
        "Account GB82 WEST 1234 5698 7654 33 is a typo (mod-97 fails).",
        "Scores 999.1.1.1 and 256.300.1.1 are not addresses.",
    ],
)
def test_ordinary_numbers_pass(text: str) -> None:
    assert PII.check(text).action == "allow"


def test_block_mode_names_the_kinds_never_the_values() -> None:
    verdict = PIIGuardrail(action="block").check("ada@example.com, +44 20 7946 0958")
    assert verdict.action == "block"
    assert verdict.reason == "personal data: EMAIL, PHONE"
    assert "ada" not in verdict.reason


def test_entities_and_placeholder_are_configurable() -> None:
    rail = PIIGuardrail(["EMAIL"], placeholder="[{entity}]")
    verdict = rail.check("ada@example.com +44 20 7946 0958")
    assert verdict.text == "[EMAIL] +44 20 7946 0958"


def test_context_is_optional_and_ignored() -> None:
    assert PII.check("ada@example.com", GuardrailContext("tool_result")) == PII.check(
        "ada@example.com"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"entities": ["PERSON"]}, {"backend": "spacy"}, {"action": "warn"}, {"entities": ["SSN"]}],
)
def test_bad_configuration(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        PIIGuardrail(**kwargs)  # type: ignore[arg-type]


def test_checksums() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("NL91ABNA0417164300") and not iban_valid("NL91ABNA0417164301")
    assert not iban_valid("GB82")


def test_presidio_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_presidio, "_ANALYZER", None)
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    with pytest.raises(ModelNotAvailableError, match=r"agentkit\[guardrails\]"):
        PIIGuardrail(backend="presidio").check("My name is Olivia Bennett.")
    # Without names or addresses to look for, presidio is not needed.
    assert PIIGuardrail(["EMAIL"], backend="presidio").check("a@b.example").text == "<EMAIL>"


@pytest.mark.model
def test_presidio_finds_names_places_and_addresses() -> None:
    rail = PIIGuardrail(backend="presidio")
    assert rail.in_thread
    verdict = rail.check(
        "My name is John Smith, I live at 42 Baker Street, London; mail john@example.com."
    )
    assert verdict.text == "My name is <PERSON>, I live at <ADDRESS>, London; mail <EMAIL>."
    with_places = PIIGuardrail([*PII_ENTITIES, "PERSON", "LOCATION"], backend="presidio")
    assert with_places.check("Sarah Connor moved from Paris to Berlin.").text == (
        "<PERSON> moved from <LOCATION> to <LOCATION>."
    )
    assert PIIGuardrail(backend="presidio").check("I have 2 dogs on the way home.").action == (
        "allow"
    )
    only_people = PIIGuardrail(["PERSON"], backend="presidio")
    assert only_people.check("Dr. Maria Garcia flew to Madrid.").text == (
        "Dr. <PERSON> flew to Madrid."
    )
