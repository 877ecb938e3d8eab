"""``categorized_prompts.jsonl``: one self-contained line per prompt.

A line is the sanitized prompt record as it was (its item fields included, so a downstream
tool needs no other file) plus the categorization: ``topic`` (the leaf's ``a/b`` key),
``topic_path``, ``confidence``, ``method``, ``runner_up``, ``needs_review`` and the rest of
:class:`CategorizedPrompt`'s fields.

The format is a contract between step C (the categorizer writes it) and its readers (the
generator, ``rft split``), so it lives here: a reader needs neither the categorizer nor its
model dependencies to parse a line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rft_schemas.topics import CategorizedPrompt
from rft_schemas.traces import SanitizedPrompt

__all__ = ["categorized_line", "read_categorized", "record_from_line", "write_categorized"]

_CATEGORY_FIELDS = [
    f for f in CategorizedPrompt.model_fields if f not in ("prompt", "schema_version")
]


def categorized_line(record: CategorizedPrompt) -> dict[str, Any]:
    line: dict[str, Any] = record.prompt.model_dump(mode="json", exclude_none=True)
    line["topic"] = "/".join(record.topic_path)  # the categorizer's topic_key
    line.update(record.model_dump(mode="json", include=set(_CATEGORY_FIELDS)))
    return line


def record_from_line(line: dict[str, Any]) -> CategorizedPrompt:
    prompt_fields = {k: v for k, v in line.items() if k in SanitizedPrompt.model_fields}
    category = {k: line[k] for k in _CATEGORY_FIELDS if k in line}
    return CategorizedPrompt(prompt=SanitizedPrompt.model_validate(prompt_fields), **category)


def write_categorized(path: Path, records: Iterable[CategorizedPrompt]) -> int:
    """Write atomically (a reader never sees half a file); return the number of lines."""
    tmp = path.with_suffix(".partial")
    count = 0
    with tmp.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(categorized_line(record), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_categorized(path: Path) -> list[CategorizedPrompt]:
    with path.open(encoding="utf-8") as lines:
        return [record_from_line(json.loads(line)) for line in lines if line.strip()]
