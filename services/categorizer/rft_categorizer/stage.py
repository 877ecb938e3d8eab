"""The categorizer's Kafka stage: rft.prompts.embedded.v1 -> rft.prompts.categorized.v1."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rft_categorizer.kafka_stages import CATEGORIZER
from rft_categorizer.runner import MissingVectorsError
from rft_categorizer.second_opinion import TopicJudge
from rft_categorizer.topic_service import TopicService
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound, TransientError
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import CATEGORIZED_PROMPTS
from rft_schemas.topics import CategorizedPrompt, EmbeddedPrompt


def outputs_of(records: Sequence[CategorizedPrompt]) -> list[Outbound]:
    """Keyed by prompt id: a re-categorization replaces the record downstream (compaction)."""
    return [Outbound(CATEGORIZED_PROMPTS.name, r.prompt.id, r) for r in records]


def build_stage(
    settings: RuntimeSettings, topics: TopicService, judge: TopicJudge | None = None
) -> KafkaStage[EmbeddedPrompt]:
    """``judge``: an LLM asked about the low-confidence prompts before they are emitted."""

    async def handle(batch: Sequence[Inbound[EmbeddedPrompt]]) -> list[Outbound]:
        records = [item.value for item in batch]
        try:
            categorized = await asyncio.to_thread(topics.categorize_embedded, records)
            if judge is not None:
                texts = {r.prompt.id: r.embedded_text for r in records}
                categorized = await topics.review_uncertain(categorized, texts, judge)
        except MissingVectorsError as error:
            # The embedder emits only after its upsert, so a missing point means a store that
            # is not (yet) the one the embedder wrote to: retry rather than lose the prompts.
            raise TransientError(str(error)) from error
        except (OSError, ConnectionError) as error:
            raise TransientError(f"store: {error}") from error
        return outputs_of(categorized)

    return CATEGORIZER.build(handle, settings)
