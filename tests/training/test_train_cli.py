"""`rft train`, `rft results` and `rft deploy` on a tiny budget, end to end on the real model:
a 2-step GRPO job on real tool-calling prompts, its events, checkpoints and results, the
deploy gate, an export with a model card, and the local LLM server answering by the new name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from rft_grader.presets import build_preset, grader_config_json
from rft_runtime.llm import LLMSettings
from rft_runtime.llm.local_server import LocalLLMServer
from rft_schemas import EvalComparison, JobStatus, TrainingEvent, TrainingEventKind
from tests.cli.test_rft_command import rft

DATA = Path(__file__).parent / "data" / "drone_slice.jsonl"
TINY = ["--max-steps", "2", "--k", "2", "--prompts-per-step", "1",
        "--max-completion-tokens", "8", "--eval-every", "2", "--eval-prompts", "2"]
TINY_ENV = {"RFT_TRAIN_FINAL_EVAL_PROMPTS": "2", "RFT_TRAIN_FINAL_EVAL_SAMPLES_PER_PROMPT": "2"}

pytestmark = pytest.mark.slow


def run_dir_with_split(root: Path) -> Path:
    lines = DATA.read_text().splitlines()
    root.mkdir(parents=True)
    (root / "rft_prompts.train.jsonl").write_text("\n".join(lines[:16]) + "\n")
    (root / "rft_prompts.valid.jsonl").write_text("\n".join(lines[16:20]) + "\n")
    (root / "grader_config.json").write_text(grader_config_json(build_preset("tool_usage")))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("train")
    run = run_dir_with_split(tmp / "run")
    result = rft("train", str(run), *TINY, data_dir=tmp / "state", timeout=1500, **TINY_ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return run, result.stdout


def events(run: Path) -> list[TrainingEvent]:
    return [TrainingEvent.model_validate_json(line)
            for line in (run / "training_events.jsonl").read_text().splitlines()]


def test_training_writes_the_step_screen_events_checkpoints_and_curves(trained):
    run, stdout = trained
    log = events(run)
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    steps = [e for e in log if e.kind is TrainingEventKind.STEP]
    assert [e.step for e in steps] == [1, 2]
    assert all(e.train_reward is not None and e.zero_signal_share is not None
               and e.completion_length is not None and e.eta_seconds is not None for e in steps)
    assert all(e.grader_error_share == 0.0 for e in steps)  # the grader ran on every sample
    assert set(steps[0].train_reward_by_grader) == {"tool_selection", "tool_input",
                                                    "result_usage"}
    evals = [e for e in log if e.kind is TrainingEventKind.EVAL]
    assert evals and evals[-1].valid_reward is not None and evals[-1].step == 2
    assert any(e.kind is TrainingEventKind.CHECKPOINT and e.checkpoint == "checkpoint-2"
               for e in log)
    assert log[-1].kind is TrainingEventKind.STATUS and log[-1].status is JobStatus.SUCCEEDED
    meta = json.loads((run / "checkpoints" / "checkpoint-2" / "rft_checkpoint.json").read_text())
    assert meta == {"step": 2, "valid_reward": evals[-1].valid_reward}
    for artifact in ("reward_curves.png", "comparison.png", "results.json"):
        assert (run / artifact).stat().st_size > 0, artifact
    assert any((run / "tensorboard").rglob("events.out.tfevents.*")) or any(
        (run / "checkpoints").rglob("events.out.tfevents.*")), "TensorBoard event files"
    assert "Budget" in stdout and "set by you: " in stdout
    assert "Deploy gate" in stdout


def test_results_compare_base_and_tuned_on_the_same_prompts(trained):
    run, _ = trained
    results = EvalComparison.model_validate_json((run / "results.json").read_text())
    assert results.prompts == 2 and results.samples_per_prompt == 2
    assert results.tuned_model.endswith("checkpoint-2")
    assert sum(d.prompts for d in results.by_topic.values()) == 2
    assert results.interval.low <= results.change <= results.interval.high
    assert results.deployable == (results.interval.low > 0 and not results.regressions)
    shown = rft("results", str(run), data_dir=run.parent / "state")
    assert shown.returncode == 0 and "overall" in shown.stdout


def test_the_same_command_again_shows_the_finished_job_instead_of_training(trained, tmp_path):
    run, _ = trained
    again = rft("train", str(run), *TINY, data_dir=tmp_path / "state", timeout=300, **TINY_ENV)
    assert again.returncode == 0, again.stderr
    assert "finished before on these inputs" in again.stdout


def test_deploy_is_gated_forced_only_with_a_reason_and_exports_a_model_card(trained, tmp_path):
    run, _ = trained
    results = EvalComparison.model_validate_json((run / "results.json").read_text())
    if not results.deployable:
        closed = rft("deploy", str(run), data_dir=tmp_path / "state")
        assert closed.returncode == 2 and "deploy is closed" in closed.stderr
    no_reason = rft("deploy", str(run), "--force", data_dir=tmp_path / "state")
    assert no_reason.returncode == 2 and "force needs a reason" in no_reason.stderr
    export = tmp_path / "export"
    forced = rft("deploy", str(run), "--force", "--reason", "a test deploy", "--export-dir",
                 str(export), data_dir=tmp_path / "state", timeout=600)
    assert forced.returncode == 0, forced.stderr
    assert (export / "config.json").is_file() and any(export.glob("*.safetensors"))
    card = (export / "README.md").read_text()
    assert "tool_usage" in card and results.job_id in card and "interval" in card
    record = json.loads((run / "deploys.jsonl").read_text().splitlines()[-1])
    assert record["reason"] == "a test deploy" and record["forced"] == (not results.deployable)


def test_deploy_to_the_local_server_answers_by_the_new_name(trained, tmp_path):
    run, _ = trained
    served = tmp_path / "served_models.json"
    server = LocalLLMServer(LLMSettings(local_deployed_models=served, local_threads=1))
    server.start()
    try:
        deployed = rft("deploy", str(run), "--target", "local", "--base-url", server.base_url,
                       "--model-name", "drone-tuned", "--force", "--reason", "test",
                       data_dir=tmp_path / "state", timeout=600)
        assert deployed.returncode == 0, deployed.stderr
        assert "confirmed: True" in deployed.stdout
        models = httpx.get(f"{server.base_url}/models", timeout=30).json()
        assert {m["id"] for m in models["data"]} >= {"drone-tuned"}
        assert json.loads(served.read_text())["drone-tuned"] == str(run / "export")
    finally:
        server.stop()
    shutil.rmtree(run / "export", ignore_errors=True)
