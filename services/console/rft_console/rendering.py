"""Templates and what every page shares: autoescaped Jinja2, trace text made visible, steps.

Trace text is untrusted (a trace can hold ``<script>`` or terminal escape sequences). Every
template is autoescaped (whatever its name), and the ``trace`` filter also shows control
characters as ``\\x1b``-style text instead of passing them to the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# C0 (but tab and newline), DEL, C1, and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(value: Any) -> str:
    """``value`` as text whose control characters read as escapes (``\\x1b[31m``)."""
    return _CONTROL.sub(lambda m: _escape(m.group()), str(value))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True)
class Step:
    letter: str
    name: str
    path: str | None  # None: not in the console yet (the CLI has it)


STEPS: tuple[Step, ...] = (
    Step("A", "Sanitize", "sanitize"),
    Step("B", "Topics", "topics"),
    Step("C", "Review", "review"),
    Step("D", "Coverage", "coverage"),
    Step("E", "Generate", "generate"),
    Step("F", "Split", "split"),
    Step("G", "Grader", "grader"),
    Step("H", "Dry run", "dryrun"),
    Step("I", "Train", "train"),
    Step("J", "Results", "train"),  # a job's results: from its row in I
)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, not only *.html: nothing reaches a page unescaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["trace"] = visible
    env.globals["steps"] = STEPS
    return env


class Pages:
    def __init__(self) -> None:
        self.env = environment()

    def render(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("dataset", None)
        context.setdefault("current", None)
        html = self.env.get_template(template).render(request=request, **context)
        return HTMLResponse(html, status_code=status_code, headers=headers)

    def fragment(self, template: str, **context: Any) -> str:
        """A part of a page (no layout), as a live update sends it."""
        return self.env.get_template(template).render(**context)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"
