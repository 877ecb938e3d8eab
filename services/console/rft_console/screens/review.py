"""Step C: the review queue (low confidence, runner-up close, uncategorized): accept the topic
or reassign it.

Categorizer API: ``GET /v1/datasets/{d}/review``, ``PUT .../prompts/{id}/topic``,
``GET .../topics`` (the leaves to choose from).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_console.screens.topics import split_path
from rft_schemas.topics import CategorizedPrompt, Topic, TopicHierarchy


def leaf_paths(topics: list[Topic], parent: tuple[str, ...] = ()) -> Iterator[str]:
    for topic in topics:
        path = (*parent, topic.name)
        if topic.children:
            yield from leaf_paths(topic.children, path)
        else:
            yield "/".join(path)


def prompt_text(record: CategorizedPrompt, limit: int = 400) -> str:
    """The user turn the prompt ends on (what a reviewer reads to choose a topic)."""
    content = record.prompt.messages[-1].content if record.prompt.messages else None
    text = content if isinstance(content, str) else " ".join(
        part.text or "" for part in content or []
    )
    return text if len(text) <= limit else text[:limit] + "…"


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def leaves(dataset: str) -> list[str]:
        found = await up.call(
            "categorizer", "GET", f"/v1/datasets/{dataset}/topics", missing_ok=True
        )
        return [] if found is None else list(
            leaf_paths(TopicHierarchy.model_validate(found).topics)
        )

    @api.get("/d/{dataset}/review", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        found = await up.call(
            "categorizer", "GET", f"/v1/datasets/{dataset}/review",
            params={"limit": console.settings.page_size},
        )
        items = [CategorizedPrompt.model_validate(item) for item in found["items"]]
        return pages.render(
            request, "review.html", title="C · Review", dataset=dataset, current="review",
            items=[(item, prompt_text(item)) for item in items], leaves=await leaves(dataset),
        )

    @api.post("/d/{dataset}/review/{prompt_id}", response_class=HTMLResponse)
    async def decide(
        request: Request, dataset: Dataset, prompt_id: str, topic: Annotated[str, Form()]
    ) -> Response:
        found = await up.call(
            "categorizer", "PUT", f"/v1/datasets/{dataset}/prompts/{prompt_id}/topic",
            json={"topic_path": split_path(topic)},
        )
        record = CategorizedPrompt.model_validate(found)
        return pages.render(request, "review_done.html", record=record,
                            text=prompt_text(record))

    return api
