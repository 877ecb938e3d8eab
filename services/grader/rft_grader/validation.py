"""``validate_grader``: every reason a grader config would fail, each with its JSON path.

Checks what OpenAI's validate endpoint checks (shape, types) and what only the data can tell:
templates naming item fields the dataset lacks, formulas naming sub-graders that do not exist,
python sources that do not parse, import what the sandbox refuses, or use the constructs that
reach past the import allowlist (``print.__self__``, frames, ``eval``...).

What this checks of a python source is static and only what it can tell: a source that hides
such a construct (``getattr(f, '__se' + 'lf__')``) passes here. The boundary is the sandbox's
kernel layers (Landlock, seccomp, uid, rlimits: see ``rft_grader/sandbox/worker.py``), which
hold whatever the source does; this check reports early what would only fail there.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rft_grader.formula import FormulaError, parse_formula
from rft_grader.sandbox.client import DEFAULT_ALLOWED_IMPORTS
from rft_grader.templating import NAMESPACES, SAMPLE_VARIABLES, references
from rft_schemas.grader import (
    Grader,
    GraderConfig,
    JudgeMessage,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
    ValidationIssue,
)

# Attributes and names that lead from grader code to the real builtins, other modules' globals,
# frames or code objects: the first step of every known escape from an import allowlist.
ESCAPE_ATTRIBUTES = frozenset({
    "__self__", "__globals__", "__builtins__", "__subclasses__", "__bases__", "__base__",
    "__mro__", "__code__", "__closure__", "__func__", "__import__", "__loader__", "__spec__",
    "__getattribute__", "__reduce__", "__reduce_ex__", "__traceback__", "__fspath__",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "gi_code",
    "cr_frame", "ag_frame", "tb_frame", "tb_next", "_getframe",
})
ESCAPE_NAMES = frozenset({"__import__", "__builtins__", "eval", "exec", "compile", "globals",
                          "vars", "breakpoint"})
GRADER_TYPES = ("string_check", "text_similarity", "score_model", "label_model", "python",
                "multi")
_GRADER_ADAPTER: TypeAdapter[Any] = TypeAdapter(Grader)


def _key(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


def _path_of(loc: tuple[str | int, ...], data: Any, root: str) -> str:
    """Turn a pydantic error location into a path through the submitted JSON.

    Discriminated unions put the tag (``string_check``) into the location; it names no key of
    the document, so it is skipped when it matches the ``type`` of the object it stands in.
    """
    path, node = root, data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            path, node = _key(path, part), node[part]
        elif isinstance(node, dict) and node.get("type") == part:
            continue
        else:
            path, node = _key(path, part), None
    return path


def _shape_issues(exc: ValidationError, data: Any, root: str) -> list[ValidationIssue]:
    issues = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "union_tag_invalid":
            path = _key(_path_of(loc, data, root), "type")
            tag = error.get("ctx", {}).get("tag")
            issues.append(ValidationIssue(
                path=path, code="unknown_type",
                message=f"unknown grader type {tag!r}; known: {', '.join(GRADER_TYPES)}"))
        elif error["type"] == "union_tag_not_found":
            issues.append(ValidationIssue(path=_key(_path_of(loc, data, root), "type"),
                                          code="missing_type", message="grader has no type"))
        else:
            issues.append(ValidationIssue(path=_path_of(loc, data, root), code="invalid_field",
                                          message=error["msg"]))
    return issues


def _template_issues(template: str, path: str,
                     dataset_fields: Collection[str] | None) -> Iterator[ValidationIssue]:
    opened, closed = template.count("{{"), template.count("}}")
    if opened != closed:
        yield ValidationIssue(path=path, code="template_syntax", position=template.find("{{"),
                              message="unbalanced {{ }} in template")
    for ref in references(template):
        if ref.namespace not in NAMESPACES or not ref.path:
            yield ValidationIssue(
                path=path, code="unknown_variable", position=ref.position,
                message=f"{{{{{ref.raw}}}}}: a variable is item.<field> or sample.<variable>")
        elif ref.namespace == "sample" and (
            ref.path[0] not in SAMPLE_VARIABLES or (ref.path[0] == "output_text" and ref.path[1:])
        ):
            yield ValidationIssue(
                path=path, code="unknown_variable", position=ref.position,
                message=f"{{{{{ref.raw}}}}}: sample has {', '.join(sorted(SAMPLE_VARIABLES))}")
        elif (ref.namespace == "item" and dataset_fields is not None
              and ref.path[0] not in dataset_fields):
            known = ", ".join(sorted(dataset_fields)) or "none"
            yield ValidationIssue(
                path=path, code="unknown_item_field", position=ref.position,
                message=f"{{{{{ref.raw}}}}}: the dataset has no field {ref.path[0]!r} "
                        f"(fields: {known})")


def _message_templates(messages: list[JudgeMessage], path: str) -> Iterator[tuple[str, str]]:
    for i, message in enumerate(messages):
        content, base = message.content, _key(_key(path, i), "content")
        if isinstance(content, str):
            yield content, base
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if part.text is not None:
                    yield part.text, _key(_key(base, j), "text")
        elif content.text is not None:
            yield content.text, _key(base, "text")


def _python_issues(source: str, path: str) -> Iterator[ValidationIssue]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        yield ValidationIssue(path=path, code="invalid_python", position=exc.offset,
                              message=f"line {exc.lineno}: {exc.msg}")
        return
    if not any(isinstance(node, ast.FunctionDef) and node.name == "grade" for node in tree.body):
        yield ValidationIssue(path=path, code="missing_grade_function",
                              message="the source defines no top-level grade(sample, item)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." if node.level else (node.module or "")]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in DEFAULT_ALLOWED_IMPORTS:
                yield ValidationIssue(
                    path=path, code="disallowed_import",
                    message=f"line {node.lineno}: import of {name!r} is not allowed "
                            f"(allowed: {', '.join(sorted(DEFAULT_ALLOWED_IMPORTS))})")
    yield from _escape_issues(tree, path)


def _escape_issues(tree: ast.AST, path: str) -> Iterator[ValidationIssue]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ESCAPE_ATTRIBUTES:
            what = f"the attribute {node.attr!r}"
        elif isinstance(node, ast.Name) and node.id in ESCAPE_NAMES:
            what = f"{node.id!r}"
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and node.value in ESCAPE_ATTRIBUTES | ESCAPE_NAMES):
            what = f"the string {node.value!r}"
        elif (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
              and node.name in ESCAPE_ATTRIBUTES):
            what = f"a method {node.name!r}"
        else:
            continue
        yield ValidationIssue(
            path=path, code="sandbox_escape",
            message=f"line {node.lineno}: {what} reaches past the sandbox's import allowlist "
                    "(builtins, frames, code objects); python graders may not use it")


def _semantic_issues(grader: Any, path: str,
                     dataset_fields: Collection[str] | None) -> Iterator[ValidationIssue]:
    if isinstance(grader, StringCheckGrader | TextSimilarityGrader):
        for field in ("input", "reference"):
            yield from _template_issues(getattr(grader, field), _key(path, field), dataset_fields)
    elif isinstance(grader, ScoreModelGrader | LabelModelGrader):
        for template, where in _message_templates(grader.input, _key(path, "input")):
            yield from _template_issues(template, where, dataset_fields)
        if isinstance(grader, ScoreModelGrader) and not grader.range[0] < grader.range[1]:
            yield ValidationIssue(path=_key(path, "range"), code="invalid_field",
                                  message="range must be [low, high] with low < high")
        if isinstance(grader, LabelModelGrader):
            for i, label in enumerate(grader.passing_labels):
                if label not in grader.labels:
                    yield ValidationIssue(path=_key(_key(path, "passing_labels"), i),
                                          code="invalid_field",
                                          message=f"passing label {label!r} is not in labels")
    elif isinstance(grader, PythonGrader):
        yield from _python_issues(grader.source, _key(path, "source"))
    elif isinstance(grader, MultiGrader):
        if not grader.graders:
            yield ValidationIssue(path=_key(path, "graders"), code="invalid_field",
                                  message="a multi grader needs at least one sub-grader")
        try:
            parse_formula(grader.calculate_output, names=grader.graders.keys())
        except FormulaError as exc:
            code = "unknown_name" if exc.reason.startswith("unknown") else "formula_syntax"
            yield ValidationIssue(path=_key(path, "calculate_output"), code=code,
                                  position=exc.position, message=str(exc))
        for key, sub in grader.graders.items():
            yield from _semantic_issues(sub, _key(_key(path, "graders"), key), dataset_fields)


def validate_grader(config: GraderConfig | Grader | dict[str, Any],
                    dataset_fields: Collection[str] | None = None) -> list[ValidationIssue]:
    """All issues of ``config`` (a ``grader_config.json`` object or a bare grader); empty when
    it is valid. With ``dataset_fields``, ``{{item.x}}`` must name one of them."""
    if isinstance(config, dict):
        is_file = "grader" in config and "type" not in config
        try:
            if is_file:
                parsed: Any = GraderConfig.model_validate(config)
            else:
                parsed = _GRADER_ADAPTER.validate_python(config)
        except ValidationError as exc:
            return _shape_issues(exc, config, "$")
        config = parsed
    if isinstance(config, GraderConfig):
        return list(_semantic_issues(config.grader, "$.grader", dataset_fields))
    return list(_semantic_issues(config, "$", dataset_fields))
