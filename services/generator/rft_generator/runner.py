"""Runs a generation job round by round, durably: ask, validate, record, publish.

Each round asks the LLM, for every topic still short of its target, for ``n`` candidates in one
request per topic, all topics at once (the server batches them). Candidate ids come from
(job id, topic, attempt index); a round's candidates are recorded in one transaction, so a job
killed mid-round redoes only that round, under the same ids, and never writes a prompt twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rft_generator.job_store import OVER_TARGET, CandidateRecord, JobStore
from rft_generator.pool import TopicPool, synthetic_point
from rft_generator.prompting import (
    generation_messages,
    parse_request,
    synthetic_messages,
    user_text,
)
from rft_generator.sampling import mmr_select
from rft_generator.settings import GeneratorSettings
from rft_generator.topic_check import TopicChecker
from rft_generator.validation import (
    check_structure,
    judge_score,
    novelty_check,
    quality_check,
    topic_check,
)
from rft_runtime.embedding.model import Embedder
from rft_runtime.embedding.points import embedding_key
from rft_runtime.embedding.text import PromptEmbeddingSettings, task_text
from rft_runtime.llm import LLMClient, LLMError
from rft_runtime.vectorstore import VectorCollection, point_id
from rft_sanitizer import Policy
from rft_schemas import (
    GenerationJob,
    JobStatus,
    Lineage,
    SanitizedPrompt,
    SourceLocation,
    SyntheticPrompt,
    TraceFormat,
    ValidationCheck,
)

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[SanitizedPrompt]], Awaitable[None]]


def candidate_id(job_id: str, topic: str, attempt: int) -> str:
    digest = hashlib.sha256(f"{job_id}\x00{topic}\x00{attempt}".encode()).hexdigest()[:24]
    return f"syn-{digest}"


@dataclass
class RunTimings:
    """Wall time in LLM calls (generation and judge) and in the other validation checks."""

    llm_s: float = 0.0
    validation_s: float = 0.0
    rounds: int = 0


@dataclass
class _Ask:
    topic: str
    first_attempt: int
    examples: list[SanitizedPrompt]
    n: int
    missing: int


@dataclass
class _Draft:
    id: str
    topic: str
    attempt: int
    examples: list[SanitizedPrompt]
    text: str | None
    failure: str | None = None
    checks: list[ValidationCheck] = field(default_factory=list)
    prompt: SanitizedPrompt | None = None
    vector: NDArray[np.float32] | None = None


class GenerationRunner:
    """Runs jobs of one dataset against its pools; every dependency is passed in."""

    def __init__(
        self,
        store: JobStore,
        client: LLMClient,
        embedder: Embedder,
        collection: VectorCollection,
        pools: dict[str, TopicPool],
        checker: TopicChecker,
        policy: Policy,
        settings: GeneratorSettings,
        embed_settings: PromptEmbeddingSettings | None = None,
        publish: Publish | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.embedder = embedder
        self.collection = collection
        self.pools = pools
        self.checker = checker
        self.policy = policy
        self.settings = settings
        self.embed_settings = embed_settings or PromptEmbeddingSettings()
        self.publish = publish
        self.timings = RunTimings()

    async def run(self, job_id: str, max_rounds: int | None = None) -> GenerationJob:
        """Run (or resume) the job until every topic has its target or its attempts run out.

        An LLM endpoint that stays down (the client retried already) marks the job failed with
        the error; running it again later resumes where it stopped.
        """
        job = self.store.get(job_id)
        if job is None:
            raise KeyError(job_id)
        model = job.request.model or self.client.model
        self.store.set_status(job_id, JobStatus.RUNNING, model=model)
        try:
            await self._catch_up(job)
            rounds = 0
            while max_rounds is None or rounds < max_rounds:
                asks = self._plan(job)
                if not asks:
                    break
                await self._round(job, model, asks)
                rounds += 1
        except LLMError as error:
            self.store.set_status(job_id, JobStatus.FAILED, error=str(error))
            log.warning("generation job failed", extra={"job": job_id, "error": str(error)})
        else:
            finished = not self._plan(job)
            self.store.set_status(
                job_id, JobStatus.SUCCEEDED if finished else JobStatus.RUNNING,
                error=self._shortfall(job_id) if finished else None,
            )
        done = self.store.get(job_id, self.settings.previews_per_topic)
        assert done is not None
        return done

    def _shortfall(self, job_id: str) -> str | None:
        """Topics whose attempt budget ran out before their target (None when none did)."""
        job = self.store.get(job_id)
        assert job is not None
        short = [f"{t.topic} {t.generated}/{t.target} after {t.attempts} candidates"
                 for t in job.topics if t.generated < t.target]
        if not short:
            return None
        return ("short of target: " + "; ".join(short)
                + " (raise max_attempts_per_prompt, or loosen the quality settings)")

    def _plan(self, job: GenerationJob) -> list[_Ask]:
        request = job.request
        progress = self.store.attempts_by_topic(job.id)
        asks = []
        for entry in job.topics:
            pool = self.pools.get(entry.topic)
            attempts, accepted = progress.get(entry.topic, (0, 0))
            budget = math.ceil(entry.target * request.max_attempts_per_prompt) - attempts
            missing = entry.target - accepted
            if missing <= 0 or budget <= 0 or pool is None or not pool.prompts:
                continue
            n = min(request.candidates_per_request, budget)
            picks = mmr_select(pool.vectors, request.few_shot, self.settings.mmr_lambda,
                               seed=request.seed + attempts)
            asks.append(
                _Ask(entry.topic, attempts, [pool.prompts[i] for i in picks], n, missing)
            )
        return asks

    async def _round(self, job: GenerationJob, model: str, asks: list[_Ask]) -> None:
        request = job.request
        began = time.perf_counter()
        responses = await asyncio.gather(*(
            self.client.complete(
                generation_messages(ask.examples, ask.examples[0].tools),
                n=ask.n, temperature=request.temperature, top_p=request.top_p,
                max_tokens=request.max_tokens, seed=request.seed + ask.first_attempt,
                model=model,
            )
            for ask in asks
        ))
        self.timings.llm_s += time.perf_counter() - began
        drafts: list[_Draft] = []
        for ask, response in zip(asks, responses, strict=True):
            for k in range(ask.n):
                attempt = ask.first_attempt + k
                choice = response.choices[k] if k < len(response.choices) else None
                parsed = parse_request(
                    choice.message.content if choice else None,
                    truncated=choice is not None and choice.finish_reason == "length",
                    max_chars=self.settings.max_request_chars,
                )
                drafts.append(_Draft(
                    candidate_id(job.id, ask.topic, attempt), ask.topic, attempt, ask.examples,
                    parsed.text, parsed.failure.value if parsed.failure else None,
                ))
        began = time.perf_counter()
        accepted = await asyncio.to_thread(self._validate, job, drafts)
        self.timings.validation_s += time.perf_counter() - began
        if request.quality.judge_min_score is not None and accepted:
            began = time.perf_counter()
            await self._judge(accepted, request.quality.judge_min_score, request.seed)
            self.timings.llm_s += time.perf_counter() - began
        self._cap_at_targets(asks, drafts)
        records = [self._record(job, model, d) for d in drafts]
        await asyncio.to_thread(self.store.record, job.id, records)
        kept = [d for d in drafts if d.failure is None and d.prompt is not None]
        await asyncio.to_thread(self._store_vectors, kept)
        await self._publish(job.id)
        self.timings.rounds += 1

    def _cap_at_targets(self, asks: list[_Ask], drafts: list[_Draft]) -> None:
        """A round may pass more candidates than a topic still needs: keep the first ones (by
        attempt index) and record the rest as over_target, which progress does not count."""
        for ask in asks:
            room = ask.missing
            for draft in drafts:
                if draft.topic != ask.topic or draft.failure is not None or draft.prompt is None:
                    continue
                if room > 0:
                    room -= 1
                else:
                    draft.failure = OVER_TARGET

    def _validate(self, job: GenerationJob, drafts: list[_Draft]) -> list[_Draft]:
        request = job.request
        quality = request.quality
        for draft in drafts:
            if draft.failure is not None or draft.text is None:
                continue
            template = draft.examples[0]
            built = check_structure(
                draft.id, job.request.dataset, synthetic_messages(template, draft.text),
                template.tools, SourceLocation(uri=f"generation-job:{job.id}", line=draft.attempt),
                self.policy,
            )
            if isinstance(built, ValidationCheck):
                draft.checks.append(built)
                draft.failure = built.detail  # the sanitizer's reason code
                continue
            draft.checks.append(ValidationCheck(name="structure", passed=True))
            draft.prompt = self._synthetic(built, draft, job)
        alive = [d for d in drafts if d.failure is None and d.prompt is not None]
        if not alive:
            return []
        texts = [self._task_text(d.prompt) for d in alive if d.prompt]
        vectors = self.embedder.embed(texts)
        landed = self.checker.categorize(vectors)
        kept_vectors: list[NDArray[np.float32]] = []
        kept: list[_Draft] = []
        for draft, vector, (topic, confidence) in zip(alive, vectors, landed, strict=True):
            cosine, is_example = self._nearest(draft, vector, kept_vectors)
            check, failure = novelty_check(
                cosine, is_example, quality.novelty_max_cosine, self.settings.copy_cosine
            )
            draft.checks.append(check)
            if failure is None:
                check, failure = topic_check(
                    topic, confidence, draft.topic, quality.topic_min_confidence
                )
                draft.checks.append(check)
            if failure is not None:
                draft.failure = failure.value
                continue
            draft.vector = vector
            kept_vectors.append(vector)
            kept.append(draft)
        return kept

    def _nearest(
        self, draft: _Draft, vector: NDArray[np.float32], this_round: list[NDArray[np.float32]]
    ) -> tuple[float, bool]:
        """Cosine of the closest real or accepted prompt, and whether it is a seed example."""
        own = point_id(draft.id)
        hits = self.collection.query(vector, limit=3, filter={"dataset": draft.examples[0].dataset})
        best, best_id = -1.0, None
        for hit in hits:
            if hit.id != own and hit.score is not None and hit.score > best:
                best, best_id = hit.score, hit.payload.get("prompt_id")
        if this_round:
            scores = np.vstack(this_round) @ vector
            if float(scores.max()) > best:
                best, best_id = float(scores.max()), None
        is_example = best_id is not None and best_id in {e.id for e in draft.examples}
        # An exact copy of an example's text is a copy whatever the store answers.
        text = (draft.text or "").strip().lower()
        if any(user_text(e).strip().lower() == text for e in draft.examples):
            return 1.0, True
        return best, is_example

    async def _judge(self, drafts: list[_Draft], min_score: float, seed: int) -> None:
        scores = await asyncio.gather(
            *(judge_score(self.client, d.text or "", seed + d.attempt) for d in drafts)
        )
        for draft, score in zip(drafts, scores, strict=True):
            check, failure = quality_check(score, min_score)
            draft.checks.append(check)
            if failure is not None:
                draft.failure = failure.value

    def _synthetic(
        self, built: SanitizedPrompt, draft: _Draft, job: GenerationJob
    ) -> SanitizedPrompt:
        return built.model_copy(update={
            "id": draft.id,
            "origin": "synthetic",
            "reference": [],
            "item_fields": {"topic": draft.topic},
            "lineage": Lineage(
                dataset=job.request.dataset,
                trace_id=draft.id,
                source=SourceLocation(uri=f"generation-job:{job.id}", line=draft.attempt),
                format=TraceFormat.OPENAI_CHAT,
                cut_at_message=len(built.messages) - 1,
                policy="synthetic",
            ),
        })

    def _record(self, job: GenerationJob, model: str, draft: _Draft) -> CandidateRecord:
        accepted = draft.failure is None and draft.prompt is not None
        synthetic = None
        if accepted and draft.prompt is not None:
            synthetic = SyntheticPrompt(
                prompt=draft.prompt,
                topic_path=draft.topic.split("/"),
                job_id=job.id,
                generator_model=model,
                seed_example_ids=[e.id for e in draft.examples],
                validation=draft.checks,
            )
        return CandidateRecord(
            id=draft.id, topic=draft.topic, attempt=draft.attempt, accepted=accepted,
            reason=None if accepted else draft.failure, preview=(draft.text or "")[:200],
            synthetic=synthetic,
        )

    def _task_text(self, prompt: SanitizedPrompt) -> str:
        return task_text(prompt, self.embed_settings.task_text, self.embed_settings.max_text_chars)

    def _embedding_of(self, prompt: SanitizedPrompt) -> str:
        return embedding_key(self.embedder.name, self._task_text(prompt))

    def _store_vectors(self, kept: list[_Draft]) -> None:
        points = [synthetic_point(d.prompt, d.topic, d.vector, self._embedding_of(d.prompt))
                  for d in kept if d.prompt is not None and d.vector is not None]
        if points:
            self.collection.upsert(points)

    async def _catch_up(self, job: GenerationJob) -> None:
        """After a crash: accepted prompts whose vectors or messages may not have gone out."""
        accepted = await asyncio.to_thread(self.store.accepted, job.id)
        if accepted:
            texts = [self._task_text(s.prompt) for s in accepted]
            vectors = await asyncio.to_thread(self.embedder.embed, texts)
            self.collection.upsert([
                synthetic_point(s.prompt, "/".join(s.topic_path), v,
                                embedding_key(self.embedder.name, text))
                for s, v, text in zip(accepted, vectors, texts, strict=True)
            ])
        await self._publish(job.id)

    async def _publish(self, job_id: str) -> None:
        if self.publish is None:
            return
        pending = self.store.accepted(job_id, unpublished_only=True)
        if pending:
            await self.publish([s.prompt for s in pending])
            self.store.mark_published([s.prompt.id for s in pending])

