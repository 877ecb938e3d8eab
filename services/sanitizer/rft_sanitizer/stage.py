"""The sanitizer's Kafka stage: rft.traces.raw.v1 -> rft.prompts.sanitized.v1 + rejected."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.settings import RuntimeSettings
from rft_sanitizer.kafka_stages import SANITIZER
from rft_sanitizer.normalize import trace_id
from rft_sanitizer.outcome_store import OutcomeStore
from rft_sanitizer.pipeline import RecordOutcome, Sanitizer
from rft_sanitizer.reader import payload_text
from rft_schemas.kafka_topics import REJECTED, SANITIZED_PROMPTS
from rft_schemas.traces import RawTrace, SourceLocation


def outputs_of(outcomes: Sequence[RecordOutcome]) -> list[Outbound]:
    """Each prompt keyed by its content id, each rejection by its id: re-sends are upserts."""
    outputs: list[Outbound] = []
    for outcome in outcomes:
        if outcome.rejection is not None:
            outputs.append(Outbound(REJECTED.name, outcome.rejection.id, outcome.rejection))
        outputs.extend(Outbound(SANITIZED_PROMPTS.name, p.id, p) for p in outcome.prompts)
    return outputs


DATASET_HEADER = "rft-dataset"


def raw_trace_decoder(default_dataset: str) -> Callable[[ConsumerRecord[bytes, bytes]], RawTrace]:
    """A RawTrace envelope as the platform's producers write it, or any other record as it is:
    what a trace system's exporter writes (an OTel Collector's OTLP JSON, a JSONL line), with
    its topic, partition and offset as its source and the ``rft-dataset`` header (or
    ``default_dataset``) as its dataset."""

    def decode(record: ConsumerRecord[bytes, bytes]) -> RawTrace:
        payload = record.value or b""
        try:
            return RawTrace.model_validate_json(payload)
        except ValidationError:
            pass
        headers = dict(record.headers or ())
        dataset = headers.get(DATASET_HEADER, default_dataset.encode()).decode("utf-8", "replace")
        text, encoding = payload_text(payload)
        return RawTrace(
            id=trace_id(dataset, f"{record.topic}/{record.partition}", record.offset),
            dataset=dataset,
            source=SourceLocation(uri=record.topic, partition=record.partition,
                                  offset=record.offset),
            payload=text,
            payload_encoding=encoding,
        )

    return decode


def build_stage(
    settings: RuntimeSettings, sanitizer: Sanitizer, store: OutcomeStore,
    default_dataset: str = "default",
) -> KafkaStage[RawTrace]:
    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        traces = [item.value for item in batch]
        # Tokenizing and the SQLite claims are blocking work: keep the event loop (and the
        # consumer's heartbeats) free while they run. A dedup or outcome store that is down or
        # locked retries the batch (the stage runner treats StoreUnavailable as transient).
        outcomes = await asyncio.to_thread(sanitizer.process_batch, traces)
        await asyncio.to_thread(store.record, [t.id for t in traces], outcomes)
        return outputs_of(outcomes)

    return SANITIZER.build(handle, settings, decode=raw_trace_decoder(default_dataset))
