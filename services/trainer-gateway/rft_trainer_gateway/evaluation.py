"""Sampling k answers per valid prompt from a model and scoring them with the job's grader.

Both models of step J's comparison go through here with the same prompts, batches and seeds:
before each batch the torch generator is seeded from (seed, batch number), so the base model
and the tuned one draw from the same random stream and differ only by their weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_trainer_gateway.comparison import SampleOutcome
from rft_trainer_gateway.prompting import answer_text, render_prompt, sample_of
from rft_trainer_gateway.reward import GraderReward

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Sampling:
    samples_per_prompt: int
    max_new_tokens: int
    temperature: float
    seed: int
    prompts_per_batch: int = 4


def sample_and_score(model: Any, tokenizer: Any, prompts: Sequence[DryRunPrompt],
                     reward: GraderReward, row_index: dict[str, int], sampling: Sampling,
                     progress: Progress | None = None) -> list[SampleOutcome]:
    outcomes: list[SampleOutcome] = []
    model.eval()
    device = next(model.parameters()).device
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only: pad on the left so answers start aligned
    try:
        for batch_number, start in enumerate(range(0, len(prompts), sampling.prompts_per_batch)):
            batch = list(prompts[start:start + sampling.prompts_per_batch])
            texts = [render_prompt(tokenizer, p, reward.tool_choice) for p in batch]
            encoded = tokenizer(texts, return_tensors="pt", padding=True,
                                add_special_tokens=False).to(device)
            torch.manual_seed(sampling.seed * 100_003 + batch_number)
            with torch.no_grad():
                generated = model.generate(
                    **encoded, do_sample=True, temperature=sampling.temperature,
                    max_new_tokens=sampling.max_new_tokens,
                    num_return_sequences=sampling.samples_per_prompt,
                    pad_token_id=tokenizer.pad_token_id,
                )
            answers = generated[:, encoded["input_ids"].shape[1]:]
            decoded = tokenizer.batch_decode(answers, skip_special_tokens=True)
            lengths = [_answer_length(row, tokenizer) for row in answers]
            k = sampling.samples_per_prompt
            indices = [row_index[p.id] for p in batch for _ in range(k)]
            scored = reward.score(decoded, indices)
            for j, (text, length, score) in enumerate(zip(decoded, lengths, scored, strict=True)):
                prompt = batch[j // k]
                outcomes.append(SampleOutcome(
                    prompt_id=prompt.id, topic=prompt.topic, sample_index=j % k,
                    output=answer_text(text, prompt, reward.tool_choice),
                    reward=score.reward, completion_tokens=length,
                    tool_calls=len(sample_of(text, prompt, reward.tool_choice).output_tools),
                ))
            if progress is not None:
                progress(min(start + len(batch), len(prompts)), len(prompts))
    finally:
        tokenizer.padding_side = padding_side
    return outcomes


def _answer_length(row: torch.Tensor, tokenizer: Any) -> int:
    """Tokens up to and including the first end-of-sequence (the rest is padding)."""
    eos = tokenizer.eos_token_id
    ids = row.tolist()
    return ids.index(eos) + 1 if eos in ids else len(ids)


def last_user_text(prompt: DryRunPrompt) -> str:
    for message in reversed(prompt.messages):
        if message.role == "user":
            return message.text()
    return ""
