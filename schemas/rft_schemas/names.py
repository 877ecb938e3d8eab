"""The one rule for a dataset name, wherever it enters (an API path, a request body) and
wherever it becomes a path (a directory under a data dir).

A name is one path component that cannot climb: letters, digits, ``.``, ``_`` and ``-``,
starting with a letter or digit (so never ``.`` or ``..``), at most 128 characters.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
DATASET_NAME_MAX_CHARS = 128
DATASET_NAME_RULE = (
    "letters, digits, '.', '_' and '-', starting with a letter or digit, "
    f"at most {DATASET_NAME_MAX_CHARS} characters"
)
_NAME = re.compile(DATASET_NAME_PATTERN)

DatasetName = Annotated[
    str,
    Field(
        pattern=DATASET_NAME_PATTERN,
        max_length=DATASET_NAME_MAX_CHARS,
        description=f"dataset name: {DATASET_NAME_RULE}",
    ),
]


class InvalidDatasetName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"invalid dataset name {name[:60]!r}: {DATASET_NAME_RULE}")


def check_dataset_name(name: str) -> str:
    """``name`` when it follows the rule; else :class:`InvalidDatasetName`."""
    if len(name) > DATASET_NAME_MAX_CHARS or not _NAME.fullmatch(name):
        raise InvalidDatasetName(name)
    return name


def dataset_dir(root: Path, name: str) -> Path:
    """The directory of dataset ``name`` under ``root`` (never outside it)."""
    return root / check_dataset_name(name)
