"""The streaming journey on real parts, as a user runs it, against `rft run` on the same file.

`rft up` starts the durable Tansu broker, the local LLM server and every service as processes.
Raw traces (real sample records from examples/data) go to `rft.traces.raw.v1` as plain JSON
lines with the `rft-dataset` header, the documented shape for a trace system's exporter. Mid-way
through the stream the process that embeds and categorizes (the colocated vector services) is
SIGKILLed, and `rft up`'s supervisor starts it again on the same ports; the rest of the stream is
produced once it is back. Topics are then discovered through the
categorizer's API, and everything the stream holds is compared with what `rft run` (one process,
the same step code) wrote for the same file: the sanitize report (prompts, rejections by reason),
the topic hierarchy, the categorized prompts per topic and coverage. After the journey API's F
to J, a small generation job (step E) on the local model adds prompts to a thin topic, each
checked by the categorizer, and a new split counts those it kept.

One stack serves every test of the module (starting it is most of the time); `rft run` runs
beside `rft up` while the stack starts. Topic names come from keywords in both drivers
(RFT_TOPICS_LABEL_WITH_LLM=false): the local 135M model would take minutes to name them on a CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rft_categorizer.categorized_file import read_categorized
from rft_categorizer.kafka_stages import CATEGORIZER
from rft_embedder.kafka_stages import EMBEDDER
from rft_generator.pool import recommended_targets
from rft_grader.presets import preset_for_rows
from rft_runtime.embedding.text import TaskTextSource, task_text
from rft_runtime.http.sse import ServerSentEvent
from rft_runtime.kafka.backlog import wait_caught_up
from rft_runtime.settings import RuntimeSettings
from rft_sanitizer.kafka_stages import SANITIZER
from rft_sanitizer.stage import DATASET_HEADER
from rft_schemas import GenerationFailure, GenerationJob, JobStatus, SyntheticPrompt
from rft_schemas.generation import DatasetSplit, SplitManifest
from rft_schemas.kafka_topics import (
    CATEGORIZED_PROMPTS,
    EMBEDDED_PROMPTS,
    RAW_TRACES,
    SANITIZED_PROMPTS,
)
from rft_schemas.rollouts import DryRunReport
from rft_schemas.topics import (
    CategorizedPrompt,
    CoverageReport,
    TopicClassifyResponse,
    TopicHierarchy,
)
from rft_schemas.traces import RejectionReason, SanitizeReport
from rft_schemas.training import EvalComparison
from tests.dryrun.verdict_rules import assert_verdict_follows_the_table
from tests.integration.event_stream import follow

pytestmark = [pytest.mark.broker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "examples" / "data"
RFT = [sys.executable, "-m", "rft_cli"]
DATASET = "e2e"
SERVICES = ("sanitizer", "embedder", "categorizer", "generator", "grader", "trainer-gateway")
KILLED = "categorizer"  # its process also serves the embedder and the generator

# Both drivers run with these (`rft up` hands its environment to every service).
SETTINGS = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "RFT_TOPICS_LABEL_WITH_LLM": "false",
    "RFT_TRAINER_JOURNEY_POLL_S": "0.5",  # the journey notices a finished dry run sooner
}


def sample_lines() -> list[bytes]:
    """Real records: the 103 drone traces (fewer made the drivers' hierarchies agree while
    discovery still depended on the order prompts came in), the first of them again (a
    duplicate), the toy chat file (one record without a user turn) and one record that is no
    conversation at all."""
    drone = (DATA / "drone_training.jsonl").read_bytes().splitlines()
    toy = (DATA / "toy_chat_fine_tuning.jsonl").read_bytes().splitlines()
    closing = (DATA / "closing_turns.jsonl").read_bytes().splitlines()[:1]
    return [line for line in [*drone, drone[0], *toy, *closing] if line.strip()]


def rft_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, **SETTINGS, "RFT_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    for name in ("RFT_KAFKA_BOOTSTRAP", "RFT_LLM_BASE_URL", "RFT_QDRANT_URL"):
        env.pop(name, None)  # the stack starts its own broker and LLM
    return env


@dataclass
class Stack:
    state: Path
    processes: list[dict]
    cli: subprocess.Popen[bytes]
    cli_out: Path
    cli_log: Path
    lines: list[bytes]

    def port(self, name: str) -> int:
        return next(p["port"] for p in self.processes if p["name"] == name)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port('broker')}"

    def cli_artifact(self, name: str) -> Path:
        if self.cli.poll() is None:
            self.cli.wait(timeout=600)
        assert self.cli.returncode == 0, self.cli_log.read_text(errors="replace")[-3000:]
        return self.cli_out / name


def alive(pid: int) -> bool:
    """Running: neither gone nor a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def processes_of(state: Path) -> dict[int, str]:
    """Every live process started for the stack in ``state`` (the services, the broker, the
    LLM server, training processes the gateway started), found by its RFT_DATA_DIR."""
    mark = b"RFT_DATA_DIR=" + str(state).encode() + b"\0"
    found: dict[int, str] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if mark in (proc / "environ").read_bytes() + b"\0" and alive(int(proc.name)):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ")[
                    :120].decode(errors="replace")
        except OSError:
            continue
    return found


