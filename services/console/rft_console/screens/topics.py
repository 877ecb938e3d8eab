"""Step B: the topic tree (discover, template, hand-written; add, rename, describe, move, delete;
earlier versions read-only).

Categorizer API: ``GET/PUT/PATCH /v1/datasets/{d}/topics`` (``?version=``, ``?template=``),
``POST .../topics:discover``, ``GET /v1/topic-templates``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_schemas.topics import Topic, TopicHierarchy

Op = Literal["add", "rename", "describe", "move", "delete"]


def topic_paths(topics: list[Topic], parent: tuple[str, ...] = ()) -> Iterator[str]:
    """Every topic as ``a/b`` in tree order (the forms' choices)."""
    for topic in topics:
        path = (*parent, topic.name)
        yield "/".join(path)
        yield from topic_paths(topic.children, path)


def split_path(text: str) -> list[str]:
    return [part for part in text.split("/") if part]


def edit_of(
    op: Op, topic: str, name: str, description: str, examples: str, new_parent: str
) -> dict[str, Any]:
    """The categorizer's TopicEdit for the form's fields (empty fields are not sent)."""
    edit: dict[str, Any] = {"op": op, "path": split_path(topic)}
    if op in ("add", "rename") and name.strip():
        edit["name"] = name.strip()
    if op in ("add", "describe"):
        if description.strip():
            edit["description"] = description.strip()
        lines = [line.strip() for line in examples.splitlines() if line.strip()]
        if lines:
            edit["examples"] = lines
    if op == "move":
        edit["new_parent"] = split_path(new_parent)
    return edit


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def tree(
        request: Request, dataset: str, hierarchy: TopicHierarchy | None, note: str | None,
    ) -> Response:
        templates = [] if hierarchy else await up.call("categorizer", "GET", "/v1/topic-templates")
        return pages.render(
            request, "topics_tree.html", dataset=dataset, hierarchy=hierarchy, note=note,
            paths=list(topic_paths(hierarchy.topics)) if hierarchy else [],
            templates=templates, viewing=None, latest=hierarchy.version if hierarchy else None,
        )

    async def current(dataset: str, version: int | None = None) -> TopicHierarchy | None:
        found = await up.call(
            "categorizer", "GET", f"/v1/datasets/{dataset}/topics",
            params={"version": version} if version else None, missing_ok=True,
        )
        return None if found is None else TopicHierarchy.model_validate(found)

    def changed(found: dict[str, Any], what: str) -> tuple[TopicHierarchy, str]:
        hierarchy = TopicHierarchy.model_validate(found["hierarchy"])
        return hierarchy, (
            f"{what}: version {hierarchy.version}; {found['recategorized']} prompts categorized "
            f"again, {found['needs_review']} need review."
        )

    @api.get("/d/{dataset}/topics", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset, version: int | None = None) -> Response:
        hierarchy = await current(dataset, version)
        latest = (await current(dataset)) if version else hierarchy
        return pages.render(
            request, "topics.html", title="B · Topics", dataset=dataset, current="topics",
            hierarchy=hierarchy, note=None,
            paths=list(topic_paths(hierarchy.topics)) if hierarchy else [],
            templates=[] if hierarchy else await up.call(
                "categorizer", "GET", "/v1/topic-templates"),
            viewing=version, latest=latest.version if latest else None,
        )

    @api.post("/d/{dataset}/topics/discover", response_class=HTMLResponse)
    async def discover(
        request: Request, dataset: Dataset, use_llm: Annotated[bool, Form()] = False,
        min_topics: Annotated[int | None, Form()] = None,
    ) -> Response:
        found = await up.call(
            "categorizer", "POST", f"/v1/datasets/{dataset}/topics:discover",
            json={"use_llm": use_llm, "min_topics": min_topics},
        )
        hierarchy, note = changed(found, "Discovered from the data")
        return await tree(request, dataset, hierarchy, note)

    @api.post("/d/{dataset}/topics/template", response_class=HTMLResponse)
    async def template(
        request: Request, dataset: Dataset, template: Annotated[str, Form()]
    ) -> Response:
        found = await up.call(
            "categorizer", "PUT", f"/v1/datasets/{dataset}/topics", params={"template": template}
        )
        hierarchy, note = changed(found, f"From the template {template}")
        return await tree(request, dataset, hierarchy, note)

    @api.post("/d/{dataset}/topics/manual", response_class=HTMLResponse)
    async def manual(
        request: Request, dataset: Dataset, hierarchy_json: Annotated[str, Form()]
    ) -> Response:
        found = await up.call(
            "categorizer", "PUT", f"/v1/datasets/{dataset}/topics",
            content=hierarchy_json.encode(), headers={"Content-Type": "application/json"},
        )
        hierarchy, note = changed(found, "Your hierarchy")
        return await tree(request, dataset, hierarchy, note)

    @api.post("/d/{dataset}/topics/edit", response_class=HTMLResponse)
    async def edit(
        request: Request,
        dataset: Dataset,
        op: Annotated[Op, Form()],
        topic: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        description: Annotated[str, Form()] = "",
        examples: Annotated[str, Form()] = "",
        new_parent: Annotated[str, Form()] = "",
    ) -> Response:
        found = await up.call(
            "categorizer", "PATCH", f"/v1/datasets/{dataset}/topics",
            json=[edit_of(op, topic, name, description, examples, new_parent)],
        )
        hierarchy, note = changed(found, f"{op.capitalize()} done")
        return await tree(request, dataset, hierarchy, note)

    return api
