"""The embedder's Kafka stages, declared: what each consumes, in which group, what it emits.

:mod:`rft_embedder.stage` builds the running stage from this; the manifest checks read it."""

from __future__ import annotations

from rft_runtime.kafka.declaration import StageDeclaration
from rft_schemas.kafka_topics import EMBEDDED_PROMPTS, REJECTED, SANITIZED_PROMPTS

EMBEDDER = StageDeclaration("embedder", SANITIZED_PROMPTS, outputs=(EMBEDDED_PROMPTS, REJECTED))
STAGES = (EMBEDDER,)
