"""Feeds requests to the decoder so that they are decoded together (continuous batching).

On 2 CPU cores SmolLM2 decodes several times more tokens per second over 8 rows than over one
(see benchmarks/llm_server.py). A request that finds the decoder idle waits a few milliseconds
for company; one that arrives while it runs joins the running batch at its next token, up to
``max_rows`` sequences, instead of waiting for the whole batch to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue

from rft_local_llm.engine import Completion, Decoder, PromptJob, Room, Ticket


class DynamicBatcher:
    def __init__(self, decoder: Decoder, window_s: float) -> None:
        self._decoder = decoder
        self._window_s = window_s
        # Crossed by threads: filled on the event loop, drained by the decoding thread.
        self._arrivals: queue.SimpleQueue[Ticket] = queue.SimpleQueue()
        # Decoding thread only (the event loop reads it after that thread has returned).
        self._held: Ticket | None = None  # pulled, but too large for the free rows: next in line
        self._in_flight: set[Ticket] = set()
        # Event loop only.
        self._futures: dict[Ticket, asyncio.Future[list[Completion]]] = {}
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._loop(), name="llm-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def submit(self, job: PromptJob) -> list[Completion]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Completion]] = loop.create_future()
        ticket: Ticket

        def done(completions: list[Completion]) -> None:  # runs on the decoding thread
            self._in_flight.discard(ticket)
            loop.call_soon_threadsafe(self._resolve, ticket, completions)

        ticket = Ticket(job, done)
        self._futures[ticket] = future
        self._arrivals.put(ticket)
        self._wake.set()
        try:
            return await future
        except asyncio.CancelledError:
            # The caller gave up (a client timeout or disconnect): stop decoding for it.
            ticket.cancelled = True
            self._futures.pop(ticket, None)
            raise

    def _resolve(self, ticket: Ticket, completions: list[Completion]) -> None:
        future = self._futures.pop(ticket, None)
        if future is not None and not future.done():
            future.set_result(completions)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._window_s)  # let requests sent together arrive together
            try:
                await asyncio.to_thread(self._decoder.decode, self._pull)
            except Exception as error:  # a failed batch fails its requests, not the server
                failed, self._in_flight = self._in_flight, set()
                for ticket in failed:
                    future = self._futures.pop(ticket, None)
                    if future is not None and not future.done():
                        future.set_exception(error)

    def _pull(self, room: Room) -> list[Ticket]:
        """Tickets, in arrival order, that ``room`` takes. Runs on the decoding thread."""
        taken: list[Ticket] = []
        while True:
            ticket, self._held = self._held, None
            if ticket is None:
                try:
                    ticket = self._arrivals.get_nowait()
                except queue.Empty:
                    break
            if ticket.cancelled:
                continue
            if not room.takes(taken, ticket):
                self._held = ticket
                break
            taken.append(ticket)
        self._in_flight = {t for t in self._in_flight if not t.cancelled}
        self._in_flight.update(taken)
        return taken
