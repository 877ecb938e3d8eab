"""The batch runner behind ``rft generate``: categorized prompts in, synthetic_prompts.jsonl out.

Opens what a job needs from the settings (the dataset's collection, the job store, the LLM
client) and runs :class:`GenerationRunner`; the service does the same per request. The embedder
is the caller's: the CLI's model in process, the service's client of the embedder service.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rft_generator.job_store import JobStore
from rft_generator.output import write_synthetic_prompts
from rft_generator.pool import build_pools, targets_from_coverage
from rft_generator.runner import GenerationRunner, Publish, RunTimings
from rft_generator.settings import GeneratorSettings
from rft_generator.topic_check import PrototypeTopicChecker, TopicChecker
from rft_runtime.embedding.model import Embedder
from rft_runtime.embedding.points import prompt_collection_spec
from rft_runtime.embedding.text import PromptEmbeddingSettings
from rft_runtime.llm import LLMClient, LLMSettings
from rft_runtime.vectorstore import VectorStore
from rft_sanitizer import Policy, load_token_counter
from rft_schemas import CategorizedPrompt, CoverageReport, GenerationJob, GenerationRequest
from rft_schemas.artifacts import SYNTHETIC_PROMPTS
from rft_schemas.categorized_file import record_from_line


def categorized_from_line(line: dict[str, object]) -> CategorizedPrompt:
    """A line of step C's categorized_prompts.jsonl (the prompt's fields and the topic fields
    side by side), or a CategorizedPrompt as it travels on Kafka (the prompt nested)."""
    if "prompt" in line:
        return CategorizedPrompt.model_validate(line)
    return record_from_line(line)


def read_categorized(path: Path) -> list[CategorizedPrompt]:
    with path.open(encoding="utf-8") as lines:
        return [categorized_from_line(json.loads(line)) for line in lines if line.strip()]


def read_coverage(path: Path) -> CoverageReport:
    return CoverageReport.model_validate(json.loads(path.read_text(encoding="utf-8")))


def structure_policy(settings: GeneratorSettings) -> Policy:
    """The sanitizer's policy for synthetic prompts (same tokenizer, same checks)."""
    counter = load_token_counter(settings.tokenizer, settings.data_dir / "tokenizers")
    return Policy(counter=counter, min_tokens=settings.min_tokens, max_tokens=settings.max_tokens)


@dataclass
class GenerationResult:
    job: GenerationJob
    output: Path
    written: int
    timings: RunTimings


async def run_generation(
    request: GenerationRequest,
    categorized: Sequence[CategorizedPrompt],
    store: JobStore,
    vector_store: VectorStore,
    llm: LLMSettings,
    settings: GeneratorSettings,
    *,
    embedder: Embedder,
    coverage: CoverageReport | None = None,
    embed_settings: PromptEmbeddingSettings | None = None,
    checker: TopicChecker | None = None,
    policy: Policy | None = None,
    publish: Publish | None = None,
    output: Path | None = None,
    max_rounds: int | None = None,
) -> GenerationResult:
    """Create (or resume) the job ``request.id`` and run it; write its synthetic_prompts.jsonl.

    ``embedder``: the caller's (the generator never loads a model: the CLI passes its own, the
    service the embedder service's client), whose ``name`` keys the vectors it stores."""
    embed_settings = embed_settings or PromptEmbeddingSettings()
    # Embedding and SQLite work go to threads: a service's event loop keeps answering HTTP and
    # Kafka heartbeats while a job starts. The embedder service's client asks its dimensions
    # over HTTP on first use, so that too.
    dimensions = await asyncio.to_thread(lambda: embedder.dimensions)
    if request.targets is not None:
        targets = dict(request.targets)
    elif coverage is not None:
        targets = targets_from_coverage(coverage)
    else:
        raise ValueError("a generation request without targets needs coverage's recommendation")
    collection = vector_store.ensure_collection(
        prompt_collection_spec(request.dataset, dimensions, embed_settings.collection_prefix)
    )
    pools, leaf_vectors = await asyncio.to_thread(
        build_pools, categorized, targets, collection, embedder, embed_settings
    )
    # The callers pass step C's decision (the CLI's in process, the service's through the
    # categorizer's API); the prototype check is only the fallback of a job that reads
    # categorized files with no categorizer (and no hierarchy) to ask.
    checker = checker or PrototypeTopicChecker(leaf_vectors, settings.prototype_temperature)
    await asyncio.to_thread(store.create, request, targets)
    policy = policy or await asyncio.to_thread(structure_policy, settings)
    async with LLMClient(llm) as client:
        runner = GenerationRunner(
            store, client, embedder, collection, pools, checker,
            policy, settings, embed_settings, publish,
        )
        job = await runner.run(request.id, max_rounds=max_rounds)
    path = output or SYNTHETIC_PROMPTS.path(settings.resolved_output_dir() / request.id)
    written = await asyncio.to_thread(write_synthetic_prompts, store, request.id, path)
    return GenerationResult(job, path, written, runner.timings)
