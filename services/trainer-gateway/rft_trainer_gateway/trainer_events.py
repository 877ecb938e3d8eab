"""The training process's view of the trainer: TRL's logs turned into the step screen's events,
the best checkpoints kept, and the stops at a step boundary (cancel, wall-clock budget, the last
step)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Protocol

from transformers import TrainerCallback

from rft_schemas import TrainingEvent, TrainingEventKind, TrainingHyperparameters
from rft_trainer_gateway.checkpoints import prune, write_meta
from rft_trainer_gateway.reward import GRADER_ERROR_METRIC


class Emitter(Protocol):
    hp: TrainingHyperparameters

    @property
    def stop_requested(self) -> bool: ...

    def emit(self, **fields: Any) -> TrainingEvent: ...


def _metric(logs: dict[str, float], *names: str) -> float | None:
    for name in names:
        if name in logs and logs[name] is not None and math.isfinite(logs[name]):
            return float(logs[name])
    return None


def _graders(logs: dict[str, float], prefix: str) -> dict[str, float]:
    return {k.removeprefix(prefix): float(v) for k, v in logs.items()
            if k.startswith(prefix) and isinstance(v, int | float)}


class EventsCallback(TrainerCallback):
    """Turns the trainer's logs into the step screen's events, keeps the best checkpoints,
    and stops at a step boundary on cancel, on the wall-clock budget, or at the last step."""

    def __init__(self, worker: Emitter, steps: int) -> None:
        self.worker = worker
        self.steps = steps
        self.step = 0
        self.cancelled = False
        self.stop_reason = f"{steps} steps"
        self.began = time.monotonic()
        self.first_step: int | None = None
        self.step_began = time.monotonic()
        self.last_step_seconds: float | None = None
        self.valid_reward_at: dict[int, float] = {}

    def _eta(self, step: int) -> float | None:
        if self.first_step is None or step <= self.first_step:
            return None
        per_step = (time.monotonic() - self.began) / (step - self.first_step)
        return per_step * max(self.steps - step, 0)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.began = time.monotonic()
        self.first_step = state.global_step

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step_began = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.step = state.global_step
        self.last_step_seconds = time.monotonic() - self.step_began
        budget = self.worker.hp.wall_clock_budget_s
        elapsed = time.monotonic() - self.began
        if self.worker.stop_requested:
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True  # the last checkpoint is kept
        elif budget is not None and elapsed + (self.last_step_seconds or 0) > budget:
            self.stop_reason = (f"stopped at step {self.step} of {self.steps}: the wall-clock "
                                f"budget of {budget:.0f} s would pass during the next step")
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True
        elif self.step >= self.steps:
            control.should_evaluate = True
            control.should_save = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        logs = logs or {}
        step = state.global_step
        common = {"step": step, "total_steps": self.steps, "epoch": float(state.epoch or 0.0),
                  "progress": min(step / self.steps, 1.0)}
        if "eval_reward" in logs:
            valid = _metric(logs, "eval_reward")
            if valid is not None:
                self.valid_reward_at[step] = valid
            self.worker.emit(kind=TrainingEventKind.EVAL, valid_reward=valid,
                             valid_reward_by_grader=_graders(logs, "eval_graders/"),
                             eta_seconds=self._eta(step), **common)
        elif "reward" in logs:
            beta = self.worker.hp.beta
            self.worker.emit(
                kind=TrainingEventKind.STEP, train_reward=_metric(logs, "reward"),
                train_reward_by_grader=_graders(logs, "graders/"),
                zero_signal_share=_metric(logs, "frac_reward_zero_std"),
                grader_error_share=_metric(logs, GRADER_ERROR_METRIC),
                completion_length=_metric(logs, "completions/mean_length"),
                kl=_metric(logs, "kl") if beta > 0 else None, loss=_metric(logs, "loss"),
                step_seconds=self.last_step_seconds, eta_seconds=self._eta(step), **common)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        path = Path(args.output_dir) / f"checkpoint-{step}"
        if not path.is_dir():
            return
        write_meta(path, step, self.valid_reward_at.get(step))
        removed = prune(Path(args.output_dir), self.worker.hp.keep_best_checkpoints)
        note = f"; pruned {', '.join(removed)}" if removed else ""
        self.worker.emit(kind=TrainingEventKind.CHECKPOINT, step=step, total_steps=self.steps,
                         progress=min(step / self.steps, 1.0), checkpoint=path.name,
                         valid_reward=self.valid_reward_at.get(step),
                         message=f"saved {path.name}{note}")
