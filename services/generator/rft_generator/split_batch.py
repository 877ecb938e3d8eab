"""The batch runner behind ``rft split``: categorized + synthetic prompts in, step F's files out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rft_categorizer.categorized_file import record_from_line
from rft_generator.split import SplitItem, SplitResult, split_dataset
from rft_generator.split_export import write_split
from rft_schemas import CategorizedPrompt, SyntheticPrompt


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def _user_text(item: SplitItem) -> str:
    users = [m.text() for m in item.prompt.messages if m.role == "user"]
    return users[-1] if users else ""


def read_split_inputs(
    categorized_path: Path, synthetic_path: Path | None
) -> list[SplitItem]:
    """Real prompts (uncategorized ones under 'other') then accepted synthetic prompts."""
    items: list[SplitItem] = []
    with categorized_path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                value = json.loads(line)
                # step C's file puts the prompt's fields beside the topic; Kafka nests it
                record = (CategorizedPrompt.model_validate(value) if "prompt" in value
                          else record_from_line(value))
                items.append(SplitItem(record.prompt, "/".join(record.topic_path) or "other"))
    if synthetic_path is not None and synthetic_path.is_file():
        with synthetic_path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    synthetic = SyntheticPrompt.model_validate_json(line)
                    items.append(SplitItem(synthetic.prompt, "/".join(synthetic.topic_path)))
    seen: set[str] = set()
    unique = []
    for item in items:  # a prompt listed twice would sit on both sides
        if item.prompt.id not in seen:
            seen.add(item.prompt.id)
            unique.append(item)
    return unique


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
    """Split and write rft_prompts.train/valid.jsonl, the HF export and split_manifest.json.

    The leakage guard compares the user turns' embeddings (the text the embedder stores)."""
    items = read_split_inputs(categorized_path, synthetic_path)
    vectors = embedder.embed([_user_text(i) for i in items]) if items else np.zeros((0, 1),
                                                                                  np.float32)
    result = split_dataset(
        items, vectors, dataset, seed=seed, valid_fraction=valid_fraction,
        valid_real_only=valid_real_only, near_duplicate_cosine=near_duplicate_cosine,
    )
    return result, write_split(result, out_dir)
