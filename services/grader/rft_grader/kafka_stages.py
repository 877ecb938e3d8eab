"""The grader's Kafka stages, declared: what each consumes, in which group, what it emits.

Two stages in two groups: the workers (scaled out on the rollout requests) and the dry-run job
tracker (on the scores). :mod:`rft_grader.stage` builds the running stages from these; the
manifest checks read them."""

from __future__ import annotations

from rft_runtime.kafka.declaration import StageDeclaration
from rft_schemas.kafka_topics import ROLLOUT_REQUESTS, ROLLOUTS_SCORED

WORKER_GROUP = "rft-grader-workers"
JOBS_GROUP = "rft-grader-jobs"

WORKERS = StageDeclaration(
    "grader-worker", ROLLOUT_REQUESTS, outputs=(ROLLOUTS_SCORED,), group_id=WORKER_GROUP
)
JOBS = StageDeclaration("grader-jobs", ROLLOUTS_SCORED, group_id=JOBS_GROUP)
STAGES = (WORKERS, JOBS)
