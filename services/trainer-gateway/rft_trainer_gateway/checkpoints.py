"""A job's checkpoints: HF Trainer checkpoint dirs (resumable: optimizer and RNG state too),
each with a small ``rft_checkpoint.json`` saying its step and valid reward. The best K by valid
reward are kept, and always the latest, which a restarted job resumes from."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from rft_schemas import CheckpointInfo

META = "rft_checkpoint.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def write_meta(checkpoint: Path, step: int, valid_reward: float | None) -> None:
    (checkpoint / META).write_text(json.dumps({"step": step, "valid_reward": valid_reward}))


def list_checkpoints(root: Path) -> list[CheckpointInfo]:
    """Complete checkpoints, oldest first; the best by valid reward is marked."""
    found: list[CheckpointInfo] = []
    if not root.is_dir():
        return found
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if not match or not (path / META).is_file():
            continue  # being written, or cut short by a crash
        meta = json.loads((path / META).read_text())
        found.append(CheckpointInfo(name=path.name, step=int(match.group(1)), path=str(path),
                                    valid_reward=meta.get("valid_reward")))
    found.sort(key=lambda c: c.step)
    best = best_checkpoint(found)
    return [c.model_copy(update={"best": best is not None and c.name == best.name})
            for c in found]


def best_checkpoint(checkpoints: list[CheckpointInfo]) -> CheckpointInfo | None:
    """Highest valid reward (the later one on ties); the latest when none was evaluated."""
    scored = [c for c in checkpoints if c.valid_reward is not None]
    if scored:
        return max(scored, key=lambda c: (c.valid_reward, c.step))
    return checkpoints[-1] if checkpoints else None


def latest_checkpoint(root: Path) -> CheckpointInfo | None:
    checkpoints = list_checkpoints(root)
    return checkpoints[-1] if checkpoints else None


def prune(root: Path, keep_best: int) -> list[str]:
    """Delete all but the best ``keep_best`` by valid reward and the latest; the names deleted."""
    checkpoints = list_checkpoints(root)
    if not checkpoints:
        return []
    ranked = sorted((c for c in checkpoints if c.valid_reward is not None),
                    key=lambda c: (c.valid_reward, c.step), reverse=True)
    keep = {c.name for c in ranked[:keep_best]} | {checkpoints[-1].name}
    removed = []
    for checkpoint in checkpoints:
        if checkpoint.name not in keep:
            shutil.rmtree(checkpoint.path, ignore_errors=True)
            removed.append(checkpoint.name)
    return removed
