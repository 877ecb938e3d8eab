"""Step F as the generator service's operation: the split of a dataset's categorized records
(read from the categorizer, as generation jobs read them) and the accepted synthetic prompts of
its generation jobs (in this service's store), made by the batch function ``rft split`` calls
(:func:`rft_generator.split_batch.split_items`) and stored in this service's store.

    POST /v1/datasets/{dataset}/split   make (or remake) the split; answers it without rows
    GET  /v1/datasets/{dataset}/split   the split: manifest and every train/valid row, in full
                                        (``?rows=false``: the manifest and counts alone)

Why here: the generator owns the synthetic prompts and already reads the categorized records;
F is the last change to the prompt set before G and H.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, HTTPException

from rft_generator.job_store import JobStore
from rft_generator.sources import CategorizedSource, CategorizerUnavailable, DatasetNotReady
from rft_generator.split_batch import TextEmbedder, split_inputs, split_items
from rft_generator.split_export import rft_record
from rft_generator.split_store import SplitStore
from rft_runtime.http.params import DatasetInPath
from rft_schemas import DatasetSplit, JobStatus, SplitRequest

UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class GenerationUnfinished(RuntimeError):
    """A generation job of the dataset is still running: its prompts are not all there."""


class DatasetSplitter:
    def __init__(self, source: CategorizedSource, jobs: JobStore, store: SplitStore,
                 embedder: Callable[[], TextEmbedder]) -> None:
        """``embedder``: loads the embedder on first use (the leakage guard's vectors)."""
        self.source = source
        self.jobs = jobs
        self.store = store
        self._embedder = embedder

    def split(self, dataset: str, request: SplitRequest) -> DatasetSplit:
        """Blocking (HTTP reads, embedding, SQL): async callers use a worker thread."""
        categorized = self.source.categorized(dataset)
        statuses = self.jobs.jobs_of(dataset)
        running = [job for job, status in statuses.items() if status in UNFINISHED]
        if running:
            raise GenerationUnfinished(
                f"generation job(s) {', '.join(running)} of dataset {dataset!r} are still "
                f"running: split once they end")
        synthetic = [prompt for job in statuses for prompt in self.jobs.accepted(job)]
        result = split_items(
            split_inputs(categorized, synthetic), self._embedder(), dataset,
            seed=request.seed, valid_fraction=request.valid_fraction,
            valid_real_only=request.valid_real_only,
            near_duplicate_cosine=request.near_duplicate_cosine,
        )
        split = DatasetSplit(
            dataset=dataset, request=request, manifest=result.manifest,
            train_rows=len(result.train), valid_rows=len(result.valid),
            synthetic_jobs=[job for job in statuses if self.jobs.accepted(job)],
            train=[rft_record(item) for item in result.train],
            valid=[rft_record(item) for item in result.valid],
        )
        self.store.put(split)
        return split


def build_split_router(splitter: DatasetSplitter) -> APIRouter:
    router = APIRouter(prefix="/v1/datasets", tags=["split"])

    @router.post("/{dataset}/split", response_model=DatasetSplit, status_code=201)
    async def make_split(dataset: DatasetInPath, request: SplitRequest | None = None
                         ) -> DatasetSplit:
        """Step F: split the dataset's categorized and synthetic prompts into train and valid
        (stratified by topic, seeded, leak-guarded) and store it; answers without the rows."""
        try:
            split = await asyncio.to_thread(splitter.split, dataset, request or SplitRequest())
        except DatasetNotReady as error:
            raise HTTPException(409, str(error)) from None
        except GenerationUnfinished as error:
            raise HTTPException(409, str(error)) from None
        except CategorizerUnavailable as error:  # nothing stored: the caller may retry
            raise HTTPException(503, str(error)) from None
        return split.model_copy(update={"train": None, "valid": None})

    @router.get("/{dataset}/split", response_model=DatasetSplit)
    async def get_split(dataset: DatasetInPath, rows: bool = True) -> DatasetSplit:
        split = await asyncio.to_thread(splitter.store.get, dataset, rows)
        if split is None:
            raise HTTPException(404, f"no split of dataset {dataset!r}: POST "
                                     f"/v1/datasets/{dataset}/split first")
        return split

    return router
