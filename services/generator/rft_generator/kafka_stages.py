"""The generator's Kafka stages, declared: what each consumes, in which group, what it emits.

One stage, on generation requests. The generator does not consume rft.prompts.categorized.v1:
a job reads its dataset's categorized records and coverage from the categorizer's API
(:class:`rft_generator.sources.CategorizerAPI`) when it runs. :mod:`rft_generator.stage`
builds the running stage from this; the manifest checks read it."""

from __future__ import annotations

from rft_runtime.kafka.declaration import StageDeclaration
from rft_schemas.kafka_topics import GENERATION_REQUESTS, REJECTED, SANITIZED_PROMPTS

GENERATOR = StageDeclaration(
    "generator", GENERATION_REQUESTS, outputs=(SANITIZED_PROMPTS, REJECTED)
)
STAGES = (GENERATOR,)
