"""The final split on real drone prompts: stratified, reproducible, real-only valid, leak-free."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import numpy as np
import pytest
from numpy.typing import NDArray

from rft_embedder import Embedder
from rft_generator.split import SplitItem, split_dataset
from rft_generator.split_export import (
    HF_DIR,
    MANIFEST_FILE,
    TRAIN_FILE,
    VALID_FILE,
    hf_data_files,
    write_split,
)
from rft_generator.split_screen import render_split_screen
from rft_schemas import CategorizedPrompt, Message, SanitizedPrompt, SplitManifest

NO_GUARD = 1.01  # no cosine reaches it: the split as drawn, before the leakage guard


def items_of(categorized: list[CategorizedPrompt]) -> list[SplitItem]:
    return [SplitItem(c.prompt, "/".join(c.topic_path)) for c in categorized]


def vectors_of(items: list[SplitItem], embedder: Embedder) -> NDArray[np.float32]:
    return embedder.embed([i.prompt.messages[-1].text() for i in items])


def variant(
    prompt: SanitizedPrompt, suffix: str, origin: str, text: str | None = None
) -> SanitizedPrompt:
    user = text if text is not None else prompt.messages[-1].text()
    return prompt.model_copy(update={
        "id": f"{prompt.id}-{suffix}",
        "origin": origin,
        "messages": [*prompt.messages[:-1], Message(role="user", content=user)],
    })


@pytest.fixture(scope="module")
def real(categorized: list[CategorizedPrompt], embedder: Embedder
         ) -> tuple[list[SplitItem], NDArray[np.float32]]:
    items = items_of(categorized)
    return items, vectors_of(items, embedder)


def test_each_topic_gives_its_share_to_valid(real: tuple[list[SplitItem], NDArray[np.float32]]
                                             ) -> None:
    items, vectors = real
    result = split_dataset(items, vectors, "drone", seed=7, near_duplicate_cosine=NO_GUARD)
    counts = result.manifest.counts
    assert counts["valid"] == {"drone/camera": 2, "drone/flight": 9}  # round(10% of 16 and 87)
    assert counts["train"] == {"drone/camera": 14, "drone/flight": 78}
    assert len(result.train) + len(result.valid) == 103


def test_same_seed_same_split_whatever_the_input_order(
    real: tuple[list[SplitItem], NDArray[np.float32]]
) -> None:
    items, vectors = real
    first = split_dataset(items, vectors, "drone", seed=3).manifest.assignments
    order = list(range(len(items)))
    random.Random(0).shuffle(order)
    shuffled = split_dataset([items[i] for i in order], vectors[order], "drone", seed=3)
    assert shuffled.manifest.assignments == first
    other = split_dataset(items, vectors, "drone", seed=4).manifest.assignments
    assert other != first


def test_valid_holds_only_real_traces_by_default(
    real: tuple[list[SplitItem], NDArray[np.float32]], embedder: Embedder
) -> None:
    items, vectors = real
    synthetic = [SplitItem(variant(i.prompt, "syn", "synthetic", f"Drone request {n}: hover "
                                   f"at {n} meters then report the wind speed"), i.topic)
                 for n, i in enumerate(items[:30])]
    all_items = items + synthetic
    all_vectors = np.vstack([vectors, vectors_of(synthetic, embedder)])
    result = split_dataset(all_items, all_vectors, "drone", seed=0)
    assert {i.prompt.origin for i in result.valid} == {"trace"}
    assert result.manifest.sources["train"]["synthetic"] == 30
    mixed = split_dataset(all_items, all_vectors, "drone", seed=0, valid_real_only=False,
                          near_duplicate_cosine=NO_GUARD)
    sizes: dict[str, int] = {}
    for item in all_items:
        sizes[item.topic] = sizes.get(item.topic, 0) + 1
    assert len(mixed.valid) == sum(round(0.1 * n) for n in sizes.values())
    assert "synthetic" in mixed.manifest.sources["valid"]


def test_planted_near_duplicates_end_on_one_side_and_every_move_is_recorded(
    real: tuple[list[SplitItem], NDArray[np.float32]], embedder: Embedder
) -> None:
    items, vectors = real
    drawn = split_dataset(items, vectors, "drone", seed=11, near_duplicate_cosine=NO_GUARD)
    in_valid = [i for i in drawn.valid][:6]
    # Near-copies of valid prompts: three real (may join valid), three synthetic (may not).
    planted = [SplitItem(variant(i.prompt, "copy", "trace" if n < 3 else "synthetic",
                                 i.prompt.messages[-1].text() + " please"), i.topic)
               for n, i in enumerate(in_valid)]
    all_items = items + planted
    all_vectors = np.vstack([vectors, vectors_of(planted, embedder)])
    threshold = 0.95
    result = split_dataset(all_items, all_vectors, "drone", seed=11,
                           near_duplicate_cosine=threshold)
    side = result.manifest.assignments
    for original, copy in zip(in_valid, planted, strict=True):
        assert side[original.prompt.id] == side[copy.prompt.id]
    for copy in planted[3:]:
        assert side[copy.prompt.id] == "train"  # synthetic never enters valid
    rows = {i.prompt.id: r for r, i in enumerate(all_items)}
    train = all_vectors[[rows[i.prompt.id] for i in result.train]]
    valid = all_vectors[[rows[i.prompt.id] for i in result.valid]]
    assert float((train @ valid.T).max()) < threshold
    # The same draw without the guard leaks: the moves above are what fixed it.
    unguarded = split_dataset(all_items, all_vectors, "drone", seed=11,
                              near_duplicate_cosine=NO_GUARD)
    leaky_train = all_vectors[[rows[i.prompt.id] for i in unguarded.train]]
    leaky_valid = all_vectors[[rows[i.prompt.id] for i in unguarded.valid]]
    assert float((leaky_train @ leaky_valid.T).max()) >= threshold
    moves = result.manifest.leakage_moves
    assert moves and all(m.cosine >= threshold for m in moves)
    changed = {p for p, s in side.items() if unguarded.manifest.assignments[p] != s}
    assert changed == {m.prompt_id for m in moves}


def test_files_are_rft_shaped_and_load_with_hugging_face_datasets(
    real: tuple[list[SplitItem], NDArray[np.float32]], tmp_path: Path
) -> None:
    items, vectors = real
    result = split_dataset(items, vectors, "drone", seed=1)
    paths = write_split(result, tmp_path)
    lines = [json.loads(x) for x in paths[TRAIN_FILE].read_text().splitlines()]
    assert len(lines) == len(result.train)
    first = lines[0]
    assert first["messages"][-1]["role"] == "user"
    assert first["tools"][0]["type"] == "function"
    assert first["topic"] in {"drone/camera", "drone/flight"}
    assert first["lineage"]["dataset"] == "drone" and "reference" in first
    assert len(paths[VALID_FILE].read_text().splitlines()) == len(result.valid)
    manifest = SplitManifest.model_validate_json(paths[MANIFEST_FILE].read_text())
    assert manifest.assignments == result.manifest.assignments
    loaded = datasets.load_dataset("json", data_files=hf_data_files(tmp_path / HF_DIR))
    assert loaded["train"].num_rows == len(result.train)
    assert loaded["validation"].num_rows == len(result.valid)
    row = loaded["train"][0]
    assert row["prompt"][-1]["role"] == "user" and json.loads(row["tools_json"])
    from_card = datasets.load_dataset(str(tmp_path / HF_DIR))
    assert from_card["validation"].num_rows == len(result.valid)


def test_screen_shows_before_after_sources_and_split(
    real: tuple[list[SplitItem], NDArray[np.float32]], embedder: Embedder
) -> None:
    items, vectors = real
    extra = [SplitItem(variant(items[0].prompt, f"s{n}", "synthetic", text), "drone/camera")
             for n, text in enumerate([
                 "Take a burst of photos of the lake from above",
                 "Switch the camera to night mode and record the sunset",
                 "Zoom the camera in on the red car and snap a picture",
             ])]
    result = split_dataset(items + extra, np.vstack([vectors, vectors_of(extra, embedder)]),
                           "drone", seed=0)
    screen = render_split_screen(result.manifest)
    assert "drone/camera" in screen and "15.5%  → 17.9%" in screen
    assert "Total: 103 → 106 (+2.9%)" in screen
    assert "Synthetic:" in screen and "3 (2.8%)" in screen
    train, valid = len(result.train), len(result.valid)
    assert f"Train/Valid Split: {train} / {valid}" in screen


def test_a_dataset_too_small_for_the_fraction_still_holds_one_prompt_out(
    real: tuple[list[SplitItem], NDArray[np.float32]]
) -> None:
    """Training needs a valid split: per-topic rounding of 10% of 4 prompts gives none."""
    items, vectors = real
    small = split_dataset(items[:4], vectors[:4], "drone", seed=0, near_duplicate_cosine=NO_GUARD)
    assert len(small.valid) == 1 and len(small.train) == 3
    again = split_dataset(items[:4], vectors[:4], "drone", seed=0,
                          near_duplicate_cosine=NO_GUARD)
    assert again.manifest.assignments == small.manifest.assignments