def wait_ready(url: str, timeout_s: float = 300) -> None:
    """/readyz: 200 once the service's stages consume (`rft up` returns before that)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready within {timeout_s}s"
        time.sleep(0.3)


def read_stack_file(state: Path) -> dict:
    """`rft up`'s stack.json: the supervisor, its status and every process it runs."""
    path = state / "stack.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("journey")
    lines = sample_lines()
    sample = root / "sample.jsonl"
    sample.write_bytes(b"\n".join(lines) + b"\n")
    # `rft run` on the same file through D, then `rft split` (F without E's synthetic prompts,
    # as the journey splits a dataset no generation job added to), in the background while the
    # stack starts
    out = root / "cli"
    run = [*RFT, "run", str(sample), "--dataset", DATASET, "--out", str(out), "--until", "D"]
    split = [*RFT, "split", "--out", str(out), "--dataset", DATASET]
    with open(root / "cli.log", "wb") as log:
        cli = subprocess.Popen(
            ["sh", "-c", f"{shlex.join(run)} && {shlex.join(split)}"],
            env=rft_env(root / "cli-state"), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    state = root / "state"
    started = subprocess.run([*RFT, "up"], env=rft_env(state), cwd=REPO, capture_output=True,
                             text=True, timeout=600)
    recorded = read_stack_file(state)
    stack = Stack(state, recorded.get("processes", []), cli, out, root / "cli.log", lines)
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        # what the teardown's check for leftovers finds: every process of the stack, and the
        # supervisor that restarts them
        pids = {p["pid"] for p in stack.processes} | {recorded["supervisor"]["pid"]}
        assert pids <= set(processes_of(state))
        for service in SERVICES:
            wait_ready(stack.url(service))
        yield stack
    finally:
        stopped = subprocess.run([*RFT, "down"], env=rft_env(state), cwd=REPO,
                                 capture_output=True, text=True, timeout=300)
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        left = processes_of(state)
        for pid in left:  # so a failing test leaves nothing behind either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert stopped.returncode == 0, stopped.stderr
        assert not left, f"`rft down` left processes of the stack running: {left}"


# ---- Kafka, as a producer of traces and an observer -------------------------------------------

async def produce_traces(bootstrap: str, lines: list[bytes], pause_s: float = 0.0) -> None:
    """Plain JSON lines, no key, the dataset in the `rft-dataset` header."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for line in lines:
            await producer.send_and_wait(
                RAW_TRACES.name, value=line, headers=[(DATASET_HEADER, DATASET.encode())]
            )
            if pause_s:
                await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> tuple[Counter[str], dict[int, int]]:
    """Every record on ``topic`` now: how often each key is there, and per partition the offset
    after its last record. Read to the end rather than asked: Tansu 0.6.0 answers ListOffsets
    (latest) with the last batch's first offset + 1, short of the end after a batch of several
    records (tests/integration/test_tansu_end_offsets.py)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()  # the metadata of every topic
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        seen: Counter[str] = Counter()
        ends = {tp.partition: 0 for tp in tps}
        if not tps:
            return seen, ends
        consumer.assign(tps)
        # Tansu's end is inside the last batch, and a fetch returns whole batches: reading to
        # past it reads the whole last batch, so to the real end
        reported = await consumer.end_offsets(tps)
        for tp, first in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, first)  # explicit: a lazy reset raced assign()'s own
        deadline = time.monotonic() + 60
        while [tp for tp in tps if await consumer.position(tp) < reported[tp]]:
            assert time.monotonic() < deadline, f"{topic}: not read to its end in 60s"
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                seen.update(r.key.decode() if r.key else "" for r in records)
                ends[tp.partition] = records[-1].offset + 1
        return seen, ends
    finally:
        await consumer.stop()


