"""``{{ namespace.path }}`` templates in grader inputs, as OpenAI's graders read them.

Namespaces are ``item`` (any field of the row, nested with dots or ``[n]``) and ``sample``
(``output_text``, ``output_json`` and what is inside it, ``output_tools``). Strings are inserted
as they are; anything else as JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rft_grader.sample import NOT_JSON, Sample

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_INDEX = re.compile(r"\[(\d+)\]")
SAMPLE_VARIABLES = frozenset({"output_text", "output_json", "output_tools"})
NAMESPACES = frozenset({"item", "sample"})


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``{{ ... }}`` in a template."""

    raw: str
    namespace: str
    path: tuple[str, ...]
    position: int
    end: int

    @property
    def dotted(self) -> str:
        return ".".join((self.namespace, *self.path))


@lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[Reference, ...]:
    # A grader renders the same few templates for every sample: parse each once.
    return tuple(references(template))


def references(template: str) -> list[Reference]:
    found: list[Reference] = []
    for match in _PLACEHOLDER.finditer(template):
        raw = match.group(1).strip()
        parts = _INDEX.sub(r".\1", raw).split(".")
        found.append(Reference(raw=raw, namespace=parts[0], path=tuple(parts[1:]),
                               position=match.start(), end=match.end()))
    return found


@dataclass
class Rendered:
    text: str
    # ``{{item.x}}`` naming what the row lacks, or an unknown namespace: invalid_variable_error.
    missing: list[str] = field(default_factory=list)
    # ``{{sample.output_json.x}}`` of an answer that is not JSON: sample_parse_error.
    sample_not_json: bool = False


_MISSING = object()


def _walk(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def resolve(ref: Reference, sample: Sample, item: dict[str, Any], rendered: Rendered) -> str:
    if ref.namespace == "item" and ref.path:
        value = _walk(item, ref.path)
    elif ref.namespace == "sample" and ref.path and ref.path[0] in SAMPLE_VARIABLES:
        head, rest = ref.path[0], ref.path[1:]
        if head == "output_text":
            value = sample.output_text if not rest else _MISSING
        elif head == "output_tools":
            value = _walk(sample.output_tools_json, rest)
        else:
            parsed = sample.output_json
            if parsed is NOT_JSON:
                rendered.sample_not_json = True
                return ""
            value = _walk(parsed, rest)
    else:
        value = _MISSING
    if value is _MISSING:
        rendered.missing.append(ref.raw)
        return ""
    return _as_text(value)


def render(template: str, sample: Sample, item: dict[str, Any]) -> Rendered:
    if "{{" not in template:
        return Rendered(text=template)
    rendered = Rendered(text="")
    pieces: list[str] = []
    last = 0
    for ref in _parsed(template):
        pieces.append(template[last:ref.position])
        pieces.append(resolve(ref, sample, item, rendered))
        last = ref.end
    pieces.append(template[last:])
    rendered.text = "".join(pieces)
    return rendered
