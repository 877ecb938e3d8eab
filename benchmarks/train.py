"""Step I's proof, and the platform's reason to exist: GRPO on a verifiable slice of real
traces, SmolLM2-135M on this CPU, trained on the raw split and on the split the dry run curated.

    .venv/bin/python benchmarks/train.py [--steps 30] [--out out/bench-train]

The slice (benchmarks/training_data.py): the tool-calling prompts of the drone cookbook and of
ToolACE (examples/data) that end on the call the agent made, sanitized by step A, each offering
the reference call's tool and two others. The reward is the tool_usage preset (the grader the
journey picks for tool prompts). The valid split is held out, stratified by source. The agent's
system prompt says it always calls a function, so the job sets ``tool_choice: required``: the
answer is opened as a call, as the local server (and vLLM) serve that request. Without it the
135M base model never opens a call and every group scores 0: no signal.

1. Step H's dry run scores the base model on every train prompt (k=4, through the local LLM
   server) and prunes the prompts whose samples all failed or all passed: the curated split.
2. Two jobs with the same budget and seed, side by side (one CPU thread each): the raw train
   split and the curated one. Each ends with step J's base-vs-tuned comparison on the valid split.
3. TRL alone (a plain GRPOTrainer, a trivial reward, no callbacks, evals or checkpoints) and the
   platform's worker, a few steps each, side by side on the same rows and config: the overhead.

Prints, per job: the base and final valid reward with the paired 95% interval, per topic, and
the curve; then the curated job's steps to reach the raw job's final valid reward; then the step
times and their ratio (target: overhead <= 10%).
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
    DryRunReport,
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


ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def prepare_run(run: Path, train: Path, valid: Path, grader_json: str) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    for name in ("training_events.jsonl", "results.json", "training_job.json"):
        (run / name).unlink(missing_ok=True)
    (run / "rft_prompts.train.jsonl").write_bytes(train.read_bytes())
    (run / "rft_prompts.valid.jsonl").write_bytes(valid.read_bytes())
    (run / "grader_config.json").write_text(grader_json)
    return run


def start_platform(run: Path, hp: TrainingHyperparameters, dataset: str) -> subprocess.Popen[bytes]:
    files = JobFiles(run)
    files.write_job(job_for_run_dir(run, dataset=dataset, hp=hp,
                                    base_model=resolve_base_model(None), device="cpu"))
    log = (run / "training.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "rft_trainer_gateway.worker", str(run)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD})


def start_trl_alone(run: Path, steps: int) -> subprocess.Popen[bytes]:
    log = (run / "trl_alone.log").open("w")
    return subprocess.Popen([sys.executable, __file__, "--trl-alone", str(run),
                             "--steps", str(steps)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD})


def wait_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    failed = [f"{name} (exit {process.returncode})" for name, process in processes.items()
              if process.wait() != 0]
    if failed:  # a job killed (e.g. by the OOM killer) resumes with --report-only after it
        raise SystemExit(f"failed: {', '.join(failed)}; see their training.log")


def events_of(run: Path) -> list[TrainingEvent]:
    return [TrainingEvent.model_validate_json(line)
            for line in JobFiles(run).events.read_text().splitlines()]


def trl_alone(run: Path, steps: int) -> None:
    """A plain GRPOTrainer on the same rendered prompts and config, a trivial reward, no
    platform callback, no evals or checkpoints: the floor the platform's step is measured
    against. Writes its step times to trl_alone.json."""
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rft_grader.dryrun.prompts import load_prompts
    from rft_trainer_gateway.prompting import render_prompt

    hp = JobFiles(run).read_job().hyperparameters
    base = resolve_base_model(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompts, _ = load_prompts(run / "rft_prompts.train.jsonl")
    data = Dataset.from_list(
        [{"prompt": render_prompt(tokenizer, p, hp.tool_choice)} for p in prompts])
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
    (run / "trl_alone.json").write_text(json.dumps(times))


def curate(out: Path, train: Path, grader: dict[str, object], k: int, max_tokens: int) -> Path:
    """Step H on every train prompt, as `rft dryrun --prune` runs it: the pruned split."""
    from rft_grader.dryrun.batch import dry_run_files
    from rft_grader.dryrun.settings import DryRunSettings

    settings = DryRunSettings(dryrun_prompts=10**6, dryrun_samples_per_prompt=k,
                              dryrun_max_tokens=max_tokens, dryrun_tool_choice="required")
    began = time.monotonic()
    outcome = dry_run_files(train, out / "dryrun", settings, grader=grader,
                            dataset="bench-train", prune=True)
    report = outcome.report
    kept, dropped = outcome.pruned or (0, 0)
    print(f"dry run (step H, k={k}, {max_tokens} tokens, tool_choice required): "
          f"{report.prompts} prompts in {(time.monotonic() - began) / 60:.1f} min, mean reward "
          f"{report.stats.mean:.3f}; all-fail {len(report.all_fail_prompt_ids)}, all-pass "
          f"{len(report.all_pass_prompt_ids)}: curated split keeps {kept}, drops {dropped}")
    return out / "dryrun" / (train.name.removesuffix(".jsonl") + ".pruned.jsonl")


def report_job(name: str, run: Path) -> list[TrainingEvent]:
    events = events_of(run)
    results = EvalComparison.model_validate_json((run / "results.json").read_text())
    steps = [e for e in events if e.kind is TrainingEventKind.STEP]
    evals = [e for e in events if e.kind is TrainingEventKind.EVAL]
    print(f"\n== {name}: {JobFiles(run).read_job().train_rows} train prompts")
    print("curve (step: train reward, no-signal share):  " + "  ".join(
        f"{e.step}:{e.train_reward:.2f}/{e.zero_signal_share:.2f}" for e in steps))
    for event in evals:
        print(f"  * step {event.step}: valid {event.valid_reward:.3f} "
              f"{json.dumps({k: round(v, 3) for k, v in event.valid_reward_by_grader.items()})}")
    print(f"valid reward, base -> tuned ({results.prompts} prompts x "
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
    return evals


def steps_to_reach(evals: list[TrainingEvent], target: float) -> int | None:
    return next((e.step for e in evals if (e.valid_reward or 0) >= target), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--valid", type=int, default=40, help="held-out prompts")
    parser.add_argument("--overhead-steps", type=int, default=6,
                        help="steps of TRL alone and of the platform, side by side")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "bench-train")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    parser.add_argument("--distractors", type=int, default=0,
                        help="tools offered beside the reference call's")
    parser.add_argument("--dryrun-k", type=int, default=8, help="samples per prompt in step H")
    parser.add_argument("--report-only", action="store_true",
                        help="report the jobs already in --out (e.g. after resuming one) and "
                             "measure the overhead")
    parser.add_argument("--trl-alone", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.trl_alone:
        trl_alone(args.trl_alone, args.steps)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    rows = verifiable_slice(sanitize(args.out), distractors=args.distractors, seed=args.seed)
    train_rows, valid_rows = split(rows, args.valid, args.seed)
    train = write_rows(train_rows, args.out / "rft_prompts.train.jsonl")
    valid = write_rows(valid_rows, args.out / "rft_prompts.valid.jsonl")
    grader_json = grader_config_json(build_preset("tool_usage"))
    hp = TrainingHyperparameters(
        max_steps=args.steps, prompts_per_step=2, samples_per_prompt=4,
        max_completion_tokens=48, adapter=AdapterKind.FULL, learning_rate=args.learning_rate,
        tool_choice="required", eval_every_steps=5, eval_prompts=16, eval_samples_per_prompt=2,
        final_eval_prompts=len(valid_rows), final_eval_samples_per_prompt=4, seed=args.seed,
        report_to=[])
    print(f"machine: {os.cpu_count()} cores; slice: {len(rows)} prompts, {len(train_rows)} "
          f"train, {len(valid_rows)} valid; {args.steps} steps of {hp.step_prompts} prompts x "
          f"k={hp.samples_per_prompt}, {hp.max_completion_tokens} tokens, full fine-tune, "
          f"lr {hp.learning_rate}, one CPU thread per job")
    raw_run, curated_run = args.out / "raw", args.out / "curated"
    if args.report_only:
        report = DryRunReport.model_validate_json(
            (args.out / "dryrun" / "dry_run_report.json").read_text())
        pruned = len(report.all_fail_prompt_ids) + len(report.all_pass_prompt_ids)
        print(f"dry run (step H, k={report.samples_per_prompt}): mean reward "
              f"{report.stats.mean:.3f}; all-fail {len(report.all_fail_prompt_ids)} of "
              f"{report.prompts} prompts: curated split keeps {report.prompts - pruned}")
    else:
        train_and_curated(args, hp, train, valid, grader_json)
    if not (curated_run / "results.json").is_file():
        curated_run = None
    raw_evals = report_job("raw (sanitized only)", raw_run)
    if curated_run is not None:
        curated_evals = report_job("curated (dry-run pruned)", curated_run)
        target = raw_evals[-1].valid_reward or 0.0
        reached = steps_to_reach(curated_evals, target)
        print(f"\ncurated job: {reached if reached is not None else 'never'} steps to reach the "
              f"raw job's final eval valid reward {target:.3f} (raw took {raw_evals[-1].step}; "
              f"evals every {hp.eval_every_steps} steps on {hp.eval_prompts} prompts x "
              f"{hp.eval_samples_per_prompt})")

    measure_overhead(args, hp, train, valid, grader_json)


def train_and_curated(args: argparse.Namespace, hp: TrainingHyperparameters, train: Path,
                      valid: Path, grader_json: str) -> None:
    curated = curate(args.out, train, json.loads(grader_json), k=args.dryrun_k,
                     max_tokens=hp.max_completion_tokens)
    raw_run = prepare_run(args.out / "raw", train, valid, grader_json)
    jobs = {"raw": start_platform(raw_run, hp, "bench-train-raw")}
    curated_rows = sum(1 for line in curated.read_text().splitlines() if line.strip())
    if curated_rows >= hp.step_prompts:
        curated_run = prepare_run(args.out / "curated", curated, valid, grader_json)
        jobs["curated"] = start_platform(curated_run, hp, "bench-train-curated")
    else:
        print(f"curated split: {curated_rows} prompts, fewer than one step's "
              f"{hp.step_prompts}: only the raw job runs")
    began = time.monotonic()
    wait_all(jobs)
    print(f"{' and '.join(jobs)} job(s), side by side: {(time.monotonic() - began) / 60:.1f} min")


def measure_overhead(args: argparse.Namespace, hp: TrainingHyperparameters, train: Path,
                     valid: Path, grader_json: str) -> None:
    short = hp.model_copy(update={"max_steps": args.overhead_steps,
                                  "eval_every_steps": args.overhead_steps + 1,
                                  "final_eval_prompts": 1, "final_eval_samples_per_prompt": 1})
    overhead_run = prepare_run(args.out / "overhead", train, valid, grader_json)
    wait_all({"platform": start_platform(overhead_run, short, "bench-train-overhead"),
              "trl alone": start_trl_alone(overhead_run, args.overhead_steps)})
    steps = [e for e in events_of(overhead_run) if e.kind is TrainingEventKind.STEP]
    platform_step = statistics.fmean(e.step_seconds for e in steps[1:] if e.step_seconds)
    trl_times = json.loads((overhead_run / "trl_alone.json").read_text())
    trl_step = statistics.fmean(trl_times[1:] or trl_times)  # the first step pays warm-up
    print(f"\nstep time ({args.overhead_steps} steps each, side by side, first step left out): "
          f"platform {platform_step:.1f} s, TRL alone {trl_step:.1f} s, ratio "
          f"{platform_step / trl_step:.2f} (overhead {platform_step / trl_step - 1:+.0%}; "
          "target <= +10%)")


if __name__ == "__main__":
    main()
