"""The semantic closing test: is a user turn nearer to closing exemplars than to requests?

A turn (control markers removed) is embedded with the embedder's model, all-MiniLM-L6-v2, run
from the ONNX export the embedder writes once (model.onnx, tokenizer.json, meta.json; the
graph holds pooling and normalization), so the sanitizer needs onnxruntime and numpy but never
torch. A sentence's score is its highest cosine similarity to the closing exemplars below minus
its highest to the meaningful ones; a turn whose every sentence scores above ``margin`` only
closes. The phrase list decides first (what it finds closing is closing); a turn with a
question mark, or with a specific (a link, an address, a number), asks or tells something and
is never closing; one with no words is.

The exemplars are written here, not taken from any trace set; ``margin`` was chosen on
examples/data/closing_turns.jsonl (see benchmarks/closing_turns.py, which prints precision
and recall with the margin chosen in cross-validation as well). The specifics guard was added
after a false alarm on that set ("The video URL is https://..."), so it is not tested out of
sample there.

Without the export (or onnxruntime), ``closing_test="auto"`` falls back to the phrase list.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rft_sanitizer.closing import (
    PHRASES,
    ClosingTest,
    is_closing_turn,
    split_sentences,
    strip_markers,
)
from rft_sanitizer.memo import BoundedMemo
from rft_sanitizer.settings import SanitizerSettings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

EXPORT_GLOB = "*all-MiniLM-L6-v2-*"
INSTALL_HINT = (
    "pip install onnxruntime numpy, and export the model once with the embedder "
    "(python -m rft_embedder, or rft embed), or set RFT_SANITIZER_CLOSING_TEST=phrases"
)

# Courtesies, sign-offs and "nothing more" answers, across domains and registers.
CLOSING_EXEMPLARS = (
    "Thank you so much for your help!",
    "Thanks, that's everything I needed.",
    "Great, thanks a lot. Have a nice day!",
    "Perfect, thank you. Goodbye.",
    "No, that's all for today. Thanks!",
    "Nope, nothing else. Bye!",
    "I appreciate your assistance with this.",
    "Thanks for your patience, you've been very helpful.",
    "You too, take care!",
    "Cheers, talk to you later.",
    "Awesome, thanks for sorting that out.",
    "Okay, thanks for letting me know. I'll try again another time.",
    "Thanks anyway, I'll call back later.",
    "That's very helpful, thanks for the explanation.",
    "Many thanks, have a wonderful evening.",
    "Got it, thank you for checking.",
    "Thank you for the information, I appreciate it.",
    "Alright, I think I'm all set. Thanks again!",
    "Thanks for the tips, I'll keep them in mind.",
    "Great job, that worked. Thank you!",
)

# Requests, answers to the agent's questions, confirmations and information it needs.
MEANINGFUL_EXEMPLARS = (
    "Yes, please go ahead and make the change.",
    "Yes, I confirm. Please proceed with the cancellation.",
    "Please use the credit card ending in 4242 for the payment.",
    "My user ID is jane_doe_1234 and the order number is W123456.",
    "I need to change my flight to an earlier date.",
    "Can you check the status of my order?",
    "I'd like the vegetarian option, please.",
    "Sure, my email address is on the account.",
    "Actually, could you also add a second bag to the booking?",
    "No, I don't want to cancel. I want a refund for the delay.",
    "Thanks for that. Now please book the cheapest option.",
    "Turn on the lights in the living room.",
    "Send the report to my manager by Friday.",
    "The error still happens when I run the tests.",
    "That's not right, the amount should be 120 dollars.",
    "Yes, that's the one. The reason is a change of plans.",
    "Find me hotels in Lisbon for next weekend.",
    "I'm not sure about the exact date, but it was last Tuesday.",
    "Please transfer me to a human agent.",
    "Let's go with the second option.",
    "It's fascinating how quickly this field is changing these days.",
    "Wow, those prices are really high for this neighbourhood.",
)

# Chosen by 5-fold cross-validation on the labelled set (every fold chose 0.029 to 0.044).
DEFAULT_MARGIN = 0.03
# Specifics a closing turn has no use for: a link, an address, a number (an id, a date, an
# amount). A turn carrying one tells the agent something ("The video URL is https://...").
_SPECIFIC = re.compile(r"https?://|www\.|\S@\S+\.\w|\d")


def asks_or_tells(text: str) -> bool:
    """A question mark or a specific: never a closing turn, whatever its words are like."""
    return "?" in text or "\uff1f" in text or _SPECIFIC.search(text) is not None


class ExemplarTest:
    """Closing when a turn is more like a closing exemplar than a meaningful one."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], Vectors],
        name: str,
        margin: float = DEFAULT_MARGIN,
        closing: Sequence[str] = CLOSING_EXEMPLARS,
        meaningful: Sequence[str] = MEANINGFUL_EXEMPLARS,
    ) -> None:
        self.name = name
        self.margin = margin
        self._embed = embed
        self._closing = embed(list(closing))
        self._meaningful = embed(list(meaningful))
        # Closing turns repeat across a run's traces ("Thanks, bye!"): score each text once.
        self._scores: BoundedMemo[str, float] = BoundedMemo(max_size=65_536)

    def score(self, text: str) -> float:
        """The lowest of the turn's sentences' scores: one sentence that asks or tells
        something ("Please continue with the booking. Thanks!") makes the turn meaningful."""
        known = self._scores.get(text)
        if known is None:
            sentences = [s for s in split_sentences(text) if any(c.isalnum() for c in s)]
            vectors = self._embed(sentences or [text])
            per_sentence = (self._closing @ vectors.T).max(axis=0) - (
                self._meaningful @ vectors.T
            ).max(axis=0)
            known = float(per_sentence.min())
            self._scores.put(text, known, 1)
        return known

    def __call__(self, text: str) -> bool:
        remaining = strip_markers(text)
        if not remaining.strip() or is_closing_turn(remaining):
            return True  # no words, or a courtesy the phrase list knows
        if asks_or_tells(remaining):
            return False
        return self.score(remaining) > self.margin


