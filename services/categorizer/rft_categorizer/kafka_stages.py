"""The categorizer's Kafka stages, declared: what each consumes, in which group, what it emits.

:mod:`rft_categorizer.stage` builds the running stage from this; the manifest checks read it
(importing this module is cheap, the stage's is not)."""

from __future__ import annotations

from rft_runtime.kafka.declaration import StageDeclaration
from rft_schemas.kafka_topics import CATEGORIZED_PROMPTS, EMBEDDED_PROMPTS, REJECTED

CATEGORIZER = StageDeclaration(
    "categorizer", EMBEDDED_PROMPTS, outputs=(CATEGORIZED_PROMPTS, REJECTED)
)
STAGES = (CATEGORIZER,)
