"""`rft split` on files as steps C and E leave them: the four outputs and the step-F screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rft_categorizer.categorized_file import write_categorized
from rft_cli.generate_commands import app
from rft_schemas import CategorizedPrompt, Message, SyntheticPrompt, ValidationCheck


def test_split_command_writes_the_split_from_categorized_and_synthetic_files(
    tmp_path: Path, categorized: list[CategorizedPrompt], request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFT_EMBEDDER_BACKEND", "onnx")
    monkeypatch.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(request.config.cache.mkdir("rft-onnx")))
    out = tmp_path / "drone"
    out.mkdir()
    write_categorized(out / "categorized_prompts.jsonl", categorized)  # step C's own format
    template = next(c.prompt for c in categorized if c.topic_path == ["drone", "camera"])
    synthetic = [
        SyntheticPrompt(
            prompt=template.model_copy(update={
                "id": f"syn-{n}", "origin": "synthetic",
                "messages": [template.messages[0], Message(role="user", content=text)],
            }),
            topic_path=["drone", "camera"], job_id="j", generator_model="SmolLM2-135M-Instruct",
            seed_example_ids=[template.id],
            validation=[ValidationCheck(name="structure", passed=True)],
        )
        for n, text in enumerate(["Film the river from 50 meters up in slow motion",
                                  "Take three photos of the barn roof, then land"])
    ]
    (out / "synthetic_prompts.jsonl").write_text(
        "".join(s.model_dump_json() + "\n" for s in synthetic)
    )
    result = CliRunner().invoke(app, ["split", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Final Dataset Distribution" in result.output
    assert "Total: 103 → 105 (+1.9%)" in result.output
    train = [json.loads(x) for x in (out / "rft_prompts.train.jsonl").read_text().splitlines()]
    valid = [json.loads(x) for x in (out / "rft_prompts.valid.jsonl").read_text().splitlines()]
    assert len(train) + len(valid) == 105
    assert {r["origin"] for r in valid} == {"trace"}
    assert {"syn-0", "syn-1"} <= {r["id"] for r in train}
    manifest = json.loads((out / "split_manifest.json").read_text())
    assert manifest["dataset"] == "drone" and manifest["seed"] == 3
    assert (out / "hf_dataset" / "README.md").is_file()