class OnnxSentenceEncoder:
    """A sentence-transformers model as the embedder exports it, run by ONNX Runtime."""

    def __init__(self, export_dir: Path) -> None:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._np = np
        meta: dict[str, Any] = json.loads((export_dir / "meta.json").read_text())
        self._names: list[str] = list(meta["input_names"])
        self._pad = int(meta["pad_id"])
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=int(meta["max_seq_length"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one short text at a time: threads only contend
        self._session = ort.InferenceSession(
            str(export_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, texts: Sequence[str]) -> Vectors:
        np = self._np
        encodings = self._tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        types = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            size = len(encoding.ids)
            ids[row, :size] = encoding.ids
            mask[row, :size] = 1
            types[row, :size] = encoding.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out: Vectors = self._session.run(None, {n: feeds[n] for n in self._names})[0]
        return out


def find_export(settings: SanitizerSettings) -> Path | None:
    if settings.closing_model_dir is not None:
        return settings.closing_model_dir
    from rft_runtime.llm.settings import default_cache_dir

    found = sorted(
        (p.parent for p in default_cache_dir("onnx").glob(f"{EXPORT_GLOB}/meta.json")),
        key=lambda p: p.stat().st_mtime,
    )
    return found[-1] if found else None


def load_closing_test(settings: SanitizerSettings) -> ClosingTest:
    """The closing test the settings name; ``auto`` falls back to the phrase list."""
    if settings.closing_test == "phrases":
        return PHRASES
    export = find_export(settings)
    try:
        if export is None or not (export / "model.onnx").is_file():
            raise FileNotFoundError(f"no ONNX export of all-MiniLM-L6-v2 found ({export})")
        encoder = OnnxSentenceEncoder(export)
    except (ImportError, OSError, ValueError, KeyError) as exc:
        if settings.closing_test == "embedding":
            raise RuntimeError(f"closing_test=embedding: {exc}; {INSTALL_HINT}") from exc
        log.info("closing test: phrase list (%s)", exc)
        return PHRASES
    return ExemplarTest(encoder, name=f"embedding:{export.name}")
