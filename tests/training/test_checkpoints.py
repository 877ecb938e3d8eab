"""A job keeps its best K checkpoints by valid reward, and always the latest to resume from."""

from __future__ import annotations

from pathlib import Path

from rft_trainer_gateway.checkpoints import (
    best_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    prune,
    write_meta,
)


def make(root: Path, step: int, reward: float | None) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    write_meta(path, step, reward)
    return path


def test_prune_keeps_the_best_k_by_valid_reward_and_the_latest(tmp_path):
    for step, reward in ((10, 0.2), (20, 0.6), (30, 0.4), (40, 0.1)):
        make(tmp_path, step, reward)
    removed = prune(tmp_path, keep_best=2)
    assert sorted(removed) == ["checkpoint-10"]
    kept = [c.name for c in list_checkpoints(tmp_path)]
    assert kept == ["checkpoint-20", "checkpoint-30", "checkpoint-40"]
    best = best_checkpoint(list_checkpoints(tmp_path))
    assert best is not None and best.name == "checkpoint-20"
    assert [c.best for c in list_checkpoints(tmp_path)] == [True, False, False]


def test_a_checkpoint_without_its_meta_file_is_not_listed(tmp_path):
    make(tmp_path, 10, 0.5)
    (tmp_path / "checkpoint-20").mkdir()  # being written, or cut by a crash
    assert [c.name for c in list_checkpoints(tmp_path)] == ["checkpoint-10"]
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and latest.step == 10


def test_without_any_eval_the_best_is_the_latest(tmp_path):
    make(tmp_path, 5, None)
    make(tmp_path, 7, None)
    best = best_checkpoint(list_checkpoints(tmp_path))
    assert best is not None and best.name == "checkpoint-7"
