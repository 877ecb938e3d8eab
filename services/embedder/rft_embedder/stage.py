"""The embedder's Kafka stage: rft.prompts.sanitized.v1 -> rft.prompts.embedded.v1 + rejected."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry

from rft_embedder.core import EmbedOutcome, embed_prompts
from rft_embedder.kafka_stages import EMBEDDER
from rft_embedder.metrics import near_duplicates_counter
from rft_embedder.models import Embedder
from rft_embedder.settings import EmbedderSettings
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound, TransientError
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import VectorStore
from rft_schemas.kafka_topics import EMBEDDED_PROMPTS, REJECTED
from rft_schemas.traces import SanitizedPrompt


def outputs_of(outcome: EmbedOutcome) -> list[Outbound]:
    """Each embedded prompt keyed by its prompt id (a replay re-sends the same key)."""
    outputs = [Outbound(EMBEDDED_PROMPTS.name, e.prompt.id, e) for e in outcome.embedded]
    outputs.extend(Outbound(REJECTED.name, r.id, r) for r in outcome.rejected)
    return outputs


def build_stage(
    runtime: RuntimeSettings,
    embedder: Embedder,
    store: VectorStore,
    settings: EmbedderSettings,
    registry: CollectorRegistry = REGISTRY,
) -> KafkaStage[SanitizedPrompt]:
    near_duplicates = near_duplicates_counter(registry)

    async def handle(batch: Sequence[Inbound[SanitizedPrompt]]) -> list[Outbound]:
        prompts = [item.value for item in batch]
        try:
            # The model and Qdrant Edge are blocking: the event loop keeps the heartbeats going.
            outcome = await asyncio.to_thread(embed_prompts, prompts, embedder, store, settings)
        except (OSError, ConnectionError) as error:
            # Qdrant unreachable: retry the batch, never dead-letter good prompts for it.
            raise TransientError(f"vector store: {error}") from error
        for dataset, count in outcome.near_duplicates_by_dataset.items():
            near_duplicates.labels(dataset).inc(count)
        return outputs_of(outcome)

    return EMBEDDER.build(handle, runtime, registry=registry)
