"""Step F's files: the OpenAI RFT train/valid JSONL, a Hugging Face datasets export, the manifest.

OpenAI RFT reads one JSON object per line with ``messages`` (ending on a user turn) and
``tools``; every other top-level field is an item field graders reach as ``{{item.x}}``: here
``topic``, ``reference`` (what followed the prompt in the trace), ``lineage``, ``origin`` and the
prompt ``id``, plus the source record's own item fields.

The Hugging Face export is a directory ``datasets.load_dataset`` reads (JSON Lines per split and
a dataset card naming them). Rows differ in shape from one agent to another (tool schemas,
lineage), which Arrow cannot hold in one column type, so nested fields travel as JSON strings,
and ``prompt`` is the conversational column TRL reads (role and text of each message).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rft_generator.split import SplitItem, SplitResult
from rft_schemas.artifacts import HF_DATASET, SPLIT_MANIFEST, TRAIN_SPLIT, VALID_SPLIT
from rft_schemas.grader_item import grader_item

TRAIN_FILE = TRAIN_SPLIT.name
VALID_FILE = VALID_SPLIT.name
MANIFEST_FILE = SPLIT_MANIFEST.name
HF_DIR = HF_DATASET.name

_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.jsonl
  - split: validation
    path: validation.jsonl
---
# {dataset}: RFT prompts

Prompts cut from production agent traces (origin `trace`) and validated synthetic prompts
(origin `synthetic`), split by topic with a leakage guard (see split_manifest.json).

- `prompt`: the conversation up to the user turn to answer (role and text of each message)
- `messages_json`, `tools_json`: the exact OpenAI-format messages and tools
- `topic`, `origin`, `id`; `reference_json` (what followed in the trace), `lineage_json`

Train: {train} rows. Validation: {valid} rows.
"""


def rft_record(item: SplitItem) -> dict[str, Any]:
    """One line of an OpenAI RFT dataset file."""
    prompt = item.prompt
    # The row is the grader's item as-is: the same fields the dry run and the reward read.
    record = grader_item(prompt)
    record.update({
        "topic": item.topic,
        "lineage": prompt.lineage.model_dump(mode="json", exclude_none=True),
        "origin": prompt.origin,
        "id": prompt.id,
    })
    if not record["tools"]:
        del record["tools"]  # OpenAI's RFT rows omit tools when the agent has none
    return record


def hf_record(item: SplitItem) -> dict[str, Any]:
    prompt = item.prompt
    return {
        "id": prompt.id,
        "prompt": [{"role": m.role, "content": m.text()} for m in prompt.messages],
        "topic": item.topic,
        "origin": prompt.origin,
        "messages_json": json.dumps(
            [m.model_dump(mode="json", exclude_none=True) for m in prompt.messages]
        ),
        "tools_json": json.dumps(
            [t.model_dump(mode="json", exclude_none=True) for t in prompt.tools or []]
        ),
        "reference_json": json.dumps(
            [m.model_dump(mode="json", exclude_none=True) for m in prompt.reference]
        ),
        "lineage_json": prompt.lineage.model_dump_json(exclude_none=True),
    }


def _write_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def write_split(result: SplitResult, out_dir: Path) -> dict[str, Path]:
    """Write every step-F file into ``out_dir``; returns name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    hf_dir = out_dir / HF_DIR
    hf_dir.mkdir(exist_ok=True)
    paths = {
        TRAIN_FILE: out_dir / TRAIN_FILE,
        VALID_FILE: out_dir / VALID_FILE,
        MANIFEST_FILE: out_dir / MANIFEST_FILE,
        HF_DIR: hf_dir,
    }
    _write_lines(paths[TRAIN_FILE], (rft_record(i) for i in result.train))
    _write_lines(paths[VALID_FILE], (rft_record(i) for i in result.valid))
    _write_lines(hf_dir / "train.jsonl", (hf_record(i) for i in result.train))
    _write_lines(hf_dir / "validation.jsonl", (hf_record(i) for i in result.valid))
    (hf_dir / "README.md").write_text(_CARD.format(
        dataset=result.manifest.dataset, train=len(result.train), valid=len(result.valid)
    ), encoding="utf-8")
    paths[MANIFEST_FILE].write_text(result.manifest.model_dump_json(indent=2), encoding="utf-8")
    return paths


def hf_data_files(hf_dir: Path) -> dict[str, str]:
    """``data_files`` for ``datasets.load_dataset("json", data_files=...)``."""
    return {"train": str(hf_dir / "train.jsonl"), "validation": str(hf_dir / "validation.jsonl")}


def split_items(pairs: Sequence[tuple[Any, str]]) -> list[SplitItem]:
    return [SplitItem(prompt, topic) for prompt, topic in pairs]
