"""Default training budgets that fit the machine they run on.

A 135M model on a CPU takes 20-30 s per GRPO step of 8 completions of 48 tokens on 2 idle cores
(TRAINING_NOTES.md), so the CPU default is 40 such steps, about half an hour, with a 30-minute
wall clock for prompts long enough to make a step cost minutes. Measured in
benchmarks/train.py (drone slice, tool_choice required, lr 3e-5): 30 steps of this shape lifted
the valid reward beyond its interval on the raw split and more on the dry-run-curated one. A GPU
or a served model gets the real budget: an epoch of the train split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from rft_schemas import AdapterKind, TrainingHyperparameters


class TrainingOverrides(BaseSettings):
    """``RFT_TRAIN_*``: budget settings for `rft run` and `rft train` (flags win over them)."""

    model_config = SettingsConfigDict(env_prefix="RFT_TRAIN_", extra="ignore")

    max_steps: int | None = None
    prompts_per_step: int | None = None
    samples_per_prompt: int | None = None
    max_completion_tokens: int | None = None
    learning_rate: float | None = None
    adapter: AdapterKind | None = None
    eval_every_steps: int | None = None
    eval_prompts: int | None = None
    eval_samples_per_prompt: int | None = None
    final_eval_prompts: int | None = None
    final_eval_samples_per_prompt: int | None = None
    wall_clock_budget_s: float | None = None
    tool_choice: str | None = None


@dataclass(frozen=True)
class Budget:
    hyperparameters: TrainingHyperparameters
    reason: str


CPU_DEFAULTS: dict[str, Any] = {
    "max_steps": 40, "prompts_per_step": 2, "samples_per_prompt": 4,
    "max_completion_tokens": 48, "adapter": AdapterKind.FULL, "learning_rate": 2e-5,
    "eval_every_steps": 10, "eval_prompts": 16, "eval_samples_per_prompt": 2,
    "final_eval_prompts": 48, "final_eval_samples_per_prompt": 4,
    # A step's cost grows with the prompt: ~25 s on short prompts, 125 s on the drone traces'
    # ~1,200-token prompts (measured through `rft submit --until J`, 2 loaded cores). The clock
    # keeps "about half an hour" true whatever the prompts: training stops at the step
    # boundary past it, then evaluates and compares as after its last step.
    "wall_clock_budget_s": 1800.0,
}
GPU_DEFAULTS: dict[str, Any] = {
    "epochs": 1.0, "prompts_per_step": 8, "samples_per_prompt": 8,
    "max_completion_tokens": 256, "adapter": AdapterKind.LORA, "learning_rate": 5e-5,
    "eval_every_steps": 20, "eval_prompts": 64, "eval_samples_per_prompt": 4,
    "final_eval_samples_per_prompt": 4,
}


def default_budget(device: str, overrides: dict[str, Any]) -> Budget:
    """``device`` is where the training runs ("cpu" or "cuda"); ``overrides`` are what the
    user set (None values are left to the default)."""
    from_env = TrainingOverrides().model_dump(exclude_none=True)
    given = {**from_env, **{k: v for k, v in overrides.items() if v is not None}}
    if device == "cpu":
        base, why = CPU_DEFAULTS, (
            "CPU budget: 40 steps of 2 prompts x 4 samples, 48-token answers, full fine-tune "
            "(LoRA is not faster on a CPU: generation dominates), valid reward every 10 steps "
            "on 16 prompts; about 25 s a step on short prompts, minutes on long ones, so "
            "training stops after 30 minutes if the 40 steps take longer. Set --max-steps, "
            "RFT_TRAIN_WALL_CLOCK_BUDGET_S or point at a GPU for more")
    else:
        base, why = GPU_DEFAULTS, (
            "GPU budget: one epoch of the train split, 8 prompts x 8 samples per step, "
            "256-token answers, LoRA")
    values = {**base, **given}
    if "max_steps" in given:
        values.pop("epochs", None)
    hp = TrainingHyperparameters(**values)
    if given:
        why += f"; set by you: {', '.join(sorted(given))}"
    return Budget(hp, why)
