"""Where a conversation is cut into prompts: every RFT prompt ends on a user turn.

- ``last_meaningful_user`` (default): one prompt, up to the last user turn that does more than
  close the conversation; what follows it up to the next user turn is the reference.
- ``per_user_turn``: one prompt per meaningful user turn, each carrying the turns before it.
- ``strict``: the seed's literal rule; the trace must end on a user turn and is the prompt whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from rft_sanitizer.checks import Problem
from rft_sanitizer.closing import is_closing_turn
from rft_sanitizer.settings import ExtractionPolicy
from rft_schemas.conversation import Message
from rft_schemas.traces import RejectionReason


@dataclass(frozen=True)
class Cut:
    """A prompt cut at ``index`` (the user turn it ends on) and the reference after it."""

    index: int
    prompt: list[Message]
    reference: list[Message]


def extract_prompts(
    messages: list[Message], policy: ExtractionPolicy, whole: bool = False
) -> list[Cut] | Problem:
    """The prompts to cut; ``whole`` takes the conversation as one prompt (BFCL questions)."""
    if policy is ExtractionPolicy.STRICT or whole:
        if messages and messages[-1].role == "user":
            return [Cut(len(messages) - 1, messages, [])]
        last = messages[-1].role if messages else "nothing"
        return Problem(
            RejectionReason.NOT_ENDING_ON_USER,
            f"the trace ends on {last}, not on a user turn"
            + (" (a prompt record is taken whole)" if whole else " (strict policy)"),
            f"messages[{len(messages) - 1}]",
        )
    meaningful = [
        i for i, m in enumerate(messages) if m.role == "user" and not is_closing_turn(m.text())
    ]
    if not meaningful:
        return Problem(
            RejectionReason.MISSING_USER_MESSAGE,
            "no user turn asks for anything: each only closes the conversation "
            "(thanks, goodbye, control markers) or holds no words",
        )
    cuts = meaningful if policy is ExtractionPolicy.PER_USER_TURN else meaningful[-1:]
    return [Cut(i, messages[: i + 1], _reference(messages, i)) for i in cuts]


def _reference(messages: list[Message], index: int) -> list[Message]:
    end = index + 1
    while end < len(messages) and messages[end].role != "user":
        end += 1
    return messages[index + 1 : end]
