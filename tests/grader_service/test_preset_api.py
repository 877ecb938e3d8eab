"""Step G in the grader service: ``POST /v1/graders:preset`` answers the preset a dataset's rows
call for as grader_config.json, with the issues of its templates against the rows' fields; a
row that is not a prompt is refused by its index."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.presets import build_preset, grader_config_json
from rft_grader.service import build_service
from rft_runtime.llm import LLMSettings

TOOLS = [{"type": "function", "function": {"name": "take_photo", "description": "take a photo",
                                           "parameters": {"type": "object", "properties": {}}}}]


def row(text: str, **fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "reference": "ok", **fields}


@pytest.fixture
async def grader(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app, _, _ = build_service(DryRunSettings(data_dir=tmp_path, log_json=False),
                              LLMSettings(base_url="http://127.0.0.1:9/v1"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://grader") as client:
        yield client


async def test_rows_with_tools_get_the_tool_usage_preset(grader: httpx.AsyncClient) -> None:
    answer = await grader.post("/v1/graders:preset", json={"rows": [
        row("Land"), row("Take a photo", tools=TOOLS, reference_tool_calls=[])]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["preset"] == "tool_usage" and body["issues"] == []
    # exactly what rft run writes as grader_config.json
    assert body["config"] == json.loads(grader_config_json(build_preset("tool_usage")))
    assert body["dataset_fields"] == ["messages", "reference", "reference_tool_calls", "tools"]


async def test_a_preset_naming_a_field_the_rows_lack_comes_with_the_issue(
    grader: httpx.AsyncClient,
) -> None:
    lacking = (await grader.post("/v1/graders:preset", json={"rows": [row("Hi")]})).json()
    assert lacking["preset"] == "correctness"
    [issue] = lacking["issues"]
    assert issue["code"] == "unknown_item_field" and "reference_tool_calls" in issue["message"]
    fitting = await grader.post("/v1/graders:preset",
                                json={"rows": [row("Hi", reference_tool_calls=[])]})
    assert fitting.json()["preset"] == "correctness" and fitting.json()["issues"] == []


async def test_bad_rows_and_unknown_presets_are_refused_by_name(
    grader: httpx.AsyncClient,
) -> None:
    bad = await grader.post("/v1/graders:preset", json={"rows": [row("Hi"), {"messages": []}]})
    assert bad.status_code == 422 and bad.json()["detail"] == "rows[1]: no messages"
    unknown = await grader.post("/v1/graders:preset", json={"rows": [row("Hi")],
                                                            "preset": "kindness"})
    assert unknown.status_code == 422 and "unknown preset 'kindness'" in unknown.json()["detail"]
    empty = await grader.post("/v1/graders:preset", json={"rows": []})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["body", "rows"]
