"""Which user turns only close a conversation, so that a prompt must not end on them.

Real traces end on thanks and goodbyes, and user simulators end with control markers (tau2's
``###STOP###``, ``###TRANSFER###``, ``###OUT-OF-SCOPE###``). A turn is closing when, once the
markers are gone, every sentence of it is a courtesy; one sentence that asks or tells something
makes it meaningful. A bare "yes" answers a question and stays meaningful.

Courtesies are short and whole: "thank you so much for your help", "I appreciate it", "that's
all, bye". What a thanks is for is a handful of words (at most five) with no request word
(please, now, could, can, need, ...) among them, so "Thanks for checking, now please cancel
ABC123" and "I appreciate your help could you cancel the booking" are requests. A question mark
anywhere makes a turn meaningful ("Thanks for the info?").

That list is the cheap test (:data:`PHRASES`); :mod:`rft_sanitizer.closing_semantic` holds the
semantic one, similarity to closing exemplars with the embedder's model. Either is a
:class:`ClosingTest`; where a prompt may end is decided in :mod:`rft_sanitizer.extraction`,
which puts structure first.
"""

from __future__ import annotations

import re
from typing import Protocol

from rft_schemas.conversation import ContentPart, Message

# User simulators' control markers: tau-bench writes ###STOP###; tau2 adds ###TRANSFER### and
# ###OUT-OF-SCOPE###. Simulated users also write them cut short ("...information.###TRANSFER"
# in tau2's airline runs), so the closing hashes are optional. They are never shown to a model.
_MARKER = re.compile(r"###[A-Z](?:[A-Z_-]*[A-Z])?#{0,3}")
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|\n+")
# Clauses of a sentence: "thanks, bye", "thanks and goodbye", "thanks but cancel it".
_CLAUSE = re.compile(r"[,;]|\s+(?:and|but)\s+")
# Words that turn the thing thanked for into a request: "thanks for that, now please cancel".
# ("thanks for all you did" and "thank you for helping me so quickly" stay courtesies.)
_REQUEST_WORDS = (
    r"please|pls|now|next|then|also|and|but|can|could|would|will|should|shall|must"
    r"|need|needs|want|wants|wanna|let|lets|let's|i'd|i'll|i'm|i've|why|when|where|how|which"
)
_COURTESY = re.compile(
    r"""^(?:
        (?:ok(?:ay)?|great|perfect|awesome|cool|wonderful|excellent|alright|all\ right|
           sounds\ (?:good|great|perfect)|got\ it|that'?s\ (?:great|perfect|all|it|everything))
          (?:[\s,]+(?:then|thanks?|thank\ you))?
        |(?:great|perfect|ok(?:ay)?|awesome|no)?[\s,]*
         (?:thanks?|thank\ you|thx|ty|cheers|merci|gracias|danke)
         (?:\s+(?:so|very)\s+much|\s+a\ lot|\s+again)?
         (?:\s+(?:for|with)(?:\s+(?!(?:REQUEST)\b)[\w']+){1,5})?
        |(?:i\ )?(?:really\ |truly\ )?appreciate\ (?:it|that|this|you|all\ (?:of\ )?this)
        |(?:i\ )?(?:really\ |truly\ )?appreciate\ (?:your|the|you|all)
         (?:\s+(?!(?:REQUEST)\b)[\w']+){1,5}
        |have\ a\ (?:great|good|nice|wonderful|lovely|fantastic)\ (?:day|evening|night|weekend|one)
        |(?:good\ ?)?bye(?:\ bye)?|goodbye|see\ you(?:\ later)?|take\ care|talk\ (?:to\ you\ )?later
        |no,?\ that'?s\ (?:all|it|everything)(?:\ (?:i\ needed|for\ (?:now|today)))?
        |that'?s\ all(?:\ i\ needed|\ for\ (?:now|today))?
    )$""".replace("REQUEST", _REQUEST_WORDS),
    re.VERBOSE,
)
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")


class ClosingTest(Protocol):
    """Whether a user turn's text (control markers removed) only closes the conversation."""

    name: str

    def __call__(self, text: str) -> bool: ...


def has_marker(text: str) -> bool:
    return "###" in text and _MARKER.search(text) is not None


def count_markers(text: str) -> int:
    return len(_MARKER.findall(text))


def strip_markers(text: str) -> str:
    return _MARKER.sub(" ", text).strip()


def without_markers(message: Message) -> Message | None:
    """The message with its control markers removed; None when nothing else was in it."""
    content = message.content
    if isinstance(content, str):
        text = strip_markers(content)
        return message.model_copy(update={"content": text}) if text else None
    if not content:
        return message
    parts = [
        p.model_copy(update={"text": strip_markers(p.text)}) if p.text else p
        for p in content
    ]
    kept: list[ContentPart] = [p for p in parts if p.text or p.type != "text"]
    return message.model_copy(update={"content": kept}) if kept else None


def is_closing_turn(text: str) -> bool:
    """True when the text only closes the conversation (courtesies, control markers) or holds
    no words at all (punctuation, control characters)."""
    remaining = strip_markers(text)
    if not remaining:
        return True
    if "?" in remaining or "\uff1f" in remaining:
        return False  # a question asks for something, whatever thanks come with it
    for sentence in _SENTENCE_END.split(remaining):
        normalized = _normalized(sentence)
        if not normalized or _COURTESY.match(normalized):
            continue
        # "Thanks, bye!" is two courtesies; "Thanks, but check my bag" is not one
        clauses = (_normalized(clause) for clause in _CLAUSE.split(normalized))
        if not all(not c or _COURTESY.match(c) for c in clauses):
            return False
    return True


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _normalized(text: str) -> str:
    text = " ".join(_TRIM.sub("", text.lower().replace("\u2019", "'")).split())
    return text.replace("!", "").replace(".", "")


class PhraseTest:
    """The cheap test: the phrase list above, no model."""

    name = "phrases"

    def __call__(self, text: str) -> bool:
        return is_closing_turn(text)


PHRASES: ClosingTest = PhraseTest()
