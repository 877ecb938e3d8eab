"""Step I's proof: GRPO on a verifiable slice of real traces, SmolLM2-135M on this CPU.

    .venv/bin/python benchmarks/train.py [--steps 40] [--out out/bench-train]

The slice (benchmarks/training_data.py): the tool-calling prompts of the drone cookbook and of
ToolACE (examples/data) that end on the call the agent made, sanitized by step A, each offering
the reference call's tool and two others. The reward is the tool_usage preset (the grader the
journey picks for tool prompts). The valid split is held out, stratified by source.

Prints: the base and the final valid reward with their paired 95% interval, per topic; the
curve (train reward per step, valid reward per eval); the platform's mean step time against
TRL alone on the same rows and config (a plain GRPOTrainer, a trivial reward, no callbacks),
and their ratio (target: overhead <= 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from training_data import verifiable_slice, write_rows

from rft_grader.presets import build_preset, grader_config_json
from rft_schemas import (
    AdapterKind,
    EvalComparison,
    TrainingEvent,
    TrainingEventKind,
    TrainingHyperparameters,
)
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.preparation import job_for_run_dir, resolve_base_model
from rft_trainer_gateway.worker import grpo_arguments

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "examples/data/drone_training.jsonl",
           REPO / "examples/data/toolace_sharegpt_100.json"]


def sanitize(out: Path) -> Path:
    target = out / "sanitized"
    if not (target / "sanitized_prompts.jsonl").is_file():
        subprocess.run([sys.executable, "-m", "rft_cli", "sanitize", *map(str, SOURCES),
                        "--out", str(target), "--dataset", "bench-train"], check=True,
                       env={**os.environ, "RFT_DATA_DIR": str(out / "state")},
                       stdout=subprocess.DEVNULL)
    return target / "sanitized_prompts.jsonl"


def split(rows: list[dict], valid_count: int, seed: int) -> tuple[list[dict], list[dict]]:
    for row in rows:
        source = "drone" if "drone" in json.dumps(row.get("messages", [])[:1]).lower() else \
            "toolace"
        row["topic"] = source
    rng = random.Random(seed)
    by_topic: dict[str, list[dict]] = {}
    for row in rows:
        by_topic.setdefault(row["topic"], []).append(row)
    valid: list[dict] = []
    for topic_rows in by_topic.values():
        rng.shuffle(topic_rows)
        take = round(valid_count * len(topic_rows) / len(rows))
        valid += topic_rows[:take]
    chosen = {row["id"] for row in valid}
    return [r for r in rows if r["id"] not in chosen], valid


def run_platform(run: Path, hp: TrainingHyperparameters) -> tuple[list[TrainingEvent], float]:
    files = JobFiles(run)
    job = job_for_run_dir(run, dataset="bench-train", hp=hp,
                          base_model=resolve_base_model(None), device="cpu")
    files.write_job(job)
    began = time.monotonic()
    with (run / "training.log").open("w") as log:
        subprocess.run([sys.executable, "-m", "rft_trainer_gateway.worker", str(run)],
                       check=True, stdout=log, stderr=subprocess.STDOUT)
    events = [TrainingEvent.model_validate_json(line)
              for line in files.events.read_text().splitlines()]
    return events, time.monotonic() - began


def trl_alone_step_seconds(run: Path, hp: TrainingHyperparameters, steps: int) -> float:
    """A plain GRPOTrainer on the same rendered prompts and config, a trivial reward, no
    platform callback, no evals or checkpoints: the floor the platform's step is measured
    against."""
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rft_grader.dryrun.prompts import load_prompts
    from rft_trainer_gateway.prompting import render_prompt

    base = resolve_base_model(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompts, _ = load_prompts(run / "rft_prompts.train.jsonl")
    data = Dataset.from_list([{"prompt": render_prompt(tokenizer, p)} for p in prompts])
    times: list[float] = []

    class StepTimer(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.began = time.monotonic()

        def on_step_end(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times.append(time.monotonic() - self.began)

    def length_reward(completions, **_):  # type: ignore[no-untyped-def]
        return [float(len(c)) / 100 for c in completions]

    args = GRPOConfig(output_dir=str(run / "trl-alone"), **grpo_arguments(hp, steps, "cpu"),
                      report_to=[], save_strategy="no")
    trainer = GRPOTrainer(model=base, reward_funcs=[length_reward], args=args,
                          train_dataset=data, processing_class=tokenizer,
                          callbacks=[StepTimer()])
    trainer.train()
    return statistics.fmean(times[1:] or times)  # the first step pays one-time warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--valid", type=int, default=40, help="held-out prompts")
    parser.add_argument("--trl-steps", type=int, default=4, help="steps of TRL alone")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench-train")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = verifiable_slice(sanitize(args.out), distractors=2, seed=args.seed)
    train, valid = split(rows, args.valid, args.seed)
    run = args.out / "run"
    run.mkdir(exist_ok=True)
    for name in ("training_events.jsonl", "results.json"):
        (run / name).unlink(missing_ok=True)
    write_rows(train, run / "rft_prompts.train.jsonl")
    write_rows(valid, run / "rft_prompts.valid.jsonl")
    (run / "grader_config.json").write_text(grader_config_json(build_preset("tool_usage")))
    hp = TrainingHyperparameters(
        max_steps=args.steps, prompts_per_step=2, samples_per_prompt=4,
        max_completion_tokens=48, adapter=AdapterKind.FULL, learning_rate=2e-5,
        eval_every_steps=10, eval_prompts=16, eval_samples_per_prompt=2,
        final_eval_prompts=len(valid), final_eval_samples_per_prompt=4, seed=args.seed,
        report_to=[])
    print(f"machine: {os.cpu_count()} cores; slice: {len(rows)} prompts, {len(train)} train, "
          f"{len(valid)} valid; {args.steps} steps of {hp.step_prompts} prompts x "
          f"k={hp.samples_per_prompt}, {hp.max_completion_tokens} tokens, full fine-tune, "
          f"lr {hp.learning_rate}")
    events, seconds = run_platform(run, hp)
    results = EvalComparison.model_validate_json((run / "results.json").read_text())
    steps = [e for e in events if e.kind is TrainingEventKind.STEP]
    evals = [e for e in events if e.kind is TrainingEventKind.EVAL]
    print(f"\nplatform run: {seconds / 60:.1f} min")
    print("curve (step: train reward, no-signal share; * valid reward):")
    for event in steps:
        print(f"  {event.step:3d}: {event.train_reward:.3f}  {event.zero_signal_share:.2f}")
    for event in evals:
        print(f"  * step {event.step}: valid {event.valid_reward:.3f} "
              f"{json.dumps({k: round(v, 3) for k, v in event.valid_reward_by_grader.items()})}")
    print(f"\nvalid reward, base -> tuned ({results.prompts} prompts x "
          f"{results.samples_per_prompt} samples, same seeds):")
    print(f"  overall: {results.before.mean:.3f} -> {results.after.mean:.3f}, change "
          f"{results.change:+.3f}, 95% interval [{results.interval.low:+.3f}, "
          f"{results.interval.high:+.3f}] -> "
          + ("rose beyond its interval" if results.interval.low > 0 else
             "NOT beyond its interval"))
    for topic, delta in sorted(results.by_topic.items()):
        print(f"  {topic}: {delta.before:.3f} -> {delta.after:.3f} ({delta.change:+.3f}, "
              f"[{delta.interval.low:+.3f}, {delta.interval.high:+.3f}], {delta.prompts} prompts)"
              f"{' REGRESSION' if delta.regression else ''}")
    if results.tool_call_rate:
        print(f"  tool-call rate {results.tool_call_rate.before:.2f} -> "
              f"{results.tool_call_rate.after:.2f}")
    platform_step = statistics.fmean(e.step_seconds for e in steps[1:] if e.step_seconds)
    trl_step = trl_alone_step_seconds(run, hp, args.trl_steps)
    print(f"\nstep time: platform {platform_step:.1f} s, TRL alone {trl_step:.1f} s, ratio "
          f"{platform_step / trl_step:.2f} (overhead {platform_step / trl_step - 1:+.0%}; "
          "target <= +10%)")


if __name__ == "__main__":
    main()
