"""synthetic_prompts.jsonl, written from the job store (the one source of truth), atomically."""

from __future__ import annotations

import os
from pathlib import Path

from rft_generator.job_store import JobStore


def write_synthetic_prompts(store: JobStore, job_id: str, path: Path) -> int:
    """Every accepted prompt of the job, one SyntheticPrompt per line; returns the count."""
    accepted = store.accepted(job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        for synthetic in accepted:
            out.write(synthetic.model_dump_json(exclude_none=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
    return len(accepted)
