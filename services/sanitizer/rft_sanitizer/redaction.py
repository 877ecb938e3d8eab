"""Secrets and personal data in prompt and reference text, replaced by typed placeholders.

A record keeps one numbering: the same e-mail address is ``<EMAIL_1>`` wherever it appears in
the record's messages, a second address ``<EMAIL_2>``. Placeholders hold no quote or backslash,
so replacing inside a JSON string (tool-call arguments) keeps it valid JSON.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from rft_schemas.conversation import Message

_KEY = re.compile(
    r"""
    -----BEGIN[A-Z ]*PRIVATE\ KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE\ KEY-----
    |\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}
    |\b(?:
        sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}
        |gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}
        |xox[abprs]-[A-Za-z0-9-]{10,}
        |(?:AKIA|ASIA)[0-9A-Z]{16}
        |AIza[0-9A-Za-z_-]{35}
        |hf_[A-Za-z0-9]{30,}
        |glpat-[A-Za-z0-9_-]{20,}
        |(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}
    )""",
    re.VERBOSE,
)
_KEY_HINTS = ("-----BEGIN", "eyJ", "sk-", "hp_", "ho_", "hu_", "hs_", "hr_", "github_pat_",
              "xox", "AKIA", "ASIA", "AIza", "hf_", "glpat-", "_live_", "_test_")
# A value named as a secret: "API key is ABC123", "password: hunter22", "auth_token=...".
_NAMED_SECRET = re.compile(
    r"""(?P<prefix>(?i:\b(?:api[_\ -]?key|access[_\ -]?token|auth[_\ -]?token|bearer
        |secret(?:[_\ -]?key)?|password|passwd|(?:session|auth(?:entication)?)[_\ -]?cookie
        |client[_\ -]?secret)["'`]?\s*(?:is|as|:|=)?\s*["'`]?))(?P<value>[A-Za-z0-9_\-./+=]{8,})""",
    re.VERBOSE,
)
_NAMED_SECRET_HINTS = ("key", "token", "bearer", "secret", "passw", "cookie")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Starts on a digit so the regex engine can skip ahead to digits.
_CARD = re.compile(r"\d(?<![\d.]\d)(?:[\ -]?\d){12,18}(?![\d.])")
_PHONE = re.compile(
    r"""
    \+(?<![\w+]\+)\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,3}(?!\d)
    |\((?<!\d\()\d{3}\)\s?\d{3}[\s.-]\d{4}(?!\d)
    |\d(?<![\d.-]\d)\d{2}[.-]\d{3}[.-]\d{4}(?![\d.-])
    """,
    re.VERBOSE,
)
_NAMED_PHONE = re.compile(
    r"""(?P<prefix>(?i:\b(?:(?:phone|mobile|cell|tel|telephone|whatsapp)(?:\s+(?:number|no\.?|\#))?
        |my\s+number)(?:\s+is)?[\s:]*))(?P<value>\d{10,11})(?!\d)""",
    re.VERBOSE,
)
_NAMED_PHONE_HINTS = ("phone", "mobile", "cell", "tel", "whatsapp", "number")


_KEY_HINT = re.compile("|".join(re.escape(hint) for hint in _KEY_HINTS))
_NAMED_SECRET_HINT = re.compile("|".join(_NAMED_SECRET_HINTS))
_NAMED_PHONE_HINT = re.compile("|".join(_NAMED_PHONE_HINTS))
# Every card and phone pattern holds three digits in a row, or digits around a separator.
_DIGIT_RUN = re.compile(r"\d\d\d|\d[\s.()-]\d")
# Texts known to hold nothing to redact, by (length, hash): a bounded LRU memo, so the texts
# that repeat stay while one-off texts pass through.
_CLEAN_TEXTS: OrderedDict[tuple[int, int], None] = OrderedDict()
_CLEAN_TEXTS_MAX = 32_768

# Placeholder kinds, as the report counts them.
EMAIL, PHONE, CARD, SECRET = "email", "phone", "card", "secret"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_like(digits: str) -> bool:
    # Issuer prefixes of the card networks; a Luhn-valid 13-19 digit run without one is more
    # often an order number or a millisecond timestamp than a card.
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    first, two = digits[0], int(digits[:2])
    return first in "456" or two in (34, 37) or 22 <= two <= 27 or two in (30, 36, 38, 35)


@dataclass
class Redactor:
    """One record's redaction: its placeholder numbering and counts."""

    counts: Counter[str] = field(default_factory=Counter)
    _numbers: dict[tuple[str, str], str] = field(default_factory=dict)
    _per_kind: Counter[str] = field(default_factory=Counter)

    def placeholder(self, kind: str, value: str) -> str:
        self.counts[kind] += 1
        key = (kind, value)
        existing = self._numbers.get(key)
        if existing is None:
            self._per_kind[kind] += 1
            existing = f"<{kind.upper()}_{self._per_kind[kind]}>"
            self._numbers[key] = existing
        return existing

    def _secret(self, match: re.Match[str]) -> str:
        return self.placeholder(SECRET, match.group(0))

    def _named_secret(self, match: re.Match[str]) -> str:
        value = match.group("value")
        # "the password is forgotten": a bare word is no secret; keys and tokens carry digits.
        if len(value) < 20 and not any(c.isdigit() for c in value):
            return match.group(0)
        return match.group("prefix") + self.placeholder(SECRET, value)

    def _email(self, match: re.Match[str]) -> str:
        return self.placeholder(EMAIL, match.group(0))

    def _card(self, match: re.Match[str]) -> str:
        digits = match.group(0).replace(" ", "").replace("-", "")
        return self.placeholder(CARD, digits) if _card_like(digits) else match.group(0)

    def _phone(self, match: re.Match[str]) -> str:
        return self.placeholder(PHONE, re.sub(r"\D", "", match.group(0)))

    def _named_phone(self, match: re.Match[str]) -> str:
        return match.group("prefix") + self.placeholder(PHONE, match.group("value"))

    def text(self, value: str) -> str:
        # Real traces repeat most of their text (one system prompt, one tool result format
        # for thousands of records): a text already scanned clean is not scanned again.
        key = (len(value), hash(value))
        if key in _CLEAN_TEXTS:
            _CLEAN_TEXTS.move_to_end(key)
            return value
        found = sum(self.counts.values())
        # Each pattern runs only where a cheap test says it can match.
        if _KEY_HINT.search(value):
            value = _KEY.sub(self._secret, value)
        lowered = value.lower()
        if _NAMED_SECRET_HINT.search(lowered):
            value = _NAMED_SECRET.sub(self._named_secret, value)
        if "@" in value:
            value = _EMAIL.sub(self._email, value)
        if _DIGIT_RUN.search(value):
            value = _CARD.sub(self._card, value)
            value = _PHONE.sub(self._phone, value)
            if _NAMED_PHONE_HINT.search(lowered):
                value = _NAMED_PHONE.sub(self._named_phone, value)
        if sum(self.counts.values()) == found:
            _CLEAN_TEXTS[key] = None
            if len(_CLEAN_TEXTS) > _CLEAN_TEXTS_MAX:
                _CLEAN_TEXTS.popitem(last=False)
        return value

    def message(self, message: Message) -> Message:
        update: dict[str, object] = {}
        if isinstance(message.content, str):
            new = self.text(message.content)
            if new != message.content:
                update["content"] = new
        elif isinstance(message.content, list):
            parts = [
                p.model_copy(update={"text": self.text(p.text)}) if p.text else p
                for p in message.content
            ]
            if any(a is not b for a, b in zip(parts, message.content, strict=True)):
                update["content"] = parts
        if message.tool_calls:
            calls = []
            changed = False
            for call in message.tool_calls:
                arguments = self.text(call.function.arguments)
                if arguments != call.function.arguments:
                    changed = True
                    function = call.function.model_copy(update={"arguments": arguments})
                    call = call.model_copy(update={"function": function})
                calls.append(call)
            if changed:
                update["tool_calls"] = calls
        return message.model_copy(update=update) if update else message


def contains_sensitive(value: str) -> bool:
    """Whether the text holds anything :class:`Redactor` would replace."""
    probe = Redactor()
    probe.text(value)
    return bool(probe.counts)
