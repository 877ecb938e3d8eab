"""The training entrypoint: ``python -m rft_trainer_gateway.worker JOB_DIR [--resume-from DIR]``.

Every backend runs this (a child process of the gateway or of `rft train`, a Kubernetes Job).
It reads the job directory (:class:`JobFiles`), trains with TRL's GRPOTrainer on the job's
grader as the reward, writes events, checkpoints and the curves, then runs step J's comparison
(base model against the best checkpoint) and writes ``results.json`` and ``comparison.png``.

Choices, and why (TRAINING_NOTES.md has the measurements behind them):
- loss ``dapo`` (TRL's default): token-level normalisation over the batch, no length bias;
- ``beta`` 0: no KL term, so no reference model forward pass (a third of a CPU step); with
  LoRA and few steps the policy stays near the base anyway; KL is logged when beta > 0;
- rewards scaled per batch, not per group: a group whose samples differ by 0.01 would get
  advantages of +-1 under group scaling, amplifying grader noise into gradient.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import signal
import sys
from collections.abc import Coroutine
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field

from rft_grader.dryrun.prompts import DryRunPrompt, load_prompts, stratified_sample
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.llm_judge import LLMJudge
from rft_runtime.llm import LLMClient, LLMSettings, llm_endpoint
from rft_runtime.settings import RuntimeSettings
from rft_schemas import (
    AdapterKind,
    JobStatus,
    TrainingEvent,
    TrainingEventKind,
    TrainingHyperparameters,
    TrainingJob,
)
from rft_trainer_gateway import charts
from rft_trainer_gateway.checkpoints import best_checkpoint, list_checkpoints
from rft_trainer_gateway.comparison import compare
from rft_trainer_gateway.evaluation import Sampling, last_user_text, sample_and_score
from rft_trainer_gateway.event_sink import EventPublisher, publishing_sink
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.prompting import render_prompt
from rft_trainer_gateway.reward import GraderReward
from rft_trainer_gateway.trainer_events import EventsCallback

T = TypeVar("T")


class WorkerSettings(RuntimeSettings):
    """What the training process reads from its environment (``RFT_TRAINING_*``)."""

    training_vllm_server_url: str | None = Field(
        default=None,
        description="TRL's vLLM server for rollouts (server mode); the kubernetes backend sets "
                    "it; unset = generate with the training model itself",
    )
    training_vllm_server_timeout_s: float = Field(
        default=1800.0, gt=0, description="how long to wait for that server to come up"
    )
    training_publish_events: bool = Field(
        default=False,
        description="also publish each event to rft.training.events.v1 (a pod whose job dir "
                    "the gateway cannot read); the local backend leaves it to the gateway",
    )


class StopRequest:
    """Set by SIGTERM/SIGINT or the cancel flag file; read at step boundaries."""

    def __init__(self, files: JobFiles) -> None:
        self.files = files
        self.signalled = False

    def install(self) -> None:
        def handler(signum: int, frame: object) -> None:
            self.signalled = True

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    @property
    def requested(self) -> bool:
        return self.signalled or self.files.cancel_flag.exists()


class EventLoopRunner:
    """One event loop for the whole run: graders that hold async clients (judges) keep them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)


def total_steps(hp: TrainingHyperparameters, train_rows: int) -> int:
    if hp.max_steps is not None:
        return hp.max_steps
    return max(1, math.ceil(hp.epochs * train_rows / hp.step_prompts))


def grpo_arguments(hp: TrainingHyperparameters, steps: int, device: str) -> dict[str, Any]:
    """GRPOConfig's training arguments from a job's hyperparameters: what one step does.
    benchmarks/train.py measures TRL alone with exactly these."""
    return {
        "max_steps": steps,
        "per_device_train_batch_size": hp.completions_per_step,
        "gradient_accumulation_steps": 1,
        "num_generations": hp.samples_per_prompt,
        "max_completion_length": hp.max_completion_tokens,
        "learning_rate": hp.learning_rate,
        "beta": hp.beta,
        "loss_type": hp.loss_type,
        "scale_rewards": hp.scale_rewards,
        "temperature": hp.temperature,
        "logging_steps": 1,
        "seed": hp.seed,
        "use_cpu": device == "cpu",
        # Recomputing activations saves GPU memory for big models; on a CPU with a small one it
        # only costs time.
        "gradient_checkpointing": device != "cpu",
        "disable_tqdm": True,
        "model_init_kwargs": {"dtype": "float32"} if device == "cpu" else None,
    }


def eval_batch_prompts(eval_prompts: int, limit: int = 8) -> int:
    """Prompts per eval batch: the largest divisor of the eval set up to ``limit``, so every
    batch holds whole groups."""
    return max(d for d in range(1, min(limit, eval_prompts) + 1) if eval_prompts % d == 0)


