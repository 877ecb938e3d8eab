"""Industry templates shipped as data (templates/*.json), and hand-written hierarchy files.

A hand-written ``topic_hierarchy.json`` may be a whole TopicHierarchy, an object with just
``topics``, or a bare list of topics; names are turned into snake_case ("Billing Issues" ->
``billing_issues``) and the tree is checked (names unique per parent) before it is accepted.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import ValidationError

from rft_categorizer.keywords import snake_case
from rft_schemas.topics import HierarchySource, Topic, TopicHierarchy

_TEMPLATES = "templates"


class HierarchyFileError(ValueError):
    """A topic_hierarchy.json that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def template_names() -> list[str]:
    folder = resources.files(__package__).joinpath(_TEMPLATES)
    names = (p.name for p in folder.iterdir())
    return sorted(n.removesuffix(".json") for n in names if n.endswith(".json"))


def template_description(name: str) -> str:
    return str(_read_template(name).get("description", ""))


def load_template(name: str, dataset: str) -> TopicHierarchy:
    """The template ``name`` as version 1 of ``dataset``'s hierarchy."""
    document = _read_template(name)
    return TopicHierarchy(
        dataset=dataset,
        source=HierarchySource.TEMPLATE,
        template=name,
        topics=[Topic.model_validate(t) for t in document["topics"]],
    )


def _read_template(name: str) -> dict[str, Any]:
    if name not in template_names():
        raise KeyError(f"no template {name!r}; templates: {', '.join(template_names())}")
    text = resources.files(__package__).joinpath(_TEMPLATES, f"{name}.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def parse_hierarchy_file(text: str, dataset: str) -> TopicHierarchy:
    """A hand-written hierarchy, checked; raises ``HierarchyFileError`` with every problem."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise HierarchyFileError([f"not JSON: {error}"]) from error
    if isinstance(document, list):
        document = {"topics": document}
    if not isinstance(document, dict) or not isinstance(document.get("topics"), list):
        raise HierarchyFileError(["expected a list of topics or an object with 'topics'"])
    problems: list[str] = []
    topics = [_normalized(t, f"topics[{i}]", problems) for i, t in enumerate(document["topics"])]
    if not topics:
        problems.append("the hierarchy has no topics")
    _check_tree(topics, "topics", problems)
    if problems:
        raise HierarchyFileError(problems)
    fields = {k: v for k, v in document.items() if k not in {"topics", "dataset"}}
    fields.setdefault("source", HierarchySource.MANUAL)
    try:
        return TopicHierarchy.model_validate({**fields, "dataset": dataset, "topics": topics})
    except ValidationError as error:
        raise HierarchyFileError(
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        ) from error


def _normalized(raw: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        problems.append(f"{where}: a topic is an object with a name (or a plain name)")
        return {"name": "invalid"}
    name = snake_case(str(raw.get("name", "")))
    if not name:
        problems.append(f"{where}: the topic has no usable name")
    examples = raw.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        problems.append(f"{where}.examples: a list of example prompts (strings)")
        examples = []
    children = raw.get("children", [])
    if not isinstance(children, list):
        problems.append(f"{where}.children: a list of topics")
        children = []
    return {
        "name": name or "invalid",
        "description": str(raw.get("description", "")),
        "examples": examples,
        "children": [
            _normalized(c, f"{where}.children[{i}]", problems) for i, c in enumerate(children)
        ],
    }


def _check_tree(topics: list[dict[str, Any]], where: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for topic in topics:
        if topic["name"] in seen:
            problems.append(f"{where}: two topics are named {topic['name']!r}")
        seen.add(topic["name"])
        _check_tree(topic["children"], f"{where}/{topic['name']}", problems)
