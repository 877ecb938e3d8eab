"""Common base for every wire contract.

Each record that crosses a topic or an API carries ``schema_version`` so a consumer can refuse
(or upgrade) a payload written by a newer producer instead of misreading it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]


class Contract(BaseModel):
    """A versioned wire record. Unknown fields are refused: contracts change by new versions."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)

    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int = Field(default=1, description="Version of this contract")

    def model_post_init(self, __context: Any) -> None:
        if self.schema_version > self.SCHEMA_VERSION:
            raise ValueError(
                f"{type(self).__name__} schema_version {self.schema_version} is newer than "
                f"this reader ({self.SCHEMA_VERSION})"
            )


class Passthrough(BaseModel):
    """A model that keeps every field it does not know, so real records round-trip unchanged."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
