"""Batched decoding with transformers on the CPU: many prompts, many samples each, one loop.

``transformers.generate`` takes one temperature, one stop list and one seed per call; requests
grouped by the batcher each have their own, so this loop samples every row with its own
settings. A prompt is prefilled once and its cache copied for its ``n`` samples; rows that finish
leave the batch, so a short answer stops costing compute as soon as it ends.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

try:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
    from transformers.cache_utils import DynamicLayer
except ImportError as missing:  # the client never imports this module; the local server does
    raise ImportError(
        "the local LLM server needs torch and transformers: "
        "pip install torch==2.13.0 -e services/local-llm"
    ) from missing

Finish = Literal["stop", "length"]


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class PromptJob:
    """One request: a tokenized prompt and how many samples to draw from it."""

    prompt_ids: list[int]
    n: int
    sampling: Sampling


@dataclass(frozen=True)
class Completion:
    text: str
    completion_tokens: int
    finish_reason: Finish


class Ticket:
    """A job being decoded, and whom to tell when its ``n`` samples are done."""

    def __init__(self, job: PromptJob, on_done: Callable[[list[Completion]], None]) -> None:
        self.job = job
        self.on_done = on_done
        self.results: list[Completion | None] = [None] * job.n
        self.remaining = job.n
        # Set from another thread when nobody waits for the answer any more (the client went
        # away): its rows leave the batch at the next token instead of decoding to the end.
        self.cancelled = False

    @property
    def span(self) -> int:
        """KV positions one of its rows may hold: its prompt and the longest answer allowed."""
        return len(self.job.prompt_ids) + self.job.sampling.max_tokens


@dataclass(frozen=True)
class Room:
    """What a running batch can still take. Every row of a batch is as wide as its widest (rows
    are left-padded to one column), so its KV memory is rows x widest span: that product is
    what ``max_tokens`` bounds (46 KB a position for SmolLM2-135M in float32)."""

    live_rows: int
    live_span: int
    max_rows: int
    max_tokens: int

    @property
    def empty(self) -> bool:
        return self.live_rows == 0

    def admits(self, tickets: list[Ticket]) -> bool:
        rows = self.live_rows + sum(t.job.n for t in tickets)
        span = max([self.live_span, *(t.span for t in tickets)])
        return rows <= self.max_rows and rows * span <= self.max_tokens

    def takes(self, taken: list[Ticket], ticket: Ticket) -> bool:
        """Whether ``ticket`` joins those already ``taken`` from a queue: when the room admits
        them all, or alone into an empty batch (one larger than a whole batch runs by itself)."""
        return self.admits([*taken, ticket]) or (self.empty and not taken)


@dataclass
class _Row:
    ticket: Ticket
    index: int  # which of the ticket's n samples
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish: Finish | None = None

    @property
    def sampling(self) -> Sampling:
        return self.ticket.job.sampling


@dataclass
class _Batch:
    """The rows being decoded: their KV cache, attention mask, positions and last logits."""

    cache: Any
    mask: torch.Tensor
    next_position: torch.Tensor
    logits: torch.Tensor
    rows: list[_Row]

    def widen(self, width: int) -> None:
        missing = width - self.mask.shape[1]
        if missing > 0:
            self.mask = torch.nn.functional.pad(self.mask, (missing, 0))
            for layer in self.cache.layers:
                layer.pad_left(missing)


class Decoder:
    """A causal LM and its tokenizer, loaded from a plain checkpoint directory."""

    def __init__(
        self,
        checkpoint: Path,
        threads: int | None = None,
        prefix_cache_tokens: int = 8192,
        max_rows: int = 16,
        max_batch_tokens: int = 65_536,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(checkpoint))
        self.model: Any = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32)
        self.model.eval()  # type: ignore[no-untyped-call]
        self.context_length = int(self.model.config.max_position_embeddings)
        end_ids = {
            self.tokenizer.eos_token_id,
            self.tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        }
        self.end_ids = {int(i) for i in end_ids if i is not None}
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.tokenizer.eos_token_id)
        self.prefixes = PrefixCache(prefix_cache_tokens)
        self.max_rows = max_rows
        self.max_batch_tokens = max_batch_tokens
        self.batch_rows: deque[int] = deque(maxlen=256)  # rows after each join, for /stats
        self.dropped_rows = 0  # rows of cancelled requests left undecoded, for /stats
        # One batch at a time: the batcher serializes calls, this guards direct use from threads.
        self._lock = threading.Lock()

    def encode_chat(self, turns: list[dict[str, str]], answer_prefix: str = "") -> list[int]:
        """The model's own chat template, with the assistant turn opened (and prefilled with
        ``answer_prefix``)."""
        ids = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # some versions return a BatchEncoding
            ids = ids["input_ids"]
        prefill = self.tokenizer.encode(answer_prefix, add_special_tokens=False) if answer_prefix \
            else []
        return [int(i) for i in ids] + [int(i) for i in prefill]

    def generate(self, jobs: list[PromptJob]) -> list[list[Completion]]:
        """Completions per job, in job order, ``job.n`` each (all decoded together)."""
        results: list[list[Completion]] = [[] for _ in jobs]

        def collect(i: int) -> Callable[[list[Completion]], None]:
            return lambda done: results.__setitem__(i, done)

        pending = deque(Ticket(job, collect(i)) for i, job in enumerate(jobs))

        def pull(room: Room) -> list[Ticket]:
            taken: list[Ticket] = []
            while pending and room.takes(taken, pending[0]):
                taken.append(pending.popleft())
            return taken

        self.decode(pull)
        return results

    def decode(self, pull: Callable[[Room], list[Ticket]]) -> None:
        """Decode until no row is left, admitting new requests between steps (continuous
        batching): ``pull(room)`` returns the tickets to add, without waiting; the room says
        how many rows and KV positions are free (a ticket larger than a whole batch is taken
        alone into an empty one). A request that arrives mid-batch starts at the next token
        instead of after the whole batch."""
        with self._lock, torch.inference_mode():
            batch: _Batch | None = None
            while True:
                if batch is not None and not batch.rows:
                    # Every row finished: what arrives now starts a new batch (the drained one
                    # still holds its last logits, one row per finished sequence).
                    batch = None
                # pull() takes only what the room admits; a ticket cancelled after it is
                # pulled leaves at the next step like any other cancelled row.
                arrived = pull(self._room(batch))
                if arrived:
                    batch = self._join(batch, arrived)
                    self.batch_rows.append(len(batch.rows))
                if batch is None:
                    return
                self._step(batch)

    def _room(self, batch: _Batch | None) -> Room:
        if batch is None:
            return Room(0, 0, self.max_rows, self.max_batch_tokens)
        to_come = max(r.sampling.max_tokens - len(r.tokens) for r in batch.rows)
        return Room(len(batch.rows), batch.mask.shape[1] + to_come, self.max_rows,
                    self.max_batch_tokens)

    def _join(self, batch: _Batch | None, tickets: list[Ticket]) -> _Batch:
        """Prefill the new requests and add their rows to the batch, left-padding whichever
        side is shorter so every row's next token lands in the same column."""
        width = max(len(t.job.prompt_ids) for t in tickets)
        if batch is not None:
            width = max(width, batch.mask.shape[1])
            batch.widen(width)
        rows = [
            _Row(ticket=t, index=k, generator=_generator(t.job.sampling.seed, k))
            for t in tickets
            for k in range(t.job.n)
        ]
        owners = [i for i, t in enumerate(tickets) for _ in range(t.job.n)]
        expand = torch.tensor(owners)
        room = max(t.job.sampling.max_tokens for t in tickets)
        extra = room if batch is None else batch.cache.layers[0].capacity - width
        # Each prompt is prefilled and copied straight into the batch's final buffers, then
        # let go: a batch of long prompts peaks near one copy of its KV plus one prompt's, not
        # four copies (every prompt's, their concatenation, its row expansion, the reserve).
        layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        last_logits = []
        for i, ticket in enumerate(tickets):
            kv, last = self._prefill(ticket.job.prompt_ids)
            if not layers:
                layers = [(_rows_buffer(k, len(owners), width + extra),
                           _rows_buffer(v, len(owners), width + extra)) for k, v in kv]
            mine = [row for row, owner in enumerate(owners) if owner == i]
            for (keys, values), (k, v) in zip(layers, kv, strict=True):
                _place(keys, mine, k, width)
                _place(values, mine, v, width)
            last_logits.append(last)
            del kv
        mask = torch.zeros((len(tickets), width), dtype=torch.long)
        for i, t in enumerate(tickets):
            mask[i, width - len(t.job.prompt_ids) :] = 1
        logits = torch.cat(last_logits)[expand]
        positions = torch.tensor([len(t.job.prompt_ids) for t in tickets])[expand]
        if batch is None:
            cache = DynamicCache()
            cache.layers = [_ReservedLayer(k, v, length=width) for k, v in layers]
            cache.layer_class_to_replicate = None  # every layer is given: none is to be added
            return _Batch(cache, mask[expand], positions, logits, rows)
        for cache_layer, (k, v) in zip(batch.cache.layers, layers, strict=True):
            cache_layer.add_rows(k, v)
        batch.mask = torch.cat([batch.mask, mask[expand]])
        batch.next_position = torch.cat([batch.next_position, positions])
        batch.logits = torch.cat([batch.logits, logits])
        batch.rows.extend(rows)
        return batch

    def _step(self, batch: _Batch) -> None:
        """Sample one token per row, retire finished rows, run the model once."""
        chosen = self._sample(batch.logits, batch.rows)
        keep = []
        for k, row in enumerate(batch.rows):
            if row.ticket.cancelled:
                self.dropped_rows += 1  # nobody waits for it: dropped without an answer
                continue
            if self._advance(row, int(chosen[k])):
                keep.append(k)
            else:
                self._finish(row)
        if len(keep) < len(batch.rows):
            index = torch.tensor(keep, dtype=torch.long)
            batch.cache.batch_select_indices(index)
            batch.mask, batch.next_position = batch.mask[index], batch.next_position[index]
            chosen = chosen[index]
            batch.rows = [batch.rows[k] for k in keep]
        if not batch.rows:
            return
        batch.mask = torch.cat(
            [batch.mask, torch.ones((len(batch.rows), 1), dtype=torch.long)], dim=1
        )
        out = self.model(
            input_ids=chosen[:, None], attention_mask=batch.mask,
            position_ids=batch.next_position[:, None], cache=batch.cache, use_cache=True,
        )
        batch.logits = out.logits[:, -1, :].float()
        batch.next_position = batch.next_position + 1

    def _finish(self, row: _Row) -> None:
        assert row.finish is not None
        if not row.sampling.stop:
            row.text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        ticket = row.ticket
        ticket.results[row.index] = Completion(row.text, len(row.tokens), row.finish)
        ticket.remaining -= 1
        if ticket.remaining == 0:
            ticket.on_done([c for c in ticket.results if c is not None])

    def _prefill(self, prompt_ids: list[int]) -> tuple[list[tuple[torch.Tensor, torch.Tensor]],
                                                      torch.Tensor]:
        """The prompt's KV per layer and its last logits, reusing the longest cached prefix.

        Prompts of one agent share a long head (system turn and tools: 1,100 tokens for the
        drone records), and on a CPU recomputing it dominates the request; each row is
        prefilled alone so its cached head can be reused, then rows are joined for decoding.
        """
        reused, head = self.prefixes.longest(prompt_ids)
        reused = min(reused, len(prompt_ids) - 1)  # at least one token, for its logits
        cache = DynamicCache(
            ddp_cache_data=[(k[:, :, :reused], v[:, :, :reused]) for k, v in head]
        ) if head and reused else DynamicCache()
        tail = torch.tensor([prompt_ids[reused:]])
        out = self.model(
            input_ids=tail,
            attention_mask=torch.ones((1, len(prompt_ids)), dtype=torch.long),
            position_ids=torch.arange(reused, len(prompt_ids))[None, :],
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        kv = [(layer.keys, layer.values) for layer in out.cache.layers]
        self.prefixes.put(prompt_ids, kv)
        return kv, out.logits[:, -1, :].float()

    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        """One token per row. Each row draws its uniform number from its own generator, so a
        seeded request samples the same tokens whichever other requests share its batch."""
        greedy = torch.tensor([row.sampling.temperature == 0 for row in rows])
        if bool(greedy.all()):
            return logits.argmax(-1)
        temperature = torch.tensor([max(row.sampling.temperature, 1e-6) for row in rows])
        probs = torch.softmax(logits / temperature[:, None], dim=-1)
        if any(row.sampling.top_p < 1.0 for row in rows):
            # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
            top_p = torch.tensor([row.sampling.top_p for row in rows])
            probs, order = torch.sort(probs, dim=-1, descending=True)
            probs = probs.masked_fill(probs.cumsum(-1) - probs >= top_p[:, None], 0.0)
        else:
            order = None  # inverse-CDF sampling needs no order: skip sorting 49k entries
        cumulative = probs.cumsum(-1)
        uniform = torch.stack([torch.rand((), generator=row.generator) for row in rows])
        pick = torch.searchsorted(cumulative, (uniform * cumulative[:, -1])[:, None]).clamp(
            max=cumulative.shape[-1] - 1
        )
        sampled = (order.gather(-1, pick) if order is not None else pick).squeeze(-1)
        return torch.where(greedy, logits.argmax(-1), sampled)

    def _advance(self, row: _Row, token: int) -> bool:
        """Take one token; False when the row is finished."""
        if token in self.end_ids:
            row.finish = "stop"
            return False
        row.tokens.append(token)
        if row.sampling.stop:  # decoding every step is only needed to watch for stop strings
            row.text = self.tokenizer.decode(row.tokens, skip_special_tokens=True)
        for stop in row.sampling.stop:
            at = row.text.find(stop)
            if at >= 0:
                row.text = row.text[:at]
                row.finish = "stop"
                return False
        if len(row.tokens) >= row.sampling.max_tokens:
            row.finish = "length"
            return False
        return True


def _rows_buffer(like: torch.Tensor, rows: int, positions: int) -> torch.Tensor:
    """An uninitialised ``[rows, heads, positions, dim]`` buffer for states shaped as ``like``."""
    _, heads, _, dim = like.shape
    return like.new_empty((rows, heads, positions, dim))


def _place(buffer: torch.Tensor, rows: list[int], states: torch.Tensor, width: int) -> None:
    """Write one prompt's ``[1, heads, length, dim]`` states into ``rows`` of ``buffer``,
    ending at column ``width`` with zeros (masked) on the left."""
    length = states.shape[2]
    for row in rows:
        buffer[row, :, : width - length].zero_()
        buffer[row, :, width - length : width] = states[0]


class _ReservedLayer(DynamicLayer):
    """A KV layer with room reserved for the tokens to come.

    The stock layer concatenates on every token, copying the whole context each step: with
    8 rows of 1,200-token agent prompts that was a quarter of the decoding time on the CPU.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        """``keys``/``values`` hold ``length`` positions, and room after them."""
        super().__init__()  # type: ignore[no-untyped-call]
        self._keys = keys
        self._values = values
        self._length = length
        self.device = keys.device
        self.is_initialized = True
        self._expose()

    def _expose(self) -> tuple[torch.Tensor, torch.Tensor]:
        keys, values = self._keys[:, :, : self._length], self._values[:, :, : self._length]
        self.keys, self.values = keys, values
        return keys, values

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self._length + key_states.shape[-2]
        if end > self._keys.shape[2]:  # past the reservation: grow by doubling
            grown = max(end, 2 * self._keys.shape[2])
            pad = (0, 0, 0, grown - self._keys.shape[2])
            self._keys = torch.nn.functional.pad(self._keys, pad)
            self._values = torch.nn.functional.pad(self._values, pad)
        self._keys[:, :, self._length : end] = key_states
        self._values[:, :, self._length : end] = value_states
        self._length = end
        return self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._keys = self._keys[indices]
        self._values = self._values[indices]
        self._expose()

    def pad_left(self, missing: int) -> None:
        """Shift every row right by ``missing`` masked positions (a longer prompt joined)."""
        pad = (0, 0, missing, 0)
        self._keys = torch.nn.functional.pad(self._keys, pad)
        self._values = torch.nn.functional.pad(self._values, pad)
        self._length += missing
        self._expose()

    @property
    def capacity(self) -> int:
        return int(self._keys.shape[2])

    def add_rows(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Append rows laid out as this layer's (its length, then room up to its capacity)."""
        self._keys = torch.cat([self._keys, keys])
        self._values = torch.cat([self._values, values])
        self._expose()


class PrefixCache:
    """The KV of recent prompts, bounded by total tokens, least recently used dropped first."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = (
            OrderedDict()
        )
        self.hits_tokens = 0  # prompt tokens not recomputed, for the stats endpoint

    def longest(self, ids: list[int]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        best, best_key = 0, None
        for key in self._entries:
            shared = _common_prefix(key, ids)
            if shared > best:
                best, best_key = shared, key
        if best_key is None:
            return 0, []
        self._entries.move_to_end(best_key)
        self.hits_tokens += best
        return best, self._entries[best_key]

    def put(self, ids: list[int], kv: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        if len(ids) > self.max_tokens:
            return
        key = tuple(ids)
        self._entries[key] = kv
        self._entries.move_to_end(key)
        while sum(len(k) for k in self._entries) > self.max_tokens:
            self._entries.popitem(last=False)


def _common_prefix(a: tuple[int, ...], b: list[int]) -> int:
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _generator(seed: int | None, sample_index: int) -> torch.Generator:
    generator = torch.Generator()
    # Sample k of a seeded request uses seed + k: n samples differ, and each is reproducible.
    generator.manual_seed(seed + sample_index if seed is not None else random.getrandbits(63))
    return generator
