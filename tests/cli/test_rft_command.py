"""The `rft` command as a user runs it: a real process on the real sample data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rft_runtime.processes import is_running
from tests.dryrun.verdict_rules import assert_verdict_follows_the_table

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"
RFT = [sys.executable, "-m", "rft_cli"]


def rft(
    *args: str, data_dir: Path, timeout: float = 300, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RFT_DATA_DIR": str(data_dir), "COLUMNS": "400", **settings}
    env.pop("RFT_KAFKA_BOOTSTRAP", None)
    return subprocess.run(
        [*RFT, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO
    )


def test_run_until_a_writes_self_contained_artifacts_and_the_screen(tmp_path):
    out = tmp_path / "out"
    result = rft(
        "run", str(DATA / "drone_training.jsonl"), str(DATA / "toy_chat_fine_tuning.jsonl"),
        "--out", str(out), "--until", "A", data_dir=tmp_path / "state",
    )
    assert result.returncode == 0, result.stderr
    assert "Data Sanitization" in result.stdout
    assert "Input:  108 raw traces" in result.stdout
    report = json.loads((out / "sanitize_report.json").read_text())
    assert report["input"] == 108
    assert report["valid"] + sum(report["rejected"].values()) == 108
    prompts = [json.loads(line) for line in (out / "sanitized_prompts.jsonl").open()]
    assert len(prompts) == report["prompts"] > 0
    # Self-contained lines: the prompt, its tools, its item fields and its lineage travel along.
    drone = next(p for p in prompts if p["lineage"]["format"] == "openai_chat" and p["tools"])
    assert drone["tools"] and drone["item_fields"] == {"parallel_tool_calls": False}
    assert drone["messages"][-1]["role"] == "user"
    assert drone["reference"][0]["tool_calls"], "the unanswered call is kept as the reference"


def test_run_goes_from_traces_through_training_to_results(tmp_path):
    out = tmp_path / "out"
    result = rft(
        "run", str(DATA / "toy_chat_fine_tuning.jsonl"), "--out", str(out),
        data_dir=tmp_path / "state", timeout=1800,
        # CPU budgets for the local 135M model, smaller than `make demo`'s: each LLM call costs
        # seconds on 2 cores. A 2-prompt dry run of k=2 samples still has prompts to compare;
        # the red team builds every exploit kind from its 1 row (each a judge call, the verbose
        # one over 6,000 characters); the judge's spread is still measured over 2 runs.
        RFT_GENERATOR_MAX_NEW_PER_TOPIC="1", RFT_DRYRUN_PROMPTS="2", RFT_DRYRUN_MAX_TOKENS="16",
        RFT_GRADER_RED_TEAM_ITEMS="1", RFT_GRADER_CONSISTENCY_RUNS="2",
        # a 2-step training of 1 prompt x 2 samples of 8 tokens
        RFT_TRAIN_MAX_STEPS="2", RFT_TRAIN_PROMPTS_PER_STEP="1", RFT_TRAIN_SAMPLES_PER_PROMPT="2",
        RFT_TRAIN_MAX_COMPLETION_TOKENS="8", RFT_TRAIN_EVAL_EVERY_STEPS="2",
        RFT_TRAIN_EVAL_PROMPTS="1", RFT_TRAIN_FINAL_EVAL_SAMPLES_PER_PROMPT="2",
    )
    assert result.returncode == 0, result.stderr
    for artifact in (
        "sanitized_prompts.jsonl", "topic_hierarchy.json", "categorized_prompts.jsonl",
        "coverage.json", "synthetic_prompts.jsonl", "rft_prompts.train.jsonl",
        "rft_prompts.valid.jsonl", "split_manifest.json", "grader_config.json",
        "red_team_report.json", "dry_run_report.json",
    ):
        assert (out / artifact).is_file(), artifact
    red_team = json.loads((out / "red_team_report.json").read_text())
    assert red_team["grader_name"] == "correctness"  # toy chat has no tools
    assert red_team["consistency"]["runs"] == 2, "the correctness judge's spread is measured"
    assert "Red team: correctness" in result.stdout
    report = json.loads((out / "dry_run_report.json").read_text())
    assert_verdict_follows_the_table(report)
    assert f"[{report['verdict']}]" in result.stdout
    assert ("Dry run: 2 prompts, answers of up to 16 tokens, 8 at a time: sized for the local "
            "model on the CPU.") in result.stdout  # the concurrency was left to the backend
    events = [json.loads(line) for line in (out / "training_events.jsonl").open()]
    assert [e["step"] for e in events if e["kind"] == "step"] == [1, 2]
    assert events[-1]["status"] == "succeeded"
    results = json.loads((out / "results.json").read_text())
    assert results["prompts"] == 1 and results["grader_name"] == "correctness"
    for artifact in ("reward_curves.png", "comparison.png", "checkpoints/checkpoint-2"):
        assert (out / artifact).exists(), artifact
    assert "Step J: Results and deploy" in result.stdout and "Deploy gate" in result.stdout
    # how to see the same journey in the web console, on this run's own topics
    assert (f"`rft submit {DATA / 'toy_chat_fine_tuning.jsonl'} --dataset out --topics "
            f"{out / 'topic_hierarchy.json'} --until J`") in result.stdout


def test_rejected_pages_through_one_reason(tmp_path):
    out = tmp_path / "out"
    assert rft("sanitize", str(DATA / "toy_chat_fine_tuning.jsonl"), "--out", str(out),
               data_dir=tmp_path / "state").returncode == 0
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").open()]
    assert rejected, "the toy file has a record without a user turn"
    reason = rejected[0]["reason"]
    shown = rft("rejected", str(out), "--reason", reason, data_dir=tmp_path / "state")
    assert shown.returncode == 0, shown.stderr
    assert reason in shown.stdout and "toy_chat_fine_tuning.jsonl" in shown.stdout


def test_bad_arguments_name_the_problem(tmp_path):
    missing = rft("run", str(tmp_path / "nope.jsonl"), data_dir=tmp_path)
    assert missing.returncode != 0 and "no such input file" in missing.stderr
    bad_step = rft("run", str(DATA / "toy_chat_fine_tuning.jsonl"), "--until", "Z",
                   data_dir=tmp_path)
    assert bad_step.returncode != 0 and "A to J" in bad_step.stderr
    bad_reason = rft("rejected", str(tmp_path), data_dir=tmp_path)
    assert bad_reason.returncode != 0 and "rejected.jsonl" in bad_reason.stderr


@pytest.mark.broker
def test_up_starts_broker_llm_and_every_service_and_down_stops_them(tmp_path):
    state = tmp_path / "state"
    started = rft("up", data_dir=state, timeout=600)
    stack_file = state / "stack.json"
    recorded = json.loads(stack_file.read_text()) if stack_file.exists() else {}
    processes = recorded.get("processes", [])
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        assert recorded["status"] == "ready"
        supervisor = recorded["supervisor"]
        assert f"supervised by pid {supervisor['pid']}" in started.stdout
        assert supervisor["log"] == str(state / "logs" / "supervisor.log")
        ports = {p["name"]: p["port"] for p in processes}
        assert set(ports) == {
            "broker", "broker-storage", "llm", "sanitizer", "grader", "embedder", "categorizer",
            "generator", "trainer-gateway", "console",
        }
        # the console, told where every service listens, and its URL printed
        assert f"console: open http://127.0.0.1:{ports['console']}/" in started.stdout
        home = httpx.get(f"http://127.0.0.1:{ports['console']}/", timeout=10)
        assert home.status_code == 200 and "not configured" not in home.text
        for name in ("sanitizer", "grader", "embedder", "categorizer", "generator",
                     "trainer-gateway"):
            health = httpx.get(f"http://127.0.0.1:{ports[name]}/healthz", timeout=10)
            assert health.status_code == 200, name
        assert httpx.get(f"http://127.0.0.1:{ports['llm']}/health", timeout=10).is_success
        base = f"http://127.0.0.1:{ports['sanitizer']}"
        body = (DATA / "toy_chat_fine_tuning.jsonl").read_bytes()
        upload = httpx.post(f"{base}/v1/datasets/stack/traces", content=body, timeout=60)
        assert upload.status_code == 200 and upload.json()["input"] == 5
        embedded = httpx.post(
            f"http://127.0.0.1:{ports['embedder']}/v1/embed", json={"texts": ["land the drone"]},
            timeout=60,
        )
        assert embedded.status_code == 200 and embedded.json()["dimensions"] == 384
        # the broker keeps its topics on disk, where a restart finds them
        assert (state / "broker" / "tansu" / "clusters").is_dir()
    finally:
        stopped = rft("down", data_dir=state, timeout=180)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert not (state / "stack.json").exists()
    # gone, or a zombie where nothing reaps orphans (this machine's pid 1 does not)
    for pid in {p["pid"] for p in processes} | {recorded["supervisor"]["pid"]}:
        assert not is_running(pid), pid
