"""The Kafka topic registry: one topic per stage, versioned names, record key = stable id."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from rft_schemas.generation import GenerationRequest
from rft_schemas.rollouts import RolloutRequest, Score
from rft_schemas.topics import CategorizedPrompt, EmbeddedPrompt
from rft_schemas.traces import RawTrace, Rejection, SanitizedPrompt
from rft_schemas.training import TrainingEvent


@dataclass(frozen=True)
class TopicSpec:
    name: str
    payload: type[BaseModel]
    producers: tuple[str, ...]
    # Who reads it, for people; which stage consumes what is declared in code, by each
    # service's rft_<service>.kafka_stages (the manifest checks read those).
    consumers: tuple[str, ...]


RAW_TRACES = TopicSpec("rft.traces.raw.v1", RawTrace, ("ingestion", "generator"), ("sanitizer",))
SANITIZED_PROMPTS = TopicSpec(
    "rft.prompts.sanitized.v1", SanitizedPrompt, ("sanitizer", "generator"), ("embedder",)
)
REJECTED = TopicSpec(
    "rft.traces.rejected.v1", Rejection, ("sanitizer", "every stage"), ("report views",)
)
EMBEDDED_PROMPTS = TopicSpec(
    "rft.prompts.embedded.v1", EmbeddedPrompt, ("embedder",), ("categorizer",)
)
# No stage consumes the categorized records: the categorizer's store and API own them (the
# generator reads a dataset's records and coverage there). The topic is their change feed,
# keyed by prompt id, for whatever reads it outside the platform's stages.
CATEGORIZED_PROMPTS = TopicSpec(
    "rft.prompts.categorized.v1", CategorizedPrompt, ("categorizer",), ()
)
GENERATION_REQUESTS = TopicSpec(
    "rft.generation.requests.v1", GenerationRequest, ("categorizer api", "cli"), ("generator",)
)
ROLLOUT_REQUESTS = TopicSpec(
    "rft.rollouts.requests.v1", RolloutRequest, ("grader",), ("grader workers",)
)
ROLLOUTS_SCORED = TopicSpec("rft.rollouts.scored.v1", Score, ("grader workers",), ("grader",))
TRAINING_EVENTS = TopicSpec(
    "rft.training.events.v1", TrainingEvent, ("training backends",), ("trainer-gateway",)
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW_TRACES,
    SANITIZED_PROMPTS,
    REJECTED,
    EMBEDDED_PROMPTS,
    CATEGORIZED_PROMPTS,
    GENERATION_REQUESTS,
    ROLLOUT_REQUESTS,
    ROLLOUTS_SCORED,
    TRAINING_EVENTS,
)
