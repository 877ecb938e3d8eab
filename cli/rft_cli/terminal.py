"""What reaches the user's terminal: text from records made inert, and errors as one line.

A rejected record is whatever a client sent: its bytes may hold terminal escape sequences
(retitle the window, clear the screen, rewrite earlier lines) and Rich markup (``[/]`` raises
MarkupError). They are shown, never obeyed.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.text import Text

# Characters a terminal acts on rather than prints: C0 (ESC, BEL, CR, BS...), DEL and C1 (CSI
# is U+009B on terminals that take 8-bit controls), and the bidi overrides that reorder what
# follows them on screen ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(char: str) -> str:
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if char in _BIDI_CONTROLS:
        return f"\\u{code:04x}"
    return char


def inert(text: str) -> str:
    """``text`` with every control character written out as its escape: ESC as ``\\x1b``, a
    newline as ``\\n``. A backslash already in the text is left alone, so the escapes read as
    they would in the JSON the record came from."""
    return "".join(map(_visible, text))


def inert_text(text: str) -> Text:
    """``text`` inert for Rich: controls written out, and markup shown as typed."""
    return Text(inert(text))


def fail(message: str) -> NoReturn:
    """Say what is wrong in one line on stderr and exit 2, the status of a usage error."""
    typer.echo(f"Error: {inert(message)}", err=True)
    raise typer.Exit(2)
