"""Batched decoding with transformers on the CPU: many prompts, many samples each, one loop.

``transformers.generate`` takes one temperature, one stop list and one seed per call; requests
grouped by the batcher each have their own, so this loop samples every row with its own
settings. A prompt is prefilled once and its cache copied for its ``n`` samples; rows that finish
leave the batch, so a short answer stops costing compute as soon as it ends.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

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


@dataclass
class _Row:
    job: int
    sampling: Sampling
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    finish: Finish | None = None


class Decoder:
    """A causal LM and its tokenizer, loaded from a plain checkpoint directory."""

    def __init__(self, checkpoint: Path, threads: int | None = None) -> None:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise ImportError(
                "the local LLM server needs transformers: pip install 'rft-runtime[local-llm]'"
            ) from None
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
        # One batch at a time: the batcher serializes calls, this guards direct use from threads.
        self._lock = threading.Lock()

    def encode_chat(self, turns: list[dict[str, str]]) -> list[int]:
        """The model's own chat template, with the assistant turn opened."""
        ids = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # some versions return a BatchEncoding
            ids = ids["input_ids"]
        return [int(i) for i in ids]

    def generate(self, jobs: list[PromptJob]) -> list[list[Completion]]:
        """Completions per job, in job order, ``job.n`` each."""
        with self._lock, torch.inference_mode():
            return self._generate(jobs)

    def _generate(self, jobs: list[PromptJob]) -> list[list[Completion]]:
        width = max(len(job.prompt_ids) for job in jobs)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        for i, job in enumerate(jobs):  # left padding: every row's next token lands in one column
            ids[i, width - len(job.prompt_ids) :] = torch.tensor(job.prompt_ids)
            mask[i, width - len(job.prompt_ids) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
            logits_to_keep=1,
        )
        rows = [
            _Row(job=j, sampling=job.sampling, generator=_generator(job.sampling.seed, k))
            for j, job in enumerate(jobs)
            for k in range(job.n)
        ]
        expand = torch.tensor([row.job for row in rows])
        cache = out.cache
        cache.reorder_cache(expand)
        logits = out.logits[:, -1, :].float()[expand]
        mask = mask[expand]
        next_position = positions[expand, -1] + 1
        live = list(range(len(rows)))
        while True:
            chosen = self._sample(logits, [rows[r] for r in live])
            keep: list[int] = []
            for k, r in enumerate(live):
                if self._advance(rows[r], int(chosen[k])):
                    keep.append(k)
            if not keep:
                break
            if len(keep) < len(live):
                index = torch.tensor(keep)
                cache.reorder_cache(index)
                mask, chosen, next_position = mask[index], chosen[index], next_position[index]
                live = [live[k] for k in keep]
            mask = torch.cat([mask, torch.ones((len(live), 1), dtype=torch.long)], dim=1)
            out = self.model(
                input_ids=chosen[:, None], attention_mask=mask,
                position_ids=next_position[:, None], cache=cache, use_cache=True,
            )
            logits = out.logits[:, -1, :].float()
            next_position = next_position + 1
        results: list[list[Completion]] = [[] for _ in jobs]
        for row in rows:
            assert row.finish is not None
            results[row.job].append(Completion(row.text, len(row.tokens), row.finish))
        return results

    def _sample(self, logits: torch.Tensor, rows: list[_Row]) -> torch.Tensor:
        """One token per row. Each row draws its uniform number from its own generator, so a
        seeded request samples the same tokens whichever other requests share its batch."""
        temperature = torch.tensor([max(row.sampling.temperature, 1e-6) for row in rows])
        greedy = torch.tensor([row.sampling.temperature == 0 for row in rows])
        top_p = torch.tensor([row.sampling.top_p for row in rows])
        probs = torch.softmax(logits / temperature[:, None], dim=-1)
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        cumulative = sorted_probs.cumsum(-1)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        sorted_probs = sorted_probs.masked_fill(cumulative - sorted_probs >= top_p[:, None], 0.0)
        cumulative = sorted_probs.cumsum(-1)
        uniform = torch.stack([torch.rand((), generator=row.generator) for row in rows])
        pick = torch.searchsorted(cumulative, (uniform * cumulative[:, -1])[:, None]).clamp(
            max=cumulative.shape[-1] - 1
        )
        sampled = order.gather(-1, pick).squeeze(-1)
        return torch.where(greedy, logits.argmax(-1), sampled)

    def _advance(self, row: _Row, token: int) -> bool:
        """Take one token; False when the row is finished."""
        if token in self.end_ids:
            row.finish = "stop"
            return False
        row.tokens.append(token)
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


def _generator(seed: int | None, sample_index: int) -> torch.Generator:
    generator = torch.Generator()
    # Sample k of a seeded request uses seed + k: n samples differ, and each is reproducible.
    generator.manual_seed(seed + sample_index if seed is not None else random.getrandbits(63))
    return generator
