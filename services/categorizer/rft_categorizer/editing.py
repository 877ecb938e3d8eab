"""Manual edits of a topic hierarchy: pure functions, each returning a new version.

A topic is addressed by its path from the root (``["billing", "refunds"]``). Every edit checks
the invariants (names unique per parent, snake_case names, no cycles), leaves its input
untouched, and returns a copy with ``version + 1``. A refused edit raises ``HierarchyEditError``
with a reason code: it is a user's command that the API maps to a 4xx, not a batch record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from rft_schemas.topics import Topic, TopicHierarchy

TopicPath = Sequence[str]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class EditRefusal(StrEnum):
    NOT_FOUND = "not_found"
    DUPLICATE_NAME = "duplicate_name"
    INVALID_NAME = "invalid_name"
    CYCLE = "cycle"
    BAD_ORDER = "bad_order"


class HierarchyEditError(ValueError):
    def __init__(self, reason: EditRefusal, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def find_topic(hierarchy: TopicHierarchy, path: TopicPath) -> Topic:
    """The topic at ``path``; raises ``HierarchyEditError(not_found)``."""
    siblings = hierarchy.topics
    topic: Topic | None = None
    for depth, name in enumerate(path):
        topic = next((t for t in siblings if t.name == name), None)
        if topic is None:
            raise HierarchyEditError(
                EditRefusal.NOT_FOUND, f"no topic {'/'.join(path[: depth + 1])!r}"
            )
        siblings = topic.children
    if topic is None:
        raise HierarchyEditError(EditRefusal.NOT_FOUND, "empty path")
    return topic


def add_topic(
    hierarchy: TopicHierarchy,
    parent: TopicPath,
    name: str,
    description: str = "",
    examples: Sequence[str] = (),
    position: int | None = None,
) -> TopicHierarchy:
    """Add a topic under ``parent`` (``[]`` for the root), at ``position`` or at the end."""
    _check_name(name)
    new = _copy(hierarchy)
    siblings = _children(new, parent)
    _check_unique(siblings, name, parent)
    topic = Topic(name=name, description=description, examples=list(examples))
    siblings.insert(len(siblings) if position is None else position, topic)
    return _next_version(new)


def rename_topic(hierarchy: TopicHierarchy, path: TopicPath, new_name: str) -> TopicHierarchy:
    _check_name(new_name)
    new = _copy(hierarchy)
    topic = find_topic(new, path)
    if new_name != topic.name:
        _check_unique(_children(new, path[:-1]), new_name, path[:-1])
    topic.name = new_name
    return _next_version(new)


def describe_topic(
    hierarchy: TopicHierarchy,
    path: TopicPath,
    description: str | None = None,
    examples: Sequence[str] | None = None,
) -> TopicHierarchy:
    """Replace a topic's description and/or its example prompts (``None`` keeps them)."""
    new = _copy(hierarchy)
    topic = find_topic(new, path)
    if description is not None:
        topic.description = description
    if examples is not None:
        topic.examples = list(examples)
    return _next_version(new)


def move_topic(
    hierarchy: TopicHierarchy,
    path: TopicPath,
    new_parent: TopicPath,
    position: int | None = None,
) -> TopicHierarchy:
    """Move a topic (with its subtree) under ``new_parent``; a topic cannot go under itself."""
    if list(new_parent[: len(path)]) == list(path):
        raise HierarchyEditError(
            EditRefusal.CYCLE, f"{'/'.join(path)!r} cannot move under itself or its subtree"
        )
    new = _copy(hierarchy)
    topic = find_topic(new, path)
    destination = _children(new, new_parent)
    if list(new_parent) != list(path[:-1]):
        _check_unique(destination, topic.name, new_parent)
    source = _children(new, path[:-1])
    source.remove(topic)
    destination.insert(len(destination) if position is None else position, topic)
    return _next_version(new)


def delete_topic(
    hierarchy: TopicHierarchy, path: TopicPath, keep_children: bool = False
) -> TopicHierarchy:
    """Delete a topic; with ``keep_children`` its children move up to its parent, in its place."""
    new = _copy(hierarchy)
    topic = find_topic(new, path)
    siblings = _children(new, path[:-1])
    index = siblings.index(topic)
    siblings.remove(topic)
    if keep_children:
        for child in topic.children:
            _check_unique(siblings, child.name, path[:-1])
        siblings[index:index] = topic.children
    return _next_version(new)


