"""The real drone prompts, embedder and structure policy of tests/split, and a job's setup."""

from __future__ import annotations

from tests.split.conftest import categorized, embedder, structure_policy

__all__ = ["categorized", "embedder", "structure_policy"]
