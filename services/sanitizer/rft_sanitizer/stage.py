"""The sanitizer's Kafka stage: rft.traces.raw.v1 -> rft.prompts.sanitized.v1 + rejected."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.settings import RuntimeSettings
from rft_sanitizer.outcome_store import OutcomeStore
from rft_sanitizer.pipeline import RecordOutcome, Sanitizer
from rft_schemas.kafka_topics import RAW_TRACES, REJECTED, SANITIZED_PROMPTS
from rft_schemas.traces import RawTrace


def outputs_of(outcomes: Sequence[RecordOutcome]) -> list[Outbound]:
    """Each prompt keyed by its content id, each rejection by its id: re-sends are upserts."""
    outputs: list[Outbound] = []
    for outcome in outcomes:
        if outcome.rejection is not None:
            outputs.append(Outbound(REJECTED.name, outcome.rejection.id, outcome.rejection))
        outputs.extend(Outbound(SANITIZED_PROMPTS.name, p.id, p) for p in outcome.prompts)
    return outputs


def build_stage(
    settings: RuntimeSettings, sanitizer: Sanitizer, store: OutcomeStore
) -> KafkaStage[RawTrace]:
    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        traces = [item.value for item in batch]
        # Tokenizing and the SQLite claims are blocking work: keep the event loop (and the
        # consumer's heartbeats) free while they run.
        outcomes = await asyncio.to_thread(sanitizer.process_batch, traces)
        await asyncio.to_thread(store.record, [t.id for t in traces], outcomes)
        return outputs_of(outcomes)

    return KafkaStage(
        "sanitizer", RAW_TRACES, handle, settings, outputs=[SANITIZED_PROMPTS, REJECTED]
    )
