"""Step E's topic check in the cluster: a job of the generator service asks the categorizer
service for step C's decision (``POST /v1/datasets/{dataset}/topics:classify``), over real HTTP,
and a categorizer that cannot answer is a failure to retry, never another check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rft_embedder import Embedder
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_generator.sources import CategorizerAPI, CategorizerUnavailable
from rft_generator.topic_check import HttpTopicChecker
from rft_runtime.llm import LLMSettings
from rft_schemas import CategorizedPrompt, SyntheticPrompt
from rft_schemas.topics import TopicClassifyResponse
from tests.categorizer_service.fixtures import DRONE_TOPICS
from tests.categorizer_service.http_server import served
from tests.generator.categorizer_service import categorizer_holding
from tests.generator.embedder_service import embedder_service
from tests.generator.test_categorizer_source import closed_port_url
from tests.llm.conftest import Reply, ScriptedServer, scripted_server

__all__ = ["scripted_server"]  # the fixture

DATASET = "drone-topic-check"
TARGET = "camera"
# What the scripted LLM proposes for the camera topic: two camera requests, two for the lights.
CANDIDATES = [
    "Snap a wide panorama photo of the valley below us",
    "Make the drone lights blink green and blue",
    "Start recording a slow motion video of the sunset",
    "Switch the LED display to a rainbow pattern",
]


class RecordClassify:
    """Keeps every ``topics:classify`` answer the categorizer sends (a pure ASGI middleware)."""

    def __init__(self, app: ASGIApp, answers: list[dict[str, Any]]) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/topics:classify"):
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        self.answers.append({"path": scope["path"], "body": json.loads(body)})


def candidates_script(k: int, n: int = len(CANDIDATES)) -> Reply:
    return Reply(200, {
        "id": f"chatcmpl-{k}", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": CANDIDATES[i]},
             "finish_reason": "stop"}
            for i in range(n)
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 12, "total_tokens": 19},
    })


async def test_a_service_job_checks_its_candidates_topics_with_the_categorizer(
    tmp_path: Path, embedder: Embedder, categorized: list[CategorizedPrompt],
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    scripted_server: Callable[[Callable[[int], Reply]], ScriptedServer],
) -> None:
    holding = await categorizer_holding(DATASET, tmp_path, embedder, categorized, monkeypatch,
                                        request)
    answers: list[dict[str, Any]] = []
    holding.app.add_middleware(RecordClassify, answers=answers)
    llm = scripted_server(candidates_script)
    try:
        async with served(holding.app, holding.settings) as categorizer, \
                embedder_service(embedder, tmp_path) as embedder_url:
            put = await categorizer.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
            assert put.status_code == 200, put.text
            settings = GeneratorSettings(
                data_dir=tmp_path / "generator", categorizer_url=str(categorizer.base_url),
                embedder_url=embedder_url, log_json=False,
            )
            generator_app, _, _ = build_generator(
                settings, LLMSettings(base_url=llm.base_url, max_retries=1),
                vector_store=holding.qdrant,
            )
            async with served(generator_app, settings) as generator:
                submitted = await generator.post("/v1/generation-jobs", json={
                    "id": "checked", "dataset": DATASET, "targets": {TARGET: 2},
                    "candidates_per_request": len(CANDIDATES), "max_attempts_per_prompt": 2,
                    "max_tokens": 40,
                })
                assert submitted.status_code == 202, submitted.text
                deadline = asyncio.get_running_loop().time() + 120
                while (state := (await generator.get("/v1/generation-jobs/checked")).json()
                       )["job"]["status"] in ("queued", "running"):
                    assert asyncio.get_running_loop().time() < deadline, state
                    await asyncio.sleep(0.1)
    finally:
        holding.qdrant.close()

    assert len(llm.requests) == 1  # one round: the four candidates are the topic's budget
    assert state["job"]["status"] == "succeeded", state["job"]["error"]
    # The candidates' topics were decided by the categorizer: one classify call of four rows
    # (the prototype checker would have asked nothing).
    assert [a["path"] for a in answers] == [f"/v1/datasets/{DATASET}/topics:classify"]
    decisions = TopicClassifyResponse.model_validate(answers[0]["body"]).decisions
    assert len(decisions) == len(CANDIDATES)
    min_confidence = 0.5  # QualitySettings().topic_min_confidence
    on_topic = [d.topic == TARGET and d.confidence >= min_confidence for d in decisions]
    assert on_topic == [True, False, True, False]  # the lights requests are off topic
    (progress,) = state["topics"]
    assert progress["attempts"] == len(CANDIDATES)
    assert progress["generated"] == sum(on_topic)
    assert progress["failures"] == {"wrong_topic": on_topic.count(False)}

    # Each kept prompt carries the categorizer's decision for its vector as its topic check.
    output = settings.resolved_output_dir() / "checked" / "synthetic_prompts.jsonl"
    kept = [SyntheticPrompt.model_validate_json(x) for x in output.read_text().splitlines()]
    assert [s.prompt.messages[-1].text() for s in kept] == [
        c for c, ok in zip(CANDIDATES, on_topic, strict=True) if ok]
    topic_checks = [next(c for c in s.validation if c.name == "topic") for s in kept]
    kept_decisions = [d for d, ok in zip(decisions, on_topic, strict=True) if ok]
    assert [c.detail for c in topic_checks] == [f"landed in {TARGET}"] * len(kept)
    assert [c.score for c in topic_checks] == [round(d.confidence, 4) for d in kept_decisions]


def test_the_http_checker_raises_the_categorizer_outage_it_meets() -> None:
    checker = HttpTopicChecker(CategorizerAPI(closed_port_url(), timeout_s=5), DATASET)
    with pytest.raises(CategorizerUnavailable, match="the categorizer at"):
        checker.categorize(np.ones((2, 384), dtype=np.float32))
    assert checker.categorize(np.zeros((0, 384), dtype=np.float32)) == []
