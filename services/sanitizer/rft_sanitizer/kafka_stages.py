"""The sanitizer's Kafka stages, declared: what each consumes, in which group, what it emits.

:mod:`rft_sanitizer.stage` builds the running stage from this; the manifest checks read it."""

from __future__ import annotations

from rft_runtime.kafka.declaration import StageDeclaration
from rft_schemas.kafka_topics import RAW_TRACES, REJECTED, SANITIZED_PROMPTS

SANITIZER = StageDeclaration("sanitizer", RAW_TRACES, outputs=(SANITIZED_PROMPTS, REJECTED))
STAGES = (SANITIZER,)
