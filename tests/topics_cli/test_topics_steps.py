"""Steps B, C, D as `rft run` calls them, and the `rft topics|categorize|coverage|review`
commands, on the drone prompts of examples/data, with vectors in Qdrant Edge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from rft_cli.journey_context import JourneyContext
from rft_cli.topics_commands import categorize_step, coverage_step, register, topics_step
from rft_embedder import prompt_collection_spec
from rft_runtime.kafka.broker import free_port
from rft_runtime.llm import LocalLLMServer
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import point_id
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.topics import CoverageReport, TopicHierarchy
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS


def context_for(out: Path, sanitized: Path, data_dir: Path, dataset: str) -> JourneyContext:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(sanitized, out / "sanitized_prompts.jsonl")
    return JourneyContext(
        inputs=[],
        out_dir=out,
        dataset=dataset,
        # the session's model directory (its ONNX export), a Qdrant Edge of this test's own
        settings=RuntimeSettings(data_dir=data_dir, qdrant_path=out.parent / "qdrant"),
        console=Console(width=120, record=True),
    )


def hand_written_topics_context(sanitized: Path, data_dir: Path, tmp_path: Path) -> JourneyContext:
    """`rft run --topics my_topics.json` on the drone prompts."""
    topics_file = tmp_path / "my_topics.json"
    topics_file.write_text(json.dumps(DRONE_TOPICS))
    context = context_for(tmp_path / "out", sanitized, data_dir, "drone")
    context.results["topics_file"] = topics_file
    return context


def test_run_steps_with_a_hand_written_hierarchy_write_self_contained_files(
    drone_sanitized: Path, drone_prompts: list[SanitizedPrompt], model_dir: Path, tmp_path: Path
) -> None:
    context = hand_written_topics_context(drone_sanitized, model_dir, tmp_path)
    topics_step(context)
    categorize_step(context)
    coverage_step(context)

    out = context.out_dir
    hierarchy = TopicHierarchy.model_validate_json((out / "topic_hierarchy.json").read_text())
    assert [t.name for t in hierarchy.topics] == ["flight", "camera", "lights"]
    lines = [json.loads(line) for line in (out / "categorized_prompts.jsonl").open()]
    assert len(lines) == len(drone_prompts)
    originals = {p.id: p for p in drone_prompts}
    for line in lines:
        # self-contained: the prompt record as sanitized, plus its topic
        prompt = originals[line["id"]]
        assert line["messages"] == [m.model_dump(mode="json", exclude_none=True)
                                    for m in prompt.messages]
        assert line["item_fields"] == prompt.item_fields
        assert line["topic"] == "/".join(line["topic_path"])
        assert 0.0 <= line["confidence"] <= 1.0 and line["method"] == "embedding"
        assert "runner_up" in line and line["needs_review"] == (line["confidence"] < 0.5)
    lights = [line for line in lines if "light" in line["messages"][-1]["content"].lower()]
    assert sum(line["topic"] == "lights" for line in lights) >= 0.7 * len(lights)

    report = CoverageReport.model_validate_json((out / "coverage.json").read_text())
    assert report.total == len(lines)
    top = {r.path[0]: r.count for r in report.topics if r.level == 1}
    assert top["lights"] == sum(line["topic_path"][0] == "lights" for line in lines)
    assert (out / "coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    screen = context.console.export_text()
    assert "High confidence (>0.8)" in screen and "Needs review (<0.5)" in screen
    assert "Current Coverage Distribution" in screen
    assert set(context.artifacts) >= {
        "topic_hierarchy.json", "categorized_prompts.jsonl", "coverage.json", "coverage.png"
    }


def test_discovery_names_topics_by_keywords_when_the_llm_is_down(
    drone_sanitized: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RFT_LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("RFT_LLM_MAX_RETRIES", "0")
    context = context_for(tmp_path / "out", drone_sanitized, model_dir, "drone")
    topics_step(context)
    hierarchy = TopicHierarchy.model_validate_json(
        (context.out_dir / "topic_hierarchy.json").read_text()
    )
    assert hierarchy.source == "auto" and len(hierarchy.topics) >= 2
    assert "named 0 topics with the LLM" in context.console.export_text()
    assert all(t.examples and t.description for t in hierarchy.topics)
    assert context.results["topics"] == hierarchy


def test_commands_load_edit_categorize_review_and_coverage(
    drone_sanitized: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RFT_DATA_DIR", str(model_dir))
    monkeypatch.setenv("RFT_QDRANT_PATH", str(tmp_path / "qdrant"))
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    out = tmp_path / "drone"
    out.mkdir()
    shutil.copy(drone_sanitized, out / "sanitized_prompts.jsonl")
    topics_file = tmp_path / "topics.json"
    topics_file.write_text(json.dumps(DRONE_TOPICS))

    def rft(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    assert "customer_support" in rft("topics", "template")
    rft("topics", "load", str(topics_file), "--out", str(out))
    rft("topics", "edit", "add", "", "--out", str(out), "--name", "flight_modes",
        "--description", "autopilot, follow me, obstacle avoidance",
        "--example", "Turn on the autopilot", "--example", "Activate follow me mode")
    shown = rft("topics", "show", "--out", str(out))
    assert "flight_modes" in shown and "version 2" in shown
    refused = runner.invoke(app, ["topics", "edit", "add", "", "--out", str(out),
                                  "--name", "camera"])
    assert refused.exit_code != 0 and "duplicate_name" in refused.output

    assert "Processed" in rft("categorize", "--out", str(out))
    lines = [json.loads(line) for line in (out / "categorized_prompts.jsonl").open()]
    autopilot = [ln for ln in lines if "autopilot" in ln["messages"][-1]["content"].lower()]
    assert autopilot and all(ln["topic"] == "flight_modes" for ln in autopilot)

    queue = rft("review", "--out", str(out))
    assert "need review" in queue
    target = min(lines, key=lambda ln: ln["confidence"])
    rft("review", "--out", str(out), "--set", target["id"], "--topic", "camera")
    rows = [json.loads(ln) for ln in (out / "categorized_prompts.jsonl").open()]
    after = {row["id"]: row for row in rows}
    assert after[target["id"]]["method"] == "manual" and after[target["id"]]["confidence"] == 1.0
    payload = stored_payload(tmp_path / "qdrant", target["id"])
    assert payload["topic_path"] == ["camera"] and payload["method"] == "manual"
    bad = runner.invoke(app, ["review", "--out", str(out), "--set", target["id"],
                              "--topic", "flight"])
    assert bad.exit_code != 0
    # The decision outlives the next `rft categorize` (which `rft topics edit` asks for)...
    assert "kept 1 manual decisions" in rft("categorize", "--out", str(out))
    again = {row["id"]: row for row in map(json.loads, (out / "categorized_prompts.jsonl").open())}
    assert again[target["id"]]["method"] == "manual" and again[target["id"]]["topic"] == "camera"
    # ...and Qdrant's payload, which coverage facets over, says the same.
    payload = stored_payload(tmp_path / "qdrant", target["id"])
    assert payload["topic_path"] == ["camera"] and payload["method"] == "manual"

    chart = rft("coverage", "--out", str(out), "--target", "camera=60")
    assert "Current Coverage Distribution" in chart
    report = json.loads((out / "coverage.json").read_text())
    camera = next(t for t in report["topics"] if t["path"] == ["camera"])
    assert camera["target"] == 60 and report["target_policy"] == "user"
    assert camera["recommended_generate"] == max(60 - camera["count"], 0)


def stored_payload(qdrant: Path, prompt_id: str) -> dict[str, Any]:
    """The drone prompt's payload as Qdrant Edge holds it."""
    store = EdgeVectorStore(qdrant)
    try:
        collection = store.ensure_collection(prompt_collection_spec("drone", 384))
        (point,) = collection.retrieve([point_id(prompt_id)])
    finally:
        store.close()
    return dict(point.payload)


