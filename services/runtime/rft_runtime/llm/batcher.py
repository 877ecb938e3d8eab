"""Groups requests that arrive close together into one decoding batch.

On 2 CPU cores SmolLM2 decodes about 5 times more tokens per second at batch 8 than at batch 1
(see benchmarks/llm_server.py), so concurrent requests wait a few milliseconds for company
instead of each running alone. While a batch decodes, new requests queue and form the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from rft_runtime.llm.engine import Completion, PromptJob

RunBatch = Callable[[list[PromptJob]], list[list[Completion]]]


@dataclass
class _Pending:
    job: PromptJob
    future: asyncio.Future[list[Completion]]


class DynamicBatcher:
    def __init__(self, run_batch: RunBatch, max_rows: int, window_s: float) -> None:
        self._run_batch = run_batch
        self._max_rows = max_rows
        self._window_s = window_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._held: _Pending | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batch_sizes: deque[int] = deque(maxlen=256)  # rows per recent batch

    def start(self) -> None:
        self._worker = asyncio.create_task(self._loop(), name="llm-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def submit(self, job: PromptJob) -> list[Completion]:
        future: asyncio.Future[list[Completion]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(job, future))
        return await future

    async def _loop(self) -> None:
        while True:
            batch = await self._collect()
            try:
                results = await asyncio.to_thread(self._run_batch, [p.job for p in batch])
            except Exception as error:  # a failed batch fails its requests, not the server
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            self.batch_sizes.append(sum(p.job.n for p in batch))
            for pending, completions in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(completions)

    async def _collect(self) -> list[_Pending]:
        first = self._held or await self._queue.get()
        self._held = None
        batch, rows = [first], first.job.n
        deadline = asyncio.get_running_loop().time() + self._window_s
        while rows < self._max_rows:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                pending = (
                    self._queue.get_nowait()
                    if remaining <= 0
                    else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if rows + pending.job.n > self._max_rows:
                self._held = pending  # opens the next batch, so arrival order holds
                break
            batch.append(pending)
            rows += pending.job.n
        return batch