async def keys_on(bootstrap: str, topic: str) -> Counter[str]:
    return (await read_all(bootstrap, topic))[0]


# ---- the stream, with a stage killed mid-way ------------------------------------------------

@dataclass
class Streamed:
    embedded_at_kill: int
    kept: int
    restart_s: float


def sigkill_and_wait_for_the_supervisor(stack: Stack, name: str) -> float:
    """SIGKILL the process serving ``name``; the supervisor `rft up` started brings it back on
    the same ports (a new pid and a restart counted in stack.json), ready again. Returns the
    seconds from the kill to ready."""
    pid = next(p["pid"] for p in stack.processes if p["name"] == name)
    served = {p["name"]: p["port"] for p in stack.processes if p["pid"] == pid}
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    deadline = killed + 120
    while True:
        entries = [p for p in read_stack_file(stack.state)["processes"] if p["name"] in served]
        if all(p["pid"] != pid and p["restarts"] == 1 for p in entries):
            break
        assert time.monotonic() < deadline, f"the supervisor did not restart {name}: {entries}"
        time.sleep(0.1)
    assert {p["name"]: p["port"] for p in entries} == served
    assert {p["last_exit"] for p in entries} == {"killed by SIGKILL"}
    assert len({p["pid"] for p in entries}) == 1 and alive(entries[0]["pid"])
    stack.processes = read_stack_file(stack.state)["processes"]
    for port in served.values():
        wait_ready(f"http://127.0.0.1:{port}")
    return time.monotonic() - killed


