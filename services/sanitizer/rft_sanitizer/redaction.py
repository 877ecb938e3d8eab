"""Secrets and personal data in prompt and reference text, replaced by typed placeholders.

A record keeps one numbering: the same e-mail address is ``<EMAIL_1>`` wherever it appears in
the record's messages, a second address ``<EMAIL_2>``. Tool-call arguments are redacted value by
value (:meth:`Redactor.arguments`): a key names what its value is (``{"api_key": 12345678901}``),
a number that is a card, phone or secret becomes its placeholder string, and the result is
re-serialized, so it is always valid JSON with the same keys.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from rft_sanitizer.memo import BoundedMemo
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
# An assignment to a compound name ending in a secret word: "session_token=...",
# "MY_APP_SECRET: '...'", "db_password=..."; the value must look opaque (see _opaque).
_ASSIGNED_SECRET = re.compile(
    r"""(?P<prefix>\b[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*[_-](?i:token|secret|key|password|passwd)
        \b["'`]?\s*[:=]\s*["'`]?)(?P<value>[A-Za-z0-9_\-./+=]{12,})""",
    re.VERBOSE,
)
# The cheap test for it, on lowered text: the name's end and the assignment.
_ASSIGNED_HINT = re.compile(r"[_-](?:token|secret|key|passw(?:or)?d)\b[\"'`]?\s*[:=]")
_SEGMENT = re.compile(r"[^_\-./+=]+")
_NAMED_SECRET_HINTS = ("key", "token", "bearer", "secret", "passw", "cookie")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Starts on a digit so the regex engine can skip ahead to digits.
_CARD = re.compile(r"\d(?<![\d.]\d)(?:[\ -]?\d){12,18}(?![\d.])")
# Phones as people write them; _phone_like then checks the digit count (10-15) and refuses
# ranges and number lists. Separators are one space, dot or hyphen, never a line break. Each
# branch starts on the character it consumes first (the regex engine then skips ahead to
# those), and a look-behind refuses a start inside a word, a dotted or hyphenated number, or a
# list of numbers ("12 415 555 2671"); the end must not run on into more digits either.
_PHONE = re.compile(
    r"""
    # international: +CC, an optional "(0)" or area in parentheses, then 2-6 groups
    # (+33 1 42 68 53 00, +1 (415) 555-2671, +14155552671); atomic, so no backtracking
    \+(?<![\w+]\+)\d{1,3}(?>(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,4}){2,6})(?!\d)
    # North American: (415) 555-2671, 1-415-555-2671, 1 (415) 555-2671, 415 555 2671,
    # 415-555-2671, 415.555.2671; one separator throughout
    |(?:\((?<![\w.+-]\()|1(?<![\w.+-]1)(?<!\d[ ,]1)[ .-]\()
     \d{3}\)\ ?\d{3}[ .-]\d{4}(?!\w|[.-]\d|\ \d)
    |(?:1(?<![\w.+-]1)(?<!\d[ ,]1)[ .-]\d|\d(?<![\w.+-]\d)(?<!\d[ ,]\d))
     \d{2}(?P<nanp>[ .-])\d{3}(?P=nanp)\d{4}(?!\w|[.-]\d|\ \d)
    # trunk-0 national numbers: UK 07700 900123, 020 7946 0958, 0161 496 0000;
    # French 01 42 68 53 00
    |0(?<![\w.+-]0)(?<!\d[ ,]0)
     (?:\d{4}[ -]\d{6}|\d{2}[ -]\d{4}[ -]\d{4}|\d{3}[ -]\d{3}[ -]\d{4}
        |\d(?P<fr>[ .-])\d{2}(?:(?P=fr)\d{2}){3})(?!\w|[.-]\d|\ \d)
    """,
    re.VERBOSE,
)
_DIGITS = re.compile(r"\d+")
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
# What a card, phone or named phone needs before it is replaced: ten digits or more, one to
# the next at most two of " .()-" apart ("+1 (415) 555-2671"). Texts with shorter numbers
# (dates, amounts, ids) skip those three patterns, whose callbacks would keep every match.
_TEN_DIGITS = re.compile(r"\d(?:[ .()-]{0,2}\d){9}")
# Texts known to hold nothing to redact, by (length, hash): a bounded LRU memo, so the texts
# that repeat stay while one-off texts pass through (32,768 of them).
_CLEAN_TEXTS: BoundedMemo[tuple[int, int], bool] = BoundedMemo(max_size=32_768)

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


def _phone_like(text: str) -> bool:
    groups = _DIGITS.findall(text)
    digits = "".join(groups)
    if not 10 <= len(digits) <= 15:
        return False
    if text.startswith("+"):
        groups = groups[1:]  # the country code is no group of the number
    elif digits[0] != "0":
        # North American area code and exchange start on 2-9: "100-200-3000" is no phone
        national = digits[1:] if len(digits) == 11 else digits
        if len(national) != 10 or national[0] in "01" or national[3] in "01":
            return False
    return not _number_list(groups)


def _number_list(groups: list[str]) -> bool:
    """Round numbers (100-200-3000) or an even progression of equal-width groups (+5 10 15 20
    25 30, 01 02 03 04 05): a range or a list, not a phone."""
    if len(groups) >= 2 and all(len(g) >= 3 and g.endswith("00") for g in groups):
        return True
    if len(groups) < 3 or len({len(g) for g in groups}) != 1:
        return False
    values = [int(g) for g in groups]
    steps = {b - a for a, b in pairwise(values)}
    return len(steps) == 1 and steps.pop() > 0


def _opaque(value: str) -> bool:
    # A generated token mixes letters and digits within one run ("abcd1234efgh5678", a UUID,
    # base64); "created_at_desc" or "release_2024_05_03" are names and dates.
    return any(
        any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)
        for segment in _SEGMENT.findall(value)
    )


def _finite(literal: str) -> float:
    # 1e400 parses as inf, which no JSON can write back (orjson, like the checks, refuses it)
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"{literal[:40]} is out of range")
    return value


