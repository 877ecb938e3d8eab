"""Step F's batch functions: categorized + synthetic prompts in, the split out (``rft split``
writes its files; the generator service stores it, rft_generator.split_service)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rft_generator.split import SplitItem, SplitResult, split_dataset
from rft_generator.split_export import write_split
from rft_schemas import CategorizedPrompt, SyntheticPrompt
from rft_schemas.categorized_file import record_from_line


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def _user_text(item: SplitItem) -> str:
    users = [m.text() for m in item.prompt.messages if m.role == "user"]
    return users[-1] if users else ""


def split_inputs(
    categorized: Iterable[CategorizedPrompt], synthetic: Iterable[SyntheticPrompt]
) -> list[SplitItem]:
    """Real prompts (uncategorized ones under 'other') then accepted synthetic prompts, each
    prompt once: what ``rft split`` reads from files and the generator service from its
    categorizer and its job store."""
    items = [SplitItem(record.prompt, "/".join(record.topic_path) or "other")
             for record in categorized]
    items += [SplitItem(s.prompt, "/".join(s.topic_path)) for s in synthetic]
    seen: set[str] = set()
    unique = []
    for item in items:  # a prompt listed twice would sit on both sides
        if item.prompt.id not in seen:
            seen.add(item.prompt.id)
            unique.append(item)
    return unique


def read_split_inputs(
    categorized_path: Path, synthetic_path: Path | None
) -> list[SplitItem]:
    """:func:`split_inputs` of step C's file and step E's (when there is one)."""
    categorized: list[CategorizedPrompt] = []
    with categorized_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                value = json.loads(line)
                # step C's file puts the prompt's fields beside the topic; Kafka nests it
                categorized.append(CategorizedPrompt.model_validate(value) if "prompt" in value
                                   else record_from_line(value))
    synthetic: list[SyntheticPrompt] = []
    if synthetic_path is not None and synthetic_path.is_file():
        with synthetic_path.open(encoding="utf-8") as lines:
            synthetic = [SyntheticPrompt.model_validate_json(line) for line in lines
                         if line.strip()]
    return split_inputs(categorized, synthetic)


def split_items(
    items: Sequence[SplitItem],
    embedder: TextEmbedder,
    dataset: str,
    *,
    seed: int = 0,
    valid_fraction: float = 0.1,
    valid_real_only: bool = True,
    near_duplicate_cosine: float = 0.95,
) -> SplitResult:
    """Step F on ``items``: the batch function ``rft split`` and the generator service call.

    The leakage guard compares the user turns' embeddings (the text the embedder stores)."""
    vectors = embedder.embed([_user_text(i) for i in items]) if items else np.zeros((0, 1),
                                                                                  np.float32)
    return split_dataset(
        items, vectors, dataset, seed=seed, valid_fraction=valid_fraction,
        valid_real_only=valid_real_only, near_duplicate_cosine=near_duplicate_cosine,
    )


def split_files(
    categorized_path: Path,
    synthetic_path: Path | None,
    out_dir: Path,
    embedder: TextEmbedder,
    dataset: str,
    *,
    seed: int = 0,
    valid_fraction: float = 0.1,
    valid_real_only: bool = True,
    near_duplicate_cosine: float = 0.95,
) -> tuple[SplitResult, dict[str, Path]]:
    """Split and write rft_prompts.train/valid.jsonl, the HF export and split_manifest.json."""
    result = split_items(
        read_split_inputs(categorized_path, synthetic_path), embedder, dataset, seed=seed,
        valid_fraction=valid_fraction, valid_real_only=valid_real_only,
        near_duplicate_cosine=near_duplicate_cosine,
    )
    return result, write_split(result, out_dir)
