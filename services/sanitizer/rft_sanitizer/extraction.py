"""Where a conversation is cut into prompts: every RFT prompt ends on a user turn.

- ``last_meaningful_user`` (default): one prompt, up to the last user turn that may end a
  prompt (:class:`CutPoints`); what follows it up to the next such turn is the reference.
- ``per_user_turn``: one prompt per user turn that may end a prompt, each carrying the turns
  before it.
- ``strict``: the seed's literal rule; the trace must end on a user turn and is the prompt whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rft_sanitizer.checks import Problem
from rft_sanitizer.closing import PHRASES, ClosingTest
from rft_sanitizer.settings import ExtractionPolicy
from rft_schemas.conversation import Message
from rft_schemas.traces import RejectionReason


@dataclass(frozen=True)
class Cut:
    """A prompt cut at ``index`` (the user turn it ends on) and the reference after it."""

    index: int
    prompt: list[Message]
    reference: list[Message]


@dataclass
class CutPoints:
    """Which user turns may end a prompt: structure first, then the closing test.

    Structure: a turn the harness wrote (command output, demonstrations) never ends a prompt. A
    user simulator ends its conversation with a control marker (``ended_by_user``); the user
    turn it ended on, with nothing after it, is one the agent never acted on, so the trace
    holds no reply to it: it does not end a prompt whatever it says ("Yes, please transfer me
    to a human agent. ###STOP###"). Any other user turn ends a prompt unless the closing test
    finds it only closes the conversation ("Thanks, you too!", which an agent may answer).

    Verdicts are taken lazily and kept: the closing test may run a model, and the default
    policy only needs the last few turns.
    """

    messages: list[Message]
    closing: ClosingTest = PHRASES
    harness_turns: frozenset[int] = frozenset()
    ended_by_user: bool = False
    _verdicts: dict[int, bool] = field(default_factory=dict)
    _closing_verdicts: dict[int, bool] = field(default_factory=dict)

    def ends_prompt(self, i: int) -> bool:
        known = self._verdicts.get(i)
        if known is None:
            known = self._verdicts[i] = self._decide(i)
        return known

    def _decide(self, i: int) -> bool:
        message = self.messages[i]
        if message.role != "user" or i in self.harness_turns:
            return False
        if self.ended_by_user and i == len(self.messages) - 1:
            return False
        return not self._closes(i)

    def last(self) -> int | None:
        for i in range(len(self.messages) - 1, -1, -1):
            if self.ends_prompt(i):
                return i
        return None

    def all(self) -> list[int]:
        return [i for i in range(len(self.messages)) if self.ends_prompt(i)]

    def only_closing_from(self, start: int) -> bool:
        """Whether only closing user turns are left from ``start``: tool calls still open
        before them end the trace (the reference's business, not a broken chain). What they
        say decides, not where they stand: calls left open before "now cancel it" are broken
        even when the simulator stopped right after it."""
        return all(
            self.messages[i].role == "user" and self._closes(i)
            for i in range(start, len(self.messages))
        )

    def _closes(self, i: int) -> bool:
        if i not in self._closing_verdicts:
            self._closing_verdicts[i] = self.closing(self.messages[i].text())
        return self._closing_verdicts[i]


def extract_prompts(
    messages: list[Message],
    policy: ExtractionPolicy,
    whole: bool = False,
    cut_points: CutPoints | None = None,
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
    points = cut_points or CutPoints(messages)
    if policy is ExtractionPolicy.PER_USER_TURN:
        cuts = points.all()
    else:
        last_cut = points.last()
        cuts = [] if last_cut is None else [last_cut]
    if not cuts:
        return Problem(
            RejectionReason.MISSING_USER_MESSAGE,
            "no user turn asks for anything: each only closes the conversation "
            "(thanks, goodbye, control markers), holds no words, or was written by the harness",
        )
    return [Cut(i, messages[: i + 1], _reference(messages, i, points)) for i in cuts]


def _reference(messages: list[Message], index: int, points: CutPoints) -> list[Message]:
    # The reference runs to the next user turn a person wrote; harness turns (command output
    # as user turns) are part of the agent's continuation.
    end = index + 1
    while end < len(messages) and not (
        messages[end].role == "user" and end not in points.harness_turns
    ):
        end += 1
    return messages[index + 1 : end]
