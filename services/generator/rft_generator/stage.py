"""The generator's Kafka stage: rft.generation.requests.v1 -> durable jobs.

The handler only creates each job in the store and starts it; the offset is committed once the
job is stored, so a request is never lost, and a re-delivered request (same job id) is a no-op.
A categorizer that cannot answer (the dataset's records are read from its API) retries the
batch, as a store outage does.
Accepted prompts go to rft.prompts.sanitized.v1 (origin synthetic) as the jobs run.
"""

from __future__ import annotations

from collections.abc import Sequence

from rft_generator.jobs import CategorizerUnavailable, DatasetNotReady, JobScheduler
from rft_generator.kafka_stages import GENERATOR
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound, TransientError
from rft_runtime.settings import RuntimeSettings
from rft_schemas import GenerationRequest, Rejection, RejectionReason, SanitizedPrompt
from rft_schemas.kafka_topics import REJECTED, SANITIZED_PROMPTS


def prompt_outputs(prompts: Sequence[SanitizedPrompt]) -> list[Outbound]:
    return [Outbound(SANITIZED_PROMPTS.name, p.id, p) for p in prompts]


def build_stage(
    settings: RuntimeSettings, scheduler: JobScheduler
) -> KafkaStage[GenerationRequest]:
    async def handle(batch: Sequence[Inbound[GenerationRequest]]) -> list[Outbound]:
        outputs: list[Outbound] = []
        for item in batch:
            try:
                await scheduler.submit(item.value)
            except CategorizerUnavailable as error:
                # the categorizer down is no fault of the request: retry the batch, reject none
                raise TransientError(str(error)) from error
            except DatasetNotReady as error:
                rejection = Rejection(
                    id=f"generation-{item.value.id}", dataset=item.value.dataset,
                    stage="generator", reason=RejectionReason.INVALID_RECORD, detail=str(error),
                    source=item.location(), excerpt=item.value.model_dump_json()[:300],
                )
                outputs.append(Outbound(REJECTED.name, rejection.id, rejection))
        return outputs

    return GENERATOR.build(handle, settings)
