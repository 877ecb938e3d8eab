"""The categorizer's HTTP API: topics (discover, template, hand-written, edits), coverage,
the categorized records (paged: what the generator reads), the review queue and manual topics.
Every hierarchy change re-categorizes the dataset from its stored vectors and publishes the new
records when the service has a broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from rft_categorizer import editing
from rft_categorizer.editing import EditOp, EditRefusal, HierarchyEditError, MissingEditArgument
from rft_categorizer.labeling import TopicLabeler
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.stage import outputs_of
from rft_categorizer.templates import (
    HierarchyFileError,
    load_template,
    parse_hierarchy_file,
    template_description,
    template_names,
)
from rft_categorizer.topic_service import (
    Recategorized,
    TopicService,
    UnknownDatasetError,
    UnknownPromptError,
    WrongDimensionsError,
)
from rft_runtime.http.params import Cursor, DatasetInPath, StoredVersion
from rft_runtime.kafka.stage import Outbound
from rft_schemas.topics import (
    CategorizedPrompt,
    CoverageReport,
    TopicClassifyRequest,
    TopicClassifyResponse,
    TopicHierarchy,
)

Publish = Callable[[Sequence[Outbound]], Awaitable[None]]
LabelerFactory = Callable[[AsyncExitStack], Awaitable[TopicLabeler | None]]


class TemplateOut(BaseModel):
    name: str
    description: str


class HierarchyChange(BaseModel):
    hierarchy: TopicHierarchy
    recategorized: int = Field(description="prompts categorized again against this version")
    needs_review: int


class DiscoverRequest(BaseModel):
    use_llm: bool = Field(default=True, description="name topics with the LLM (else keywords)")
    min_topics: int | None = Field(
        default=None, ge=2, le=5000,
        description="at least this many leaf topics, when you know there are so many: the "
        "most stable resolution among those that find them (else chosen from the data alone)",
    )


class DiscoverOut(HierarchyChange):
    labels_from_llm: int
    labels_from_keywords: int
    outliers: int


class TopicEdit(BaseModel):
    """One edit; ``path`` names the topic from the root, e.g. ``["billing", "refunds"]``."""

    op: EditOp
    path: list[str] = Field(default_factory=list, description="the topic (add/reorder: parent)")
    name: str | None = Field(default=None, description="add: the new topic; rename: new name")
    description: str | None = None
    examples: list[str] | None = None
    new_parent: list[str] | None = Field(default=None, description="move: the new parent")
    position: int | None = None
    order: list[str] | None = Field(default=None, description="reorder: child names in order")
    keep_children: bool = False


class ManualTopic(BaseModel):
    topic_path: list[str] = Field(min_length=1)


class CategorizedPageOut(BaseModel):
    items: list[CategorizedPrompt]
    next_cursor: int | None = Field(description="the cursor of the next page; None: the last")


class ReviewOut(BaseModel):
    items: list[CategorizedPrompt]
    count: int


# What the API says when an edit lacks its argument (the core names the argument).
_MISSING = {
    ("add", "name"): "add needs a name",
    ("rename", "name"): "rename needs the new name",
    ("move", "new_parent"): "move needs new_parent ([] for the top level)",
    ("reorder", "order"): "reorder needs order",
}


def apply_edit(hierarchy: TopicHierarchy, edit: TopicEdit) -> TopicHierarchy:
    """The core edit named by ``edit`` (each returns a copy with the next version)."""
    try:
        return editing.apply_edit(
            hierarchy, edit.op, edit.path, name=edit.name, description=edit.description,
            examples=edit.examples, new_parent=edit.new_parent, position=edit.position,
            order=edit.order, keep_children=edit.keep_children,
        )
    except MissingEditArgument as error:
        raise HTTPException(422, _MISSING.get((error.op, error.argument), str(error))) from None


def build_router(
    topics: TopicService,
    settings: CategorizerSettings,
    publish: Publish | None,
    labeler_for: LabelerFactory,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["categorizer"])

    async def change(hierarchy: TopicHierarchy) -> HierarchyChange:
        try:
            done = await asyncio.to_thread(topics.set_hierarchy, hierarchy)
        except ValueError as error:  # e.g. no leaf with a description or an example
            raise HTTPException(422, str(error)) from error
        await _publish(done)
        return _change_out(done)

    async def _publish(done: Recategorized) -> None:
        if publish is not None and done.records:
            await publish(outputs_of(done.records))

    @router.get("/topic-templates", response_model=list[TemplateOut])
    async def templates() -> list[TemplateOut]:
        return [TemplateOut(name=n, description=template_description(n)) for n in template_names()]

    @router.post("/datasets/{dataset}/topics:discover", response_model=DiscoverOut)
    async def discover(
        dataset: DatasetInPath, request: DiscoverRequest | None = None
    ) -> DiscoverOut:
        request = request or DiscoverRequest()
        use_llm = request.use_llm and settings.topics_label_with_llm
        async with AsyncExitStack() as stack:
            labeler = await labeler_for(stack) if use_llm else None
            try:
                found = await topics.discover(dataset, labeler, settings.topics_label_timeout_s,
                                              request.min_topics)
            except UnknownDatasetError as error:
                raise HTTPException(404, str(error)) from error
        done = await asyncio.to_thread(topics.set_hierarchy, found.hierarchy)
        await _publish(done)
        return DiscoverOut(
            **_change_out(done).model_dump(),
            labels_from_llm=found.labels_from_llm,
            labels_from_keywords=found.labels_from_keywords,
            outliers=sum(1 for p in found.paths if p == ("other",)),
        )

    @router.get("/datasets/{dataset}/topics", response_model=TopicHierarchy)
    async def get_topics(
        dataset: DatasetInPath, version: StoredVersion = None
    ) -> TopicHierarchy:
        store = topics.hierarchies
        found = await asyncio.to_thread(
            store.current if version is None else lambda d: store.get(d, version), dataset
        )
        if found is None:
            raise HTTPException(404, f"dataset {dataset!r} has no topic hierarchy"
                                + (f" version {version}" if version else ""))
        return found

    @router.put("/datasets/{dataset}/topics", response_model=HierarchyChange)
    async def put_topics(
        dataset: DatasetInPath, request: Request, template: str | None = None
    ) -> HierarchyChange:
        """A hand-written hierarchy (the topic_hierarchy.json format) as the body, or
        ``?template=NAME`` for a shipped template."""
        if template is not None:
            try:
                hierarchy = load_template(template, dataset)
            except KeyError as error:
                raise HTTPException(404, str(error.args[0])) from error
        else:
            body = (await request.body()).decode("utf-8", errors="replace")
            try:
                hierarchy = parse_hierarchy_file(body, dataset)
            except (HierarchyFileError, json.JSONDecodeError) as error:
                raise HTTPException(422, str(error)) from error
        return await change(hierarchy)

    @router.patch("/datasets/{dataset}/topics", response_model=HierarchyChange)
    async def patch_topics(dataset: DatasetInPath, edits: list[TopicEdit]) -> HierarchyChange:
        """Edits applied in order to the current version; all of them make one new version."""
        current = await asyncio.to_thread(topics.hierarchies.current, dataset)
        if current is None:
            raise HTTPException(404, f"dataset {dataset!r} has no topic hierarchy")
        edited = current
        for edit in edits:
            try:
                edited = apply_edit(edited, edit)
            except HierarchyEditError as error:
                status = 404 if error.reason is EditRefusal.NOT_FOUND else 409
                detail = {"reason": error.reason, "detail": error.detail}
                raise HTTPException(status, detail) from error
        return await change(edited)

    @router.post("/datasets/{dataset}/topics:recategorize", response_model=HierarchyChange)
    async def recategorize(dataset: DatasetInPath) -> HierarchyChange:
        current = await asyncio.to_thread(topics.hierarchies.current, dataset)
        if current is None:
            raise HTTPException(404, f"dataset {dataset!r} has no topic hierarchy")
        records = await asyncio.to_thread(topics.recategorize, current)
        done = Recategorized(current, records)
        await _publish(done)
        return _change_out(done)

    @router.post("/datasets/{dataset}/topics:classify", response_model=TopicClassifyResponse)
    async def classify(dataset: DatasetInPath, body: TopicClassifyRequest) -> TopicClassifyResponse:
        """Step C's decision for each vector (at most 2048 rows, CLASSIFY_MAX_ROWS, of the
        dataset's dimensions): the topic path and key, the confidence and whether it would need
        review, computed by the code ``rft generate`` runs in process. The generator checks its
        candidates' topics here. 404 without a hierarchy, 422 for a row of other dimensions."""
        try:
            return await asyncio.to_thread(topics.classify, dataset, body.vectors)
        except UnknownDatasetError as error:
            raise HTTPException(404, str(error)) from error
        except WrongDimensionsError as error:
            raise HTTPException(422, str(error)) from error

    @router.get("/datasets/{dataset}/coverage", response_model=CoverageReport)
    async def coverage(
        dataset: DatasetInPath, total_target: Annotated[int | None, Query(ge=1)] = None
    ) -> CoverageReport:
        try:
            return await asyncio.to_thread(topics.coverage, dataset, None, total_target)
        except UnknownDatasetError as error:
            raise HTTPException(404, str(error)) from error

    @router.get("/datasets/{dataset}/categorized", response_model=CategorizedPageOut)
    async def categorized(
        dataset: DatasetInPath,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        cursor: Cursor = 0,
    ) -> CategorizedPageOut:
        """The dataset's categorized records (step C's output, as categorized_prompts.jsonl
        holds them for the CLI), a page at a time in arrival order. 404 before the dataset has
        a topic hierarchy: until then nothing is categorized."""
        if await asyncio.to_thread(topics.hierarchies.current, dataset) is None:
            raise HTTPException(404, f"dataset {dataset!r} has no topic hierarchy")
        items, next_cursor = await asyncio.to_thread(
            topics.records.categorized_page, dataset, limit, cursor
        )
        return CategorizedPageOut(items=items, next_cursor=next_cursor)

    @router.get("/datasets/{dataset}/review", response_model=ReviewOut)
    async def review(
        dataset: DatasetInPath, limit: Annotated[int, Query(ge=1, le=1000)] = 50
    ) -> ReviewOut:
        items = await asyncio.to_thread(topics.records.review_queue, dataset, limit)
        return ReviewOut(items=items, count=len(items))

    @router.put("/datasets/{dataset}/prompts/{prompt_id}/topic", response_model=CategorizedPrompt)
    async def set_topic(
        dataset: DatasetInPath, prompt_id: str, body: ManualTopic
    ) -> CategorizedPrompt:
        try:
            record = await asyncio.to_thread(topics.set_topic, dataset, prompt_id, body.topic_path)
        except (UnknownDatasetError, UnknownPromptError) as error:
            raise HTTPException(404, str(error)) from error
        except HierarchyEditError as error:
            raise HTTPException(422, f"no topic {'/'.join(body.topic_path)}") from error
        except ValueError as error:
            raise HTTPException(422, str(error)) from error
        if publish is not None:
            await publish(outputs_of([record]))
        return record

    return router


def _change_out(done: Recategorized) -> HierarchyChange:
    return HierarchyChange(
        hierarchy=done.hierarchy,
        recategorized=len(done.records),
        needs_review=sum(1 for r in done.records if r.needs_review),
    )


