"""The real drone prompts, embedder and structure policy of tests/split, and a job's setup."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.split.conftest import categorized, embedder, structure_policy

__all__ = ["categorized", "embedder", "job_store_url", "structure_policy"]


@pytest.fixture(params=["sqlite", "postgresql"])
def job_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The job store, once embedded (SQLite) and once as a cluster keeps it (PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
