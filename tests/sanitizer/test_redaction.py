"""Secrets and personal data: what is found, what is not, and the placeholders; tool-call
arguments redacted value by value so they stay valid JSON."""

from __future__ import annotations

import json

import orjson
import pytest

from rft_sanitizer.core import sanitize
from rft_sanitizer.redaction import Redactor, luhn_valid
from rft_schemas.conversation import Message
from tests.sanitizer.chats import SYSTEM, accepted, assistant, conversation, user


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ops@example.co.uk today", "write to <EMAIL_1> today"),
        ("card 4111 1111 1111 1111 exp 12/27", "card <CARD_1> exp 12/27"),
        ("card 5555-5555-5555-4444", "card <CARD_1>"),
        ("call +44 20 7946 0958 now", "call <PHONE_1> now"),
        ("call (415) 555-0199", "call <PHONE_1>"),
        ("my phone number is 4155550199", "my phone number is <PHONE_1>"),
        ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123", "key <SECRET_1>"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token <SECRET_1>"),
        ("AKIAIOSFODNN7EXAMPLE", "<SECRET_1>"),
        ("The API key is 'ABC123XYZ'.", "The API key is '<SECRET_1>'."),
        ('{"password": "hunter22hunter"}', '{"password": "<SECRET_1>"}'),
        ("Authorization: Bearer abcdef123456789", "Authorization: Bearer <SECRET_1>"),
        # phones as people write them, and secrets assigned to compound names
        ("call 415 555 2671 today", "call <PHONE_1> today"),
        ("call 415-555-2671.", "call <PHONE_1>."),
        ("call 1-415-555-2671", "call <PHONE_1>"),
        ("call +1 (415) 555-2671", "call <PHONE_1>"),
        ("call +14155552671", "call <PHONE_1>"),
        ("Paris office +33 1 42 68 53 00", "Paris office <PHONE_1>"),
        ("+33 (0)1 42 68 53 00", "<PHONE_1>"),
        ("mobile 07700 900123", "mobile <PHONE_1>"),
        ("London 020 7946 0958", "London <PHONE_1>"),
        ("Paris 01 42 68 53 00", "Paris <PHONE_1>"),
        ("session_token=abcd1234efgh5678", "session_token=<SECRET_1>"),
        ("export MY_APP_SECRET='x9Kq2LmP7vRt4WzA'", "export MY_APP_SECRET='<SECRET_1>'"),
        ('{"stripe_key": "abcd1234efgh5678ijkl"}', '{"stripe_key": "<SECRET_1>"}'),
    ],
)
def test_finds_and_types_each_kind(text, expected):
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails the Luhn check
        "sent at 1785486592000 ms",  # a timestamp, no card network prefix
        "reservation EHGLP3, flight HAT156, credit_card_5832574",
        "price $1,234.56 on 2024-05-17 at 3.14159265358979",
        "order number 1234567890",
        "the password is forgotten",  # a word, not a secret
        "user id emma_kim_9957",
        # number shapes that are not phones or cards, and keys that are not secrets
        "Range 100-200-3000",
        "the ranges 200-300-4000 and 100 200 3000",
        "scores 100 200 300 400 500",
        "+5 10 15 20 25 30",  # a list of increments, not +CC and a number
        "on 2024-05-03 at 10:30:15, or 03/05/2024 14:00",
        "2024 05 03",
        "price $1,299.99, EUR 1 299 000 or 415.55",
        "order ABC123, flight HAT156, ticket 0012345678",
        "version 1.2.3, v10.20.30 and 2.0.0-rc.1",
        # IP addresses are left alone: they name hosts in tool traces far more often than
        # people, and redacting them would break the calls that use them
        "connect to 192.168.100.200 or 10.0.0.1:8080",
        "ISBN 978-0-306-40615-7",
        "sort_key=created_at_desc",
        "cache_key=release_2024_05_03",
        "12 415 555 2671",  # a list of numbers, not a phone
    ],
)
def test_leaves_look_alikes_alone(text):
    redactor = Redactor()
    assert redactor.text(text) == text
    assert not redactor.counts


def test_same_value_same_placeholder_across_texts():
    redactor = Redactor()
    assert redactor.text("a@x.io, b@x.io") == "<EMAIL_1>, <EMAIL_2>"
    assert redactor.text("again a@x.io") == "again <EMAIL_1>"
    assert redactor.counts == {"email": 3}


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def _redacted_arguments(arguments: str) -> tuple[str, Redactor]:
    redactor = Redactor()
    message = Message.model_validate(assistant(calls=[("c", "lookup", arguments)]))
    (call,) = redactor.message(message).tool_calls or []
    return call.function.arguments, redactor


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"card_number": 4111111111111111}', {"card_number": "<CARD_1>"}),
        ('{"api_key": 12345678901}', {"api_key": "<SECRET_1>"}),
        ('{"phone": 4155550199, "n": 2}', {"phone": "<PHONE_1>", "n": 2}),
        ('{"password": "hunter22hunter", "user": "ana"}',
         {"password": "<SECRET_1>", "user": "ana"}),
        ('{"session_token": "abcd1234efgh5678"}', {"session_token": "<SECRET_1>"}),
        ('{"to": ["a@x.io", "b@x.io"], "card": {"pan": "4111 1111 1111 1111", "cvv": 123}}',
         {"to": ["<EMAIL_1>", "<EMAIL_2>"], "card": {"pan": "<CARD_1>", "cvv": 123}}),
        ('{"note": "call +44 20 7946 0958", "ok": true, "x": null, "f": 1.5}',
         {"note": "call <PHONE_1>", "ok": True, "x": None, "f": 1.5}),
    ],
)
def test_tool_call_arguments_redact_to_valid_json_with_the_same_keys(arguments, expected):
    redacted, redactor = _redacted_arguments(arguments)
    parsed = orjson.loads(redacted)  # raises when the redaction broke the JSON
    assert parsed == expected
    assert list(parsed) == list(orjson.loads(arguments))
    assert redactor.counts


def test_clean_tool_call_arguments_are_left_byte_for_byte():
    arguments = '{"id":  "ABC123", "seats": [12, 14], "when": "2024-05-03 10:30"}'
    redacted, redactor = _redacted_arguments(arguments)
    assert redacted == arguments and not redactor.counts


def test_card_in_arguments_through_sanitize_keeps_valid_json(trace, policy):
    arguments = '{"card_number": 4111111111111111, "api_key": 12345678901}'
    record = conversation(
        SYSTEM, user("Pay for booking ABC123 with my usual card please"),
        assistant(calls=[("c", "lookup", arguments)]))
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    redacted = prompt.reference[0].tool_calls[0].function.arguments
    assert json.loads(redacted) == {"card_number": "<CARD_1>", "api_key": "<SECRET_1>"}
