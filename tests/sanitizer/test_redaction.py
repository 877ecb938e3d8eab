"""Secrets and personal data: what is found, what is not, and the placeholders."""

from __future__ import annotations

import pytest

from rft_sanitizer.redaction import Redactor, luhn_valid


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
