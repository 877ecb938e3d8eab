"""Parameters that several services' routes share, with the schemas' rules behind them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from rft_schemas.names import DATASET_NAME_MAX_CHARS, DATASET_NAME_PATTERN, DATASET_NAME_RULE

DatasetInPath = Annotated[
    str,
    Path(
        pattern=DATASET_NAME_PATTERN,
        max_length=DATASET_NAME_MAX_CHARS,
        description=f"dataset name: {DATASET_NAME_RULE}",
    ),
]
"""``{dataset}`` in a route: a name that breaks the rule is a 422 naming it."""

SQL_BIGINT_MAX = 2**63 - 1
"""The largest integer SQLite and PostgreSQL store (a larger cursor overflowed into a 500)."""

StoredVersion = Annotated[
    int | None,
    Query(ge=1, le=SQL_BIGINT_MAX, description="a stored version; unset = the current one"),
]

Cursor = Annotated[
    int,
    Query(ge=0, le=SQL_BIGINT_MAX, description="next_cursor of the previous page; 0 = the start"),
]
