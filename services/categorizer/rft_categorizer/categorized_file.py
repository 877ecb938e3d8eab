"""``categorized_prompts.jsonl``: the format lives in :mod:`rft_schemas.categorized_file` (its
readers, the generator among them, parse it without the categorizer); named here too."""

from __future__ import annotations

from rft_schemas.categorized_file import (
    categorized_line,
    read_categorized,
    record_from_line,
    write_categorized,
)

__all__ = ["categorized_line", "read_categorized", "record_from_line", "write_categorized"]
