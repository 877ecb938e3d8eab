"""Step F as the generator service's operation: the split of the records the categorizer
service categorized (over real HTTP) and the synthetic prompts the generator's own jobs
accepted, stored in the generator's store, equals what `rft split` writes from the same
records; and a dataset that is not ready is refused with its reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from rft_categorizer.categorized_file import write_categorized
from rft_embedder import Embedder
from rft_generator.job_store import CandidateRecord
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_generator.split_batch import split_files
from rft_runtime.llm import LLMSettings
from rft_schemas import (
    CategorizedPrompt,
    GenerationRequest,
    JobStatus,
    Message,
    SyntheticPrompt,
    ValidationCheck,
)
from tests.categorizer_service.fixtures import DRONE_TOPICS
from tests.categorizer_service.http_server import served
from tests.generator.categorizer_service import categorizer_holding

DATASET = "drone-split"
DEAD_LLM = LLMSettings(base_url="http://127.0.0.1:9/v1")


def synthetic_of(categorized: list[CategorizedPrompt], job_id: str) -> list[SyntheticPrompt]:
    template = next(c.prompt for c in categorized if c.topic_path[-1:] == ["camera"])
    return [
        SyntheticPrompt(
            prompt=template.model_copy(update={
                "id": f"syn-{n}", "origin": "synthetic", "dataset": DATASET,
                "messages": [template.messages[0], Message(role="user", content=text)]}),
            topic_path=["camera"], job_id=job_id, generator_model="SmolLM2-135M-Instruct",
            seed_example_ids=[template.id],
            validation=[ValidationCheck(name="structure", passed=True)])
        for n, text in enumerate(["Film the river from 50 meters up in slow motion",
                                  "Take three photos of the barn roof, then land"])
    ]


async def test_the_service_split_equals_the_cli_split_of_the_same_records(
    tmp_path: Path, embedder: Embedder, categorized: list[CategorizedPrompt],
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    holding = await categorizer_holding(DATASET, tmp_path, embedder, categorized, monkeypatch,
                                        request)
    categorizer_app, categorizer_settings = holding.app, holding.settings
    qdrant, topics = holding.qdrant, holding.topics
    settings = GeneratorSettings(data_dir=tmp_path / "generator", log_json=False)
    try:
        async with served(categorizer_app, categorizer_settings) as categorizer:
            put = await categorizer.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
            assert put.status_code == 200, put.text
            settings.categorizer_url = str(categorizer.base_url)
            generator_app, _, _ = build_generator(settings, DEAD_LLM, vector_store=qdrant,
                                                  embedder=embedder)
            # A generation job of the dataset accepted two prompts (the job store as a job
            # writes it), another dataset's job none of ours.
            jobs = generator_app.state.splitter.jobs
            jobs.create(GenerationRequest(id="gen-1", dataset=DATASET), {"camera": 2})
            synthetic = synthetic_of(categorized, "gen-1")
            jobs.record("gen-1", [CandidateRecord(id=s.prompt.id, topic="camera", attempt=i,
                                                  accepted=True, synthetic=s)
                                  for i, s in enumerate(synthetic)])
            jobs.set_status("gen-1", JobStatus.SUCCEEDED)
            jobs.create(GenerationRequest(id="other", dataset="bank"), {"x": 1})
            async with served(generator_app, settings) as generator:
                assert (await generator.get(f"/v1/datasets/{DATASET}/split")).status_code == 404
                made = await generator.post(f"/v1/datasets/{DATASET}/split",
                                            json={"seed": 3, "valid_fraction": 0.2})
                assert made.status_code == 201, made.text
                assert made.json()["train"] is None  # the answer is the distribution
                served_split = (await generator.get(f"/v1/datasets/{DATASET}/split")).json()
                summary = (await generator.get(f"/v1/datasets/{DATASET}/split",
                                               params={"rows": "false"})).json()
            records = await asyncio.to_thread(topics.records.categorized, DATASET)
    finally:
        qdrant.close()

    # `rft split` on the same records, as steps C and E leave them in a run dir
    out = tmp_path / "cli"
    out.mkdir()
    write_categorized(out / "categorized_prompts.jsonl", records)
    (out / "synthetic_prompts.jsonl").write_text(
        "".join(s.model_dump_json() + "\n" for s in synthetic))
    _, paths = split_files(out / "categorized_prompts.jsonl",
                                out / "synthetic_prompts.jsonl", out, embedder, DATASET,
                                seed=3, valid_fraction=0.2)
    cli_manifest = json.loads(paths["split_manifest.json"].read_text())
    assert served_split["manifest"] == cli_manifest
    assert served_split["train"] == [json.loads(x) for x in
                                     paths["rft_prompts.train.jsonl"].read_text().splitlines()]
    assert served_split["valid"] == [json.loads(x) for x in
                                     paths["rft_prompts.valid.jsonl"].read_text().splitlines()]
    assert served_split["synthetic_jobs"] == ["gen-1"]
    assert served_split["train_rows"] + served_split["valid_rows"] == len(categorized) + 2
    assert {"syn-0", "syn-1"} <= {row["id"] for row in served_split["train"]}
    assert summary["train"] is None and summary["manifest"] == cli_manifest


async def test_a_dataset_not_ready_or_still_generating_is_refused_with_its_reason(
    tmp_path: Path, categorized: list[CategorizedPrompt],
) -> None:
    settings = GeneratorSettings(data_dir=tmp_path, log_json=False,  # the files of step C
                                 embedder_url="http://127.0.0.1:9")  # never called
    app, _, _ = build_generator(settings, DEAD_LLM)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://generator") as client:
        missing = await client.post("/v1/datasets/drone/split")
        assert missing.status_code == 409 and "no categorized prompts for dataset 'drone'" \
            in missing.json()["detail"]
        (tmp_path / "drone").mkdir()
        write_categorized(tmp_path / "drone" / "categorized_prompts.jsonl", categorized)
        app.state.splitter.jobs.create(GenerationRequest(id="busy", dataset="drone"),
                                            {"drone/camera": 2})
        running = await client.post("/v1/datasets/drone/split")
        assert running.status_code == 409 and "busy" in running.json()["detail"]
        bad = await client.post("/v1/datasets/drone/split", json={"valid_fraction": 1.5})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "valid_fraction"