def _no_constant(literal: str) -> float:
    raise ValueError(f"{literal} is not JSON")


def _key_names(key: str) -> tuple[str, ...]:
    """A JSON key as the patterns read a name: as written, and in words ("phoneNumber",
    "phone_number" -> "phone Number", "phone number")."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    words = snake.replace("_", " ").replace("-", " ")
    return tuple(dict.fromkeys((key, snake, words)))


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

    def _assigned_secret(self, match: re.Match[str]) -> str:
        value = match.group("value")
        # a sentence's full stop is not part of the secret
        secret = value.rstrip(".")
        if len(secret) < 12 or not _opaque(secret):
            return match.group(0)
        return match.group("prefix") + self.placeholder(SECRET, secret) + value[len(secret):]

    def _email(self, match: re.Match[str]) -> str:
        return self.placeholder(EMAIL, match.group(0))

    def _card(self, match: re.Match[str]) -> str:
        digits = match.group(0).replace(" ", "").replace("-", "")
        return self.placeholder(CARD, digits) if _card_like(digits) else match.group(0)

    def _phone(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if not _phone_like(text):
            return text
        return self.placeholder(PHONE, "".join(_DIGITS.findall(text)))

    def _named_phone(self, match: re.Match[str]) -> str:
        return match.group("prefix") + self.placeholder(PHONE, match.group("value"))

    def text(self, value: str) -> str:
        # Real traces repeat most of their text (one system prompt, one tool result format
        # for thousands of records): a text already scanned clean is not scanned again.
        key = (len(value), hash(value))
        if _CLEAN_TEXTS.get(key):
            return value
        found = sum(self.counts.values())
        # Each pattern runs only where a cheap test says it can match.
        if _KEY_HINT.search(value):
            value = _KEY.sub(self._secret, value)
        lowered = value.lower()
        if _NAMED_SECRET_HINT.search(lowered):
            value = _NAMED_SECRET.sub(self._named_secret, value)
            if _ASSIGNED_HINT.search(lowered):
                value = _ASSIGNED_SECRET.sub(self._assigned_secret, value)
        if "@" in value:
            value = _EMAIL.sub(self._email, value)
        if _DIGIT_RUN.search(value) and _TEN_DIGITS.search(value):
            value = _CARD.sub(self._card, value)
            value = _PHONE.sub(self._phone, value)
            if _NAMED_PHONE_HINT.search(lowered):
                value = _NAMED_PHONE.sub(self._named_phone, value)
        if sum(self.counts.values()) == found:
            _CLEAN_TEXTS.put(key, True, size=1)
        return value

    def arguments(self, arguments: str) -> str:
        """Tool-call arguments (a JSON object), redacted value by value and re-serialized.

        Patterns run on the raw text turned ``{"card_number": 4111111111111111}`` into
        ``{"card_number": <CARD_1>}``, which is no JSON; here a number that must go becomes its
        placeholder as a string. Text that is not JSON (the checks reject it before redaction)
        is redacted as text. Unchanged arguments are returned as they were, byte for byte.
        """
        if not (
            _DIGIT_RUN.search(arguments) or "@" in arguments or _KEY_HINT.search(arguments)
            or _NAMED_SECRET_HINT.search(arguments.lower())
        ):
            return arguments
        try:
            parsed = json.loads(arguments, parse_float=_finite, parse_constant=_no_constant)
        except ValueError:
            return self.text(arguments)
        found = sum(self.counts.values())
        redacted = self._json_value(parsed, None)
        if sum(self.counts.values()) == found:
            return arguments
        return json.dumps(redacted, ensure_ascii=False, allow_nan=False)

    def _json_value(self, value: object, key: str | None) -> object:
        # Keys are kept as they are: they are the tool's parameter names.
        if isinstance(value, dict):
            return {k: self._json_value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            # items of a list are named by the list's key: {"phones": [...]}
            return [self._json_value(item, key) for item in value]
        if isinstance(value, bool) or not isinstance(value, str | int):
            # true/false/null and floats: a card, phone or key is never written as a float
            return value
        text = str(value)
        if key is not None:
            named = self._named_by_key(key, text)
            if named is not None:
                return named
        redacted = self.text(text)
        return value if redacted == text else redacted

    def _named_by_key(self, key: str, text: str) -> str | None:
        """The value's redaction when its key names it a secret or a phone ({"api_key": ...},
        {"phone_number": ...}), as the same value after that name would be in text."""
        # Each pattern's name words must lie in the key itself (the match starts the probe), so
        # a key without any of their hints cannot name the value.
        lowered = key.lower()
        if not (_NAMED_SECRET_HINT.search(lowered) or _NAMED_PHONE_HINT.search(lowered)):
            return None
        return self._named_by_any_key(key, text)

    def _named_by_any_key(self, key: str, text: str) -> str | None:
        """:meth:`_named_by_key` without its gate (the long way, for the tests)."""
        for name in _key_names(key):
            probe = f"{name}: {text}"
            for pattern, replace in (
                (_NAMED_SECRET, self._named_secret),
                (_ASSIGNED_SECRET, self._assigned_secret),
                (_NAMED_PHONE, self._named_phone),
            ):
                match = pattern.fullmatch(probe)
                if match is None:
                    continue
                replaced = replace(match)
                if replaced != probe:
                    return replaced[len(match.group("prefix")) :]
        return None

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
                arguments = self.arguments(call.function.arguments)
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