class Worker:
    def __init__(self, files: JobFiles, resume_from: Path | None) -> None:
        self.files = files
        self.job: TrainingJob = files.read_job()
        self.hp = self.job.hyperparameters
        self.log = EventLog(files.events)
        self.resume_from = resume_from
        self.stop = StopRequest(files)
        self.run_async = EventLoopRunner()
        self.settings = WorkerSettings()
        self.resources = ExitStack()
        self.sink: EventPublisher | None = (
            publishing_sink(self.settings) if self.settings.training_publish_events else None)

    @property
    def stop_requested(self) -> bool:
        return self.stop.requested

    def emit(self, **fields: Any) -> TrainingEvent:
        fields.setdefault("status", JobStatus.RUNNING)
        event = self.log.append(TrainingEvent(job_id=self.job.id, **fields))
        if self.sink is not None:
            self.sink(event)
        return event

    def close(self) -> None:
        self.resources.close()
        if self.sink is not None:
            self.sink.close()

    def run(self) -> JobStatus:
        import torch
        from transformers import AutoTokenizer

        self.stop.install()
        # transformers' TensorBoard callback takes its directory only from this variable.
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(self.files.tensorboard))
        train, bad_train = load_prompts(self.files.train)
        valid, bad_valid = load_prompts(self.files.valid)
        if not train or not valid:
            raise ValueError(f"empty split: {len(train)} train and {len(valid)} valid prompts "
                             f"({len(bad_train)} and {len(bad_valid)} bad lines)")
        config = json.loads(self.files.grader.read_text())
        graders = self._graders(config)
        grader = graders.get(config)
        rows = train + valid
        reward = GraderReward(grader, rows, run=self.run_async, tool_choice=self.hp.tool_choice)
        tokenizer = AutoTokenizer.from_pretrained(self.job.base_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        device = self._device(torch)
        steps = total_steps(self.hp, len(train))
        eval_set = stratified_sample(valid, min(self.hp.eval_prompts, len(valid)), self.hp.seed)
        resumed = f"resumed from {self.resume_from.name}" if self.resume_from else "started"
        self.emit(kind=TrainingEventKind.STATUS, total_steps=steps,
                  message=f"training {resumed}: {len(train)} train prompts, {len(valid)} valid "
                          f"({len(eval_set)} scored every {self.hp.eval_every_steps} steps), "
                          f"{self.hp.step_prompts} prompts x k={self.hp.samples_per_prompt} per "
                          f"step, {steps} steps, {self.hp.adapter.value} on {device}")
        trainer = self._trainer(train, eval_set, len(train), reward, tokenizer, device, steps)
        trainer.train(resume_from_checkpoint=str(self.resume_from) if self.resume_from else None)
        callback = next(c for c in trainer.callback_handler.callbacks
                        if isinstance(c, EventsCallback))
        del trainer
        gc.collect()
        charts.reward_curves(self.log.read(), self.files.reward_curves)
        if callback.cancelled:
            self.emit(kind=TrainingEventKind.STATUS, status=JobStatus.CANCELLED,
                      step=callback.step, total_steps=steps, progress=callback.step / steps,
                      message=f"cancelled at step {callback.step}; the last checkpoint is kept")
            graders.close()
            return JobStatus.CANCELLED
        self._compare(valid, rows, reward, tokenizer, device, grader.name, callback.step, steps)
        graders.close()
        self.emit(kind=TrainingEventKind.STATUS, status=JobStatus.SUCCEEDED, step=callback.step,
                  total_steps=steps, progress=1.0,
                  message=f"done: {callback.stop_reason}; results in {self.files.results.name}")
        return JobStatus.SUCCEEDED

    def _graders(self, config: dict[str, Any]) -> GraderCache:
        """Model graders (judges) get an LLM client on the run's one event loop: the
        configured endpoint, else a local server started for the run's life."""
        settings = DryRunSettings()
        if not _uses_judge(config):
            return GraderCache(settings=settings)
        endpoint = self.resources.enter_context(llm_endpoint(LLMSettings()))
        client = LLMClient(endpoint)
        self.run_async(client.__aenter__())
        self.resources.callback(lambda: self.run_async(client.__aexit__(None, None, None)))
        judge = LLMJudge(client, model=settings.grader_judge_model,
                         max_tokens=settings.grader_judge_max_tokens)
        return GraderCache(judge=judge, settings=settings)

    def _device(self, torch: Any) -> str:
        if self.job.device != "auto":
            return self.job.device
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _trainer(self, train: list[DryRunPrompt], eval_set: list[DryRunPrompt],
                 valid_offset: int, reward: GraderReward, tokenizer: Any, device: str,
                 steps: int) -> Any:
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        hp = self.hp
        row_of = {id(p): i for i, p in enumerate(reward.rows)}
        train_data = Dataset.from_list(
            [{"prompt": render_prompt(tokenizer, p, hp.tool_choice), "row": row_of[id(p)]}
             for p in train])
        eval_data = Dataset.from_list(
            [{"prompt": render_prompt(tokenizer, p, hp.tool_choice), "row": row_of[id(p)]}
             for p in eval_set])
        eval_k = hp.eval_samples_per_prompt if hp.eval_samples_per_prompt >= 2 else 2
        args = GRPOConfig(
            output_dir=str(self.files.checkpoints),
            **grpo_arguments(hp, steps, device),
            num_generations_eval=eval_k,
            per_device_eval_batch_size=eval_k * eval_batch_prompts(len(eval_set)),
            eval_strategy="steps",
            eval_steps=hp.eval_every_steps,
            save_strategy="steps",
            save_steps=hp.eval_every_steps,
            report_to=hp.report_to,
            remove_unused_columns=False,
            shuffle_dataset=True,
            **self._rollout_server(),
        )
        peft_config = None
        if hp.adapter is AdapterKind.LORA:
            from peft import LoraConfig

            peft_config = LoraConfig(r=hp.lora_rank, lora_alpha=hp.lora_alpha,
                                     target_modules="all-linear", task_type="CAUSAL_LM")
        callback = EventsCallback(self, steps)
        return GRPOTrainer(
            model=self.job.base_model, reward_funcs=[reward], args=args,
            train_dataset=train_data, eval_dataset=eval_data, processing_class=tokenizer,
            peft_config=peft_config, callbacks=[callback],
        )

    def _rollout_server(self) -> dict[str, Any]:
        url = self.settings.training_vllm_server_url
        if not url:
            return {}
        return {"use_vllm": True, "vllm_mode": "server", "vllm_server_base_url": url,
                "vllm_server_timeout": self.settings.training_vllm_server_timeout_s}

    def _compare(self, valid: list[DryRunPrompt], rows: list[DryRunPrompt],
                 reward: GraderReward, tokenizer: Any, device: str, grader_name: str,
                 step: int, steps: int) -> None:
        best = best_checkpoint(list_checkpoints(self.files.checkpoints))
        if best is None:
            raise RuntimeError("training wrote no checkpoint to compare")
        hp = self.hp
        prompts = stratified_sample(valid, hp.final_eval_prompts or len(valid), hp.seed)
        sampling = Sampling(samples_per_prompt=hp.final_eval_samples_per_prompt,
                            max_new_tokens=hp.max_completion_tokens,
                            temperature=hp.temperature, seed=hp.seed)
        position = {id(p): i for i, p in enumerate(rows)}
        row_index = {p.id: position[id(p)] for p in prompts}
        outcomes = {}
        for label, path in (("base", self.job.base_model), ("tuned", best.path)):
            self.emit(kind=TrainingEventKind.STATUS, step=step, total_steps=steps,
                      progress=step / steps,
                      message=f"step J: sampling {len(prompts)} valid prompts x "
                              f"{sampling.samples_per_prompt} from the {label} model")
            model = load_model(path, self.job.base_model, device)
            outcomes[label] = sample_and_score(model, tokenizer, prompts, reward, row_index,
                                               sampling)
            del model
            gc.collect()
        comparison = compare(
            job_id=self.job.id, base_model=self.job.base_model,
            tuned_model=f"{self.job.id}/{best.name}", grader_name=grader_name,
            before=outcomes["base"], after=outcomes["tuned"],
            prompts={p.id: last_user_text(p) for p in prompts},
            samples_per_prompt=sampling.samples_per_prompt, seed=hp.seed,
        )
        self.files.results.write_text(comparison.model_dump_json(indent=2))
        charts.comparison_chart(comparison, self.files.comparison)
        self.emit(kind=TrainingEventKind.RESULTS, step=step, total_steps=steps, progress=1.0,
                  checkpoint=best.name,
                  message=f"valid reward {comparison.before.mean:.3f} -> "
                          f"{comparison.after.mean:.3f} ({comparison.change:+.3f}, interval "
                          f"[{comparison.interval.low:+.3f}, {comparison.interval.high:+.3f}]); "
                          f"deploy {'open' if comparison.deployable else 'closed'}")


def _uses_judge(config: Any) -> bool:
    """Whether a grader config holds a model grader anywhere (a multi grader's parts too)."""
    if isinstance(config, dict):
        if config.get("type") in ("score_model", "label_model"):
            return True
        return any(_uses_judge(value) for value in config.values())
    if isinstance(config, list):
        return any(_uses_judge(value) for value in config)
    return False


def load_model(path: str, base_model: str, device: str) -> Any:
    """A checkpoint as a model: a LoRA checkpoint over its base, a full one on its own."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    if (Path(path) / "adapter_config.json").is_file():
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)
        model = PeftModel.from_pretrained(base, path).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model.to(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rft_trainer_gateway.worker")
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--resume-from", type=Path, default=None)
    args = parser.parse_args(argv)
    files = JobFiles(args.job_dir)
    worker = Worker(files, args.resume_from)
    try:
        status = worker.run()
    except Exception as exc:  # the event says why; the traceback goes to training.log
        import traceback

        traceback.print_exc()
        worker.emit(kind=TrainingEventKind.STATUS, status=JobStatus.FAILED,
                    message=f"{type(exc).__name__}: {exc}"[:2000])
        return 1
    finally:
        worker.close()
    return 0 if status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED) else 1


if __name__ == "__main__":
    sys.exit(main())
