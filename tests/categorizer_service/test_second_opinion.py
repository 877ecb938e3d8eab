"""The LLM's second opinion in the categorizer service: asked about the unsure prompts only,
and what it decides is stored like any decision (Qdrant payload, record store, coverage)."""

from __future__ import annotations

import json
from pathlib import Path

from rft_categorizer.second_opinion import needs_second_opinion
from rft_categorizer.templates import parse_hierarchy_file
from rft_embedder import Embedder
from rft_runtime.vectorstore import point_id
from rft_schemas.topics import CategorizationMethod
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, service_with_embedded

DATASET = "drone-judge"


class RunnerUpJudge:
    """Always names the second topic it is offered (the runner-up)."""

    def __init__(self) -> None:
        self.asked = 0

    async def complete(self, messages: list[dict[str, str]]) -> str:
        self.asked += 1
        offered = messages[0]["content"].split("one of: ", 1)[1].split(". Answer", 1)[0]
        return json.dumps({"topic": offered.split(", ")[1]})


async def test_the_judge_moves_unsure_prompts_and_the_move_is_stored(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    topics, embedded, settings = service_with_embedded(embedder, drone_prompts, DATASET, tmp_path)
    assert topics.categorize_embedded(embedded) == []  # waiting for a hierarchy
    first = topics.set_hierarchy(parse_hierarchy_file(json.dumps(DRONE_TOPICS), DATASET)).records
    below = settings.categorize_review_below
    unsure = {r.prompt.id for r in first if needs_second_opinion(r, below)}
    assert unsure

    judge = RunnerUpJudge()
    texts = {e.prompt.id: e.embedded_text for e in embedded}
    reviewed = await topics.review_uncertain(first, texts, judge)

    assert judge.asked == len(unsure)
    for old, new in zip(first, reviewed, strict=True):
        if old.prompt.id in unsure:
            assert (new.topic_path, new.runner_up) == (old.runner_up, old.topic_path)
            assert new.method is CategorizationMethod.LLM
        else:
            assert new == old
    moved = next(r for r in reviewed if r.prompt.id in unsure)
    (point,) = topics.runner.collection(DATASET).retrieve([point_id(moved.prompt.id)])
    assert point.payload["topic_path"] == moved.topic_path
    (stored,) = topics.records.prompts(DATASET, [moved.prompt.id])
    assert stored.categorized == moved
    counts: dict[str, int] = {}
    for record in reviewed:
        key = "/".join(record.topic_path)
        counts[key] = counts.get(key, 0) + 1
    assert topics.runner.topic_counts(DATASET) == counts
