"""The grader's Kafka stages.

Workers: rft.rollouts.requests.v1 -> rft.rollouts.scored.v1, replicas of one consumer group.
Each request carries its grader config, so any replica can score any job. A whole batch is
rolled out at once so the model server batches it. An endpoint that stays down (or a job store
that is) retries the batch, as in every stage, and nothing is lost; a request the endpoint
refuses is a Score with ``rollout_error``.

Jobs: rft.rollouts.scored.v1 -> the job store (its own group), finishing complete jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rft_grader.dryrun.durable_jobs import DryRunJobs
from rft_grader.dryrun.rollouts import GraderCache, failed_score, rollout_and_score
from rft_grader.jobs import JobStore
from rft_grader.kafka_stages import JOBS, JOBS_GROUP, WORKER_GROUP, WORKERS
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.llm import LLMClient, LLMError, LLMUnavailableError
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import ROLLOUTS_SCORED
from rft_schemas.rollouts import RolloutRequest, Score

__all__ = ["JOBS_GROUP", "WORKER_GROUP", "build_jobs_stage", "build_worker_stage"]


def build_worker_stage(settings: RuntimeSettings, client: LLMClient, graders: GraderCache,
                       store: JobStore | None = None) -> KafkaStage[RolloutRequest]:
    async def score(request: RolloutRequest) -> Score:
        try:
            return await rollout_and_score(client, graders, request)
        except LLMUnavailableError:
            raise  # an outage, not this request's failure: the stage retries the batch
        except LLMError as error:
            return failed_score(request, str(error))

    async def handle(batch: Sequence[Inbound[RolloutRequest]]) -> list[Outbound]:
        requests = [item.value for item in batch]
        # A re-delivered request whose score the job store already holds is not rolled out
        # again (a worker killed after producing, before committing, re-reads its batch).
        done = (await asyncio.to_thread(store.scored, [r.id for r in requests])
                if store is not None else set())
        todo = [r for r in requests if r.id not in done]
        results = await asyncio.gather(*(score(r) for r in todo), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [Outbound(ROLLOUTS_SCORED.name, s.rollout_id, s) for s in results
                if isinstance(s, Score)]

    return WORKERS.build(handle, settings)


def build_jobs_stage(settings: RuntimeSettings, jobs: DryRunJobs) -> KafkaStage[Score]:
    async def handle(batch: Sequence[Inbound[Score]]) -> list[Outbound]:
        await jobs.on_scores([item.value for item in batch])
        return []

    return JOBS.build(handle, settings)