def reorder_topics(
    hierarchy: TopicHierarchy, parent: TopicPath, order: Sequence[str]
) -> TopicHierarchy:
    """Put the children of ``parent`` in ``order``, which must name each of them exactly once."""
    new = _copy(hierarchy)
    siblings = _children(new, parent)
    if sorted(order) != sorted(t.name for t in siblings):
        raise HierarchyEditError(
            EditRefusal.BAD_ORDER,
            f"order {list(order)} is not a permutation of {[t.name for t in siblings]}",
        )
    by_name = {t.name: t for t in siblings}
    siblings[:] = [by_name[name] for name in order]
    return _next_version(new)


EDIT_OPS = ("add", "rename", "describe", "move", "delete", "reorder")
EditOp = Literal["add", "rename", "describe", "move", "delete", "reorder"]


class MissingEditArgument(ValueError):
    """An edit without the argument its op needs (``name``, ``new_parent`` or ``order``): each
    shell says it in its own words (an option, a JSON field)."""

    def __init__(self, op: str, argument: str) -> None:
        super().__init__(f"{op} needs {argument}")
        self.op = op
        self.argument = argument


def apply_edit(
    hierarchy: TopicHierarchy,
    op: str,
    path: TopicPath,
    *,
    name: str | None = None,
    description: str | None = None,
    examples: Sequence[str] | None = None,
    new_parent: TopicPath | None = None,
    position: int | None = None,
    order: Sequence[str] | None = None,
    keep_children: bool = False,
) -> TopicHierarchy:
    """The edit ``op`` (one of ``EDIT_OPS``) on ``path``: add and reorder take the parent there
    (``[]`` for the top level). Raises ``MissingEditArgument`` when the op lacks its argument,
    ``ValueError`` for an unknown op, ``HierarchyEditError`` when the edit is refused."""
    match op:
        case "add":
            if not name:
                raise MissingEditArgument(op, "name")
            return add_topic(hierarchy, path, name, description or "", examples or (), position)
        case "rename":
            if not name:
                raise MissingEditArgument(op, "name")
            return rename_topic(hierarchy, path, name)
        case "describe":
            return describe_topic(hierarchy, path, description, examples)
        case "move":
            if new_parent is None:
                raise MissingEditArgument(op, "new_parent")
            return move_topic(hierarchy, path, new_parent, position)
        case "delete":
            return delete_topic(hierarchy, path, keep_children)
        case "reorder":
            if order is None:
                raise MissingEditArgument(op, "order")
            return reorder_topics(hierarchy, path, order)
        case _:
            raise ValueError(f"unknown edit {op!r}")


def leaf_paths(hierarchy: TopicHierarchy) -> list[tuple[str, ...]]:
    """Every leaf's path, in tree order."""
    paths: list[tuple[str, ...]] = []

    def walk(topics: list[Topic], prefix: tuple[str, ...]) -> None:
        for topic in topics:
            path = (*prefix, topic.name)
            if topic.children:
                walk(topic.children, path)
            else:
                paths.append(path)

    walk(hierarchy.topics, ())
    return paths


def _children(hierarchy: TopicHierarchy, parent: TopicPath) -> list[Topic]:
    return hierarchy.topics if not parent else find_topic(hierarchy, parent).children


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise HierarchyEditError(
            EditRefusal.INVALID_NAME, f"{name!r} is not snake_case ([a-z0-9][a-z0-9_]*)"
        )


def _check_unique(siblings: list[Topic], name: str, parent: TopicPath) -> None:
    if any(t.name == name for t in siblings):
        where = "/".join(parent) or "the root"
        raise HierarchyEditError(EditRefusal.DUPLICATE_NAME, f"{where} already has {name!r}")


def _copy(hierarchy: TopicHierarchy) -> TopicHierarchy:
    return hierarchy.model_copy(deep=True)


def _next_version(hierarchy: TopicHierarchy) -> TopicHierarchy:
    hierarchy.version += 1
    hierarchy.created_at = datetime.now(UTC)
    return hierarchy
