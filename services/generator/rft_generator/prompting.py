"""What the generator asks the LLM, and how an answer becomes a user turn (or a failure reason).

The LLM writes only the new user turn. The system prompt and ``tools`` of the synthetic prompt
are copied from a seed example, so the prompt is valid for the same agent the traces came from.
Small models wrap the request in lead-ins ("Here's a new request:"), quotes and numbering, and
stop mid-sentence at ``max_tokens``: all of that is cut here, and what cannot be read as one
request is a counted failure, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rft_runtime.llm import LLMSettings
from rft_schemas import GenerationFailure, GenerationRequest, Message, SanitizedPrompt, ToolSpec

SYSTEM = (
    "You write realistic requests that users send to an AI assistant. "
    "Answer with the new request only: one or two sentences, no explanation."
)

SERVED_MAX_TOKENS: int = GenerationRequest.model_fields["max_tokens"].default
"""Tokens per candidate on a served endpoint: the contract's default (256), what the service
and every API caller get. A model that follows SYSTEM stops far sooner."""
LOCAL_MAX_TOKENS = 64
"""Tokens per candidate on the local SmolLM2-135M (LLMSettings.runs_local_model): on a CPU each
token costs, the small model rambles past "one or two sentences", and ``parse_request`` keeps
the text up to the last full sentence of a cut answer; the local model gets more attempts per
prompt instead."""


def default_max_tokens(llm: LLMSettings | None = None) -> int:
    """The ``max_tokens`` a generation request gets when its caller names none: by backend."""
    return LOCAL_MAX_TOKENS if (llm or LLMSettings()).runs_local_model else SERVED_MAX_TOKENS


_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|sorry,|i cannot|i can't|i can not|i am unable|i'm unable|as an ai|"
    r"i apologi[sz]e|i won't|i will not)",
    re.IGNORECASE,
)
_LEAD_IN = re.compile(r"^[^\n\"]{0,80}(request|example|prompt|question)[^\n\"]{0,40}:\s*$",
                      re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_QUOTED = re.compile(r"[\"“]([^\"”]{12,})[\"”]")
_SENTENCE_END = re.compile(r"[.?!](?=\s|$)")


def user_text(prompt: SanitizedPrompt) -> str:
    """The prompt's last user turn: what a synthetic prompt replaces."""
    for message in reversed(prompt.messages):
        if message.role == "user":
            return str(message.text()).strip()
    return ""


def generation_messages(
    examples: Sequence[SanitizedPrompt], tools: Sequence[ToolSpec] | None
) -> list[Message]:
    """Chat messages asking for one new user request in the style of ``examples``."""
    system = next(
        (m.text().strip() for m in examples[0].messages if m.role in ("system", "developer")),
        "",
    ) if examples else ""
    lines = [f"{i}. {user_text(p)}" for i, p in enumerate(examples, start=1)]
    parts = []
    if system:
        parts.append(f"The assistant's instructions: {system[:600]}")
    if tools:
        parts.append("Its tools: " + ", ".join(t.function.name for t in tools[:30]))
    parts.append("Requests users sent to it:\n" + "\n".join(lines))
    parts.append(
        "Write one new request a user could send to this assistant, on the same topic, "
        "different from every request above."
    )
    return [
        Message(role="system", content=SYSTEM),
        Message(role="user", content="\n\n".join(parts)),
    ]


@dataclass(frozen=True)
class ParsedRequest:
    text: str | None
    failure: GenerationFailure | None = None
    detail: str = ""


def parse_request(answer: str | None, truncated: bool, max_chars: int) -> ParsedRequest:
    """The user request in an LLM answer, or why there is none."""
    raw = (answer or "").strip()
    if not raw:
        return ParsedRequest(None, GenerationFailure.EMPTY, "the model answered nothing")
    if _REFUSAL.search(raw):
        return ParsedRequest(None, GenerationFailure.REFUSAL, raw[:120])
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    lines = [line for line in lines if not _LEAD_IN.match(line)]
    if not lines:
        return ParsedRequest(None, GenerationFailure.WRONG_SHAPE, f"only a lead-in: {raw[:120]}")
    first = lines[0]
    quoted = _QUOTED.search(first)
    text = quoted.group(1) if quoted else _BULLET.sub("", first)
    text = text.strip().strip("\"'“”").strip()
    ended_inside = quoted is not None or len(lines) > 1
    if truncated and not ended_inside:
        # Cut at the last full sentence; a request with none was cut off mid-thought.
        ends = list(_SENTENCE_END.finditer(text))
        if not ends:
            return ParsedRequest(None, GenerationFailure.WRONG_SHAPE, f"cut off: {text[:120]}")
        text = text[: ends[-1].end()]
    if not text:
        return ParsedRequest(None, GenerationFailure.EMPTY, "nothing left after the lead-in")
    if len(text) > max_chars:
        return ParsedRequest(None, GenerationFailure.WRONG_SHAPE, f"{len(text)} chars")
    return ParsedRequest(text)


def synthetic_messages(example: SanitizedPrompt, request: str) -> list[Message]:
    """The example's system and developer turns, then the new request as the user turn."""
    head = [m for m in example.messages if m.role in ("system", "developer")]
    return [*head, Message(role="user", content=request)]
