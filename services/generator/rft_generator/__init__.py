"""Step E: synthetic prompts for the coverage gaps, each validated before it is kept.

:class:`rft_generator.runner.GenerationRunner` runs a durable job (SQLite job store);
:func:`rft_generator.batch.run_generation` is the batch runner behind ``rft generate``;
``python -m rft_generator`` is the service (HTTP API + the rft.generation.requests.v1 stage).

Step F, the final distribution, is here too (:mod:`rft_generator.split` its core,
:func:`rft_generator.split_batch.split_files` the batch function behind ``rft split``): it reads
exactly what this step reads and writes (the categorized prompts and the synthetic ones), and it
is the last change to the prompt set before G and H.
"""

from rft_generator.batch import (
    GenerationResult,
    read_categorized,
    read_coverage,
    run_generation,
    structure_policy,
)
from rft_generator.job_store import CandidateRecord, JobStore, JobStoreError, open_job_store
from rft_generator.output import write_synthetic_prompts
from rft_generator.pool import TopicPool, build_pools, recommended_targets, targets_from_coverage
from rft_generator.runner import GenerationRunner, RunTimings, candidate_id
from rft_generator.sampling import mmr_select
from rft_generator.settings import GeneratorSettings
from rft_generator.topic_check import HttpTopicChecker, PrototypeTopicChecker, TopicChecker
from rft_generator.views import render_generation_screen

__all__ = [
    "CandidateRecord", "GenerationResult", "GenerationRunner",
    "GeneratorSettings", "HttpTopicChecker", "JobStore",
    "JobStoreError", "PrototypeTopicChecker", "RunTimings", "TopicChecker",
    "TopicPool", "build_pools", "candidate_id", "mmr_select", "open_job_store", "read_categorized",
    "read_coverage", "recommended_targets", "render_generation_screen", "run_generation",
    "structure_policy", "targets_from_coverage", "write_synthetic_prompts",
]