@pytest.fixture(scope="module")
def streamed(stack: Stack) -> Streamed:
    expected = json.loads(stack.cli_artifact("sanitize_report.json").read_text())
    first, second = stack.lines[: len(stack.lines) // 2], stack.lines[len(stack.lines) // 2:]

    async def run() -> Streamed:
        # the first half trickles in; once some prompts are embedded, the process embedding and
        # categorizing them is killed; the second half arrives while it is down
        await produce_traces(stack.bootstrap, first, pause_s=0.05)
        deadline = time.monotonic() + 120
        while not (embedded := len(await keys_on(stack.bootstrap, EMBEDDED_PROMPTS.name))):
            assert time.monotonic() < deadline, "nothing was embedded"
            await asyncio.sleep(0.2)
        restart = await asyncio.to_thread(sigkill_and_wait_for_the_supervisor, stack, KILLED)
        await produce_traces(stack.bootstrap, second)
        await wait_caught_up(RuntimeSettings(kafka_bootstrap=stack.bootstrap),
                             [SANITIZER, EMBEDDER, CATEGORIZER], 300)
        return Streamed(embedded, expected["prompts"], restart)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def discovered(stack: Stack, streamed: Streamed) -> dict:
    response = httpx.post(
        f"{stack.url('categorizer')}/v1/datasets/{DATASET}/topics:discover",
        json={"use_llm": False}, timeout=300,
    )
    assert response.status_code == 200, response.text
    return response.json()


def categorized_pages(stack: Stack) -> list[CategorizedPrompt]:
    items: list[CategorizedPrompt] = []
    cursor: int | None = 0
    while cursor is not None:
        page = httpx.get(f"{stack.url('categorizer')}/v1/datasets/{DATASET}/categorized",
                         params={"cursor": cursor, "limit": 20}, timeout=30)
        assert page.status_code == 200, page.text
        body = page.json()
        items += [CategorizedPrompt.model_validate(i) for i in body["items"]]
        cursor = body["next_cursor"]
    return items


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tree(hierarchy: TopicHierarchy) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []

    def walk(prefix: tuple[str, ...], topics: list) -> None:  # type: ignore[type-arg]
        for topic in topics:
            paths.append((*prefix, topic.name))
            walk((*prefix, topic.name), topic.children)

    walk((), hierarchy.topics)
    return paths


# ---- the specification ----------------------------------------------------------------------

def test_every_trace_is_sanitized_once_as_rft_run_sanitizes_the_file(
    stack: Stack, streamed: Streamed
):
    expected = SanitizeReport.model_validate_json(
        stack.cli_artifact("sanitize_report.json").read_text()
    )
    assert expected.input == len(stack.lines)
    assert set(expected.rejected) == {"duplicate", "missing_user_message", "not_a_conversation"}
    report = httpx.get(f"{stack.url('sanitizer')}/v1/datasets/{DATASET}/sanitize-report",
                       timeout=30)
    assert report.status_code == 200, report.text
    got = SanitizeReport.model_validate(report.json())
    assert (got.input, got.valid, got.prompts) == (expected.input, expected.valid,
                                                   expected.prompts)
    assert got.rejected == expected.rejected
    assert got.dropped_prompts == expected.dropped_prompts
    # the same prompts (ids are content hashes), each on the sanitized topic under its own key
    cli_ids = {p["id"] for p in read_jsonl(stack.cli_artifact("sanitized_prompts.jsonl"))}
    on_topic = asyncio.run(keys_on(stack.bootstrap, SANITIZED_PROMPTS.name))
    assert set(on_topic) == cli_ids


def test_a_stage_killed_mid_stream_loses_nothing(stack: Stack, streamed: Streamed,
                                                 discovered: dict):
    assert 0 < streamed.embedded_at_kill < streamed.kept, "the kill came after the stream ended"
    cli_ids = {p["id"] for p in read_jsonl(stack.cli_artifact("sanitized_prompts.jsonl"))}
    embedded = asyncio.run(keys_on(stack.bootstrap, EMBEDDED_PROMPTS.name))
    assert set(embedded) == cli_ids, "every kept prompt embedded (a re-delivery: same key)"
    stored = categorized_pages(stack)
    ids = [r.prompt.id for r in stored]
    assert len(ids) == len(set(ids)) == len(cli_ids) and set(ids) == cli_ids
    categorized = asyncio.run(keys_on(stack.bootstrap, CATEGORIZED_PROMPTS.name))
    assert set(categorized) == cli_ids
    assert discovered["recategorized"] == len(cli_ids)


def test_discovery_over_the_stream_matches_rft_run(stack: Stack, discovered: dict):
    expected = TopicHierarchy.model_validate_json(
        stack.cli_artifact("topic_hierarchy.json").read_text()
    )
    got = TopicHierarchy.model_validate(discovered["hierarchy"])
    assert tree(got) == tree(expected)
    assert got.topics == expected.topics  # names, descriptions, examples


def test_each_prompt_lands_in_the_topic_rft_run_puts_it_in(stack: Stack, discovered: dict):
    cli = {r.prompt.id: tuple(r.topic_path)
           for r in read_categorized(stack.cli_artifact("categorized_prompts.jsonl"))}
    stream = {r.prompt.id: tuple(r.topic_path) for r in categorized_pages(stack)}
    assert Counter(stream.values()) == Counter(cli.values())
    assert stream == cli
    coverage = httpx.get(f"{stack.url('categorizer')}/v1/datasets/{DATASET}/coverage",
                         timeout=30)
    assert coverage.status_code == 200, coverage.text
    expected = CoverageReport.model_validate_json(
        stack.cli_artifact("coverage.json").read_text()
    )
    got = CoverageReport.model_validate(coverage.json())
    assert [(t.path, t.count, t.target) for t in got.topics] == [
        (t.path, t.count, t.target) for t in expected.topics
    ]


# ---- F to J: the journey API on the trainer gateway -----------------------------------------

# A tiny training budget: one optimizer step of one prompt x 2 completions of 8 tokens, one
# valid prompt in each eval and in step J's before/after comparison, no tracker.
TINY_TRAINING = {
    "max_steps": 1, "prompts_per_step": 1, "samples_per_prompt": 2,
    "max_completion_tokens": 8, "eval_every_steps": 1, "eval_prompts": 1,
    "eval_samples_per_prompt": 1, "final_eval_prompts": 1, "final_eval_samples_per_prompt": 1,
    "keep_best_checkpoints": 1, "report_to": [],
}
JOURNEY = {
    "until": "J", "device": "cpu", "hyperparameters": TINY_TRAINING,
    "dry_run": {"prompt_count": 1, "samples_per_prompt": 2, "max_tokens": 8},
}


@pytest.fixture(scope="module")
def journey(stack: Stack, discovered: dict) -> dict:
    url = f"{stack.url('trainer-gateway')}/v1/datasets/{DATASET}/journey"
    posted = httpx.post(url, json=JOURNEY, timeout=60)
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + 900
    while (state := httpx.get(url, timeout=30).json())["status"] == "running":
        assert time.monotonic() < deadline, state
        time.sleep(1)
    return state


def journey_steps(journey: dict) -> dict[str, dict]:
    return {step["step"]: step for step in journey["steps"]}


def test_the_journey_api_runs_f_to_j_through_the_services(stack: Stack, journey: dict):
    steps = journey_steps(journey)
    assert journey["status"] == "done", [(s["step"], s["status"], s["reason"])
                                         for s in journey["steps"]]
    assert [s["status"] for s in journey["steps"]] == ["done"] * 5
    # H: the grader's dry run of 1 prompt x 2 samples, its verdict the table's
    dry_run = steps["H"]["dry_run"]
    job = httpx.get(f"{stack.url('grader')}/v1/dry-runs/{dry_run['job_id']}", timeout=30)
    assert job.status_code == 200, job.text
    report = DryRunReport.model_validate(job.json()["report"])
    assert (dry_run["done"], dry_run["total"]) == (2, 2)
    assert len(report.samples) == 2
    assert_verdict_follows_the_table(report)
    assert (dry_run["verdict"], dry_run["reasons"]) == (report.verdict.value, report.reasons)
    # I: one optimizer step on the tiny budget, by the gateway's own training job
    training = steps["I"]["training"]
    assert (training["status"], training["step"], training["total_steps"]) == ("succeeded", 1, 1)
    gateway = f"{stack.url('trainer-gateway')}/v1/training-jobs/{training['job_id']}"
    events = httpx.get(f"{gateway}/events", params={"format": "json"}, timeout=30).json()
    assert [e["step"] for e in events["data"] if e["kind"] == "step"] == [1]
    # J: the before/after comparison the job wrote, as the journey reports it
    comparison = EvalComparison.model_validate(httpx.get(f"{gateway}/results", timeout=30).json())
    results = steps["J"]["results"]
    assert (results["before_mean"], results["after_mean"], results["deployable"]) == (
        comparison.before.mean, comparison.after.mean, comparison.deployable)


def test_the_journey_splits_and_grades_as_rft_run_does(stack: Stack, journey: dict):
    steps = journey_steps(journey)
    expected = SplitManifest.model_validate_json(
        stack.cli_artifact("split_manifest.json").read_text())
    split = steps["F"]["split"]
    assert split["counts"] == expected.counts
    assert (split["train_rows"], split["valid_rows"]) == (
        sum(expected.counts["train"].values()), sum(expected.counts["valid"].values()))
    stored = httpx.get(f"{stack.url('generator')}/v1/datasets/{DATASET}/split",
                       params={"rows": "false"}, timeout=30)
    assert stored.status_code == 200, stored.text
    assert stored.json()["manifest"]["assignments"] == expected.assignments
    # G: the preset rft run's step G chooses for the same train rows
    rows = read_jsonl(stack.cli_artifact("rft_prompts.train.jsonl"))
    chosen = preset_for_rows(rows)
    grader = steps["G"]["grader"]
    assert (grader["source"], grader["preset"], grader["config"]) == (
        "preset", chosen.preset, chosen.config)


def test_rft_submit_runs_a_file_through_the_stacks_services(stack: Stack, journey: dict):
    """Last in the module: its records join the topics the tests above count. Through D, as
    a user does before choosing to train: the sanitizer's counts, every prompt categorized by
    the stream before the topics are chosen, the console's URL for the dataset."""
    sample = stack.state.parent / "submitted.jsonl"
    sample.write_bytes(b"\n".join(stack.lines[:20]) + b"\n")
    ran = subprocess.run([*RFT, "submit", str(sample), "--dataset", "submitted", "--until", "D"],
                         env=rft_env(stack.state), cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    report = httpx.get(f"{stack.url('sanitizer')}/v1/datasets/submitted/sanitize-report",
                       timeout=30).json()
    assert f"A  submitted.jsonl: 20 records, {report['prompts']} prompts kept" in ran.stdout
    categorized = httpx.get(f"{stack.url('categorizer')}/v1/datasets/submitted/categorized",
                            params={"limit": 1000}, timeout=30).json()["items"]
    assert len(categorized) == report["prompts"] == 20
    assert f"C  {report['prompts']} prompts categorized" in ran.stdout
    assert "D  coverage:" in ran.stdout
    assert (f"Open the console on this dataset: {stack.url('console')}/d/submitted/sanitize"
            in ran.stdout)


# ---- E: a generation job on the local model -------------------------------------------------

GENERATION = "e2e-thin-topic"


def test_a_generation_job_adds_prompts_the_categorizer_checked_and_a_split_counts_them(
    stack: Stack, journey: dict
):
    """Step E through the generator's API, on the stack's local SmolLM2: 2 new prompts for each
    of the two thinnest topics, 2 candidates at most per topic. Last in the module (after the
    journey's split was compared with `rft split`), since the split it makes replaces the
    dataset's stored one. The 135M model may write nothing acceptable: what is checked holds
    for 0 kept as for 4."""
    coverage = CoverageReport.model_validate(httpx.get(
        f"{stack.url('categorizer')}/v1/datasets/{DATASET}/coverage", timeout=30).json())
    gaps = recommended_targets(coverage, None)
    assert gaps, "the drone traces leave some topic below its target"
    thinnest = sorted(gaps, key=lambda t: (-gaps[t], t))[:2]
    base = f"{stack.url('generator')}/v1/generation-jobs"
    posted = httpx.post(base, json={
        "id": GENERATION, "dataset": DATASET, "targets": dict.fromkeys(thinnest, 2),
        "few_shot": 2, "candidates_per_request": 2, "max_attempts_per_prompt": 1,
        "max_tokens": 48,
    }, timeout=60)
    assert posted.status_code == 202, posted.text
    events = asyncio.run(follow_events(f"{base}/{GENERATION}/events", 300))
    assert [e.event for e in events][-1] == "done"
    job = GenerationJob.model_validate(json.loads(events[-1].data)["job"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted((t.topic, t.target) for t in job.topics) == [(t, 2) for t in sorted(thinnest)]
    for progress in job.topics:
        # every candidate the model wrote is kept or rejected for a reason, once
        assert 1 <= progress.attempts <= 2
        assert progress.generated + sum(progress.failures.values()) == progress.attempts
        assert set(progress.failures) <= {*GenerationFailure, *RejectionReason}
    generated = {t.topic: t.generated for t in job.topics}

    # each kept prompt's topic check is the categorizer's decision for the prompt's vector
    output = stack.state / "generator" / GENERATION / "synthetic_prompts.jsonl"
    kept = [SyntheticPrompt.model_validate_json(line)
            for line in output.read_text().splitlines()] if output.exists() else []
    assert Counter("/".join(s.topic_path) for s in kept) == +Counter(generated)
    if kept:
        texts = [task_text(s.prompt, TaskTextSource.LAST_USER_TURN) for s in kept]
        vectors = httpx.post(f"{stack.url('embedder')}/v1/embed", json={"texts": texts},
                             timeout=60).json()["vectors"]
        classified = httpx.post(
            f"{stack.url('categorizer')}/v1/datasets/{DATASET}/topics:classify",
            json={"vectors": vectors}, timeout=60)
        assert classified.status_code == 200, classified.text
        decisions = TopicClassifyResponse.model_validate(classified.json()).decisions
        for synthetic, decision in zip(kept, decisions, strict=True):
            check = next(c for c in synthetic.validation if c.name == "topic")
            assert check.passed and check.detail == f"landed in {decision.topic}"
            assert check.score == pytest.approx(decision.confidence, abs=1e-3)
            target = "/".join(synthetic.topic_path)
            assert decision.topic == target or decision.topic.startswith(target + "/")
            assert synthetic.prompt.origin == "synthetic"

    # a split made now holds the real prompts as before and every kept synthetic one, in train
    split = httpx.post(f"{stack.url('generator')}/v1/datasets/{DATASET}/split", json={},
                       timeout=300)
    assert split.status_code == 201, split.text
    made = DatasetSplit.model_validate(split.json())
    before = journey_steps(journey)["F"]["split"]
    assert made.train_rows + made.valid_rows == (
        before["train_rows"] + before["valid_rows"] + len(kept))
    synthetic_rows = {name: counts.get("synthetic", 0)
                      for name, counts in made.manifest.sources.items()}
    assert synthetic_rows == {"train": len(kept), "valid": 0}
    assert made.synthetic_jobs == ([GENERATION] if kept else [])


async def follow_events(url: str, timeout_s: float) -> list[ServerSentEvent]:
    async with httpx.AsyncClient() as client:
        return await follow(client, url, timeout_s)