def test_llm_second_opinion_reviews_only_the_unsure_prompts_with_the_real_model(
    drone_sanitized: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    local_llm: LocalLLMServer,
) -> None:
    context = hand_written_topics_context(drone_sanitized, model_dir, tmp_path)
    topics_step(context)
    categorize_step(context)
    path = context.out_dir / "categorized_prompts.jsonl"
    before = {row["id"]: row for row in map(json.loads, path.open())}

    monkeypatch.setenv("RFT_LLM_BASE_URL", local_llm.base_url)
    monkeypatch.setenv("RFT_CATEGORIZE_LLM_SECOND_OPINION", "true")
    categorize_step(context)
    after = {row["id"]: row for row in map(json.loads, path.open())}

    unsure = {i for i, row in before.items()
              if row["confidence"] < 0.5 and row["runner_up"] and not row["uncategorized"]}
    assert unsure, "the drone data has prompts between two topics"
    reviewed = {i for i, row in after.items() if row["method"] == "llm"}
    assert reviewed and reviewed <= unsure  # a sure prompt is never sent to the LLM
    for i in reviewed:  # the LLM picks between the winner and the runner-up, nothing else
        assert after[i]["topic_path"] in (before[i]["topic_path"], before[i]["runner_up"])
    assert all(after[i] == before[i] for i in set(before) - reviewed)
    screen = context.console.export_text()
    assert f"LLM second opinion: {len(unsure)} asked, {len(reviewed)} answered" in screen
