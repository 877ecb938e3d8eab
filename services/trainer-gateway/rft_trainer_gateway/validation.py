"""Everything a training request must pass before a job is queued, each failure at its field.

The request's own shape (k >= 2, a batch divisible by k) is the contract's; here is what only the
gateway can tell: the rows read and parse as prompts, the splits are not empty, the grader is
valid as ``graders:validate`` says and reads only fields the rows have, the base model loads
from this machine (nothing is downloaded), the backend is one this gateway runs. The HTTP API
answers a non-empty list with a 422; `rft train` prints it. Nothing is queued either way.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rft_grader.dryrun.prompts import parse_prompt
from rft_grader.validation import validate_grader
from rft_runtime.llm.settings import LOCAL_MODEL_NAME, LLMSettings
from rft_schemas import RowsSource, TrainingBackendName, TrainingJobRequest
from rft_trainer_gateway.settings import TrainerSettings

Loc = list[str | int]
BAD_LINES_NAMED = 5  # bad lines listed by number in one error; all are counted
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


class FieldError(BaseModel):
    """One reason a request is refused, shaped like a pydantic/FastAPI error item."""

    loc: Loc
    msg: str
    type: str


@dataclass
class Split:
    """One split's rows as read, and the lines (or inline rows) that are not prompts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    item_fields: set[str] = field(default_factory=set)
    bad: list[tuple[int, str]] = field(default_factory=list)
    unreadable: str | None = None


def read_split(source: RowsSource) -> Split:
    """Rows inline or from a JSONL file; each must parse as a prompt (the dry run's rule)."""
    split = Split()
    if source.rows is not None:
        records: list[tuple[int, Any]] = list(enumerate(source.rows))
    else:
        assert source.file is not None
        try:
            raw_lines = Path(source.file).read_bytes().splitlines()
        except OSError as error:
            split.unreadable = f"cannot read {source.file}: {error.strerror or error}"
            return split
        records = []
        for number, raw in enumerate(raw_lines, start=1):
            if not raw.strip():
                continue
            try:
                records.append((number, json.loads(raw)))
            except (ValueError, RecursionError) as error:
                split.bad.append((number, f"not JSON: {str(error).splitlines()[0][:120]}"))
    for where, record in records:
        try:
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            prompt = parse_prompt(record)
        except (ValueError, ValidationError) as error:
            split.bad.append((where, str(error).splitlines()[0][:120]))
            continue
        split.rows.append(record)
        split.item_fields.update(prompt.item)
    return split


def split_errors(name: str, source: RowsSource, split: Split) -> list[FieldError]:
    where: Loc = ["body", name, "file" if source.file is not None else "rows"]
    if split.unreadable is not None:
        return [FieldError(loc=where, msg=split.unreadable, type="file_unreadable")]
    errors = []
    if source.rows is not None:
        errors += [FieldError(loc=[*where, index], msg=f"not a prompt: {reason}",
                              type="invalid_row") for index, reason in split.bad]
    elif split.bad:
        named = "; ".join(f"line {n}: {reason}" for n, reason in split.bad[:BAD_LINES_NAMED])
        more = f" (and {len(split.bad) - BAD_LINES_NAMED} more)" if (
            len(split.bad) > BAD_LINES_NAMED) else ""
        errors.append(FieldError(
            loc=where, type="invalid_lines",
            msg=f"{len(split.bad)} line(s) of {source.file} are not prompts: {named}{more}"))
    if not split.rows and not split.bad:
        errors.append(FieldError(loc=where, msg=f"the {name} split is empty", type="empty_split"))
    return errors


def grader_errors(grader: dict[str, Any], fields: Collection[str] | None) -> list[FieldError]:
    """The grader's issues as ``graders:validate`` finds them; with ``fields``, a template naming
    ``{{item.x}}`` that no row has is one too."""
    return [FieldError(loc=["body", "grader"], msg=f"{issue.path}: {issue.message}",
                       type=issue.code)
            for issue in validate_grader(grader, fields)]


def local_model_dir(llm: LLMSettings | None = None) -> Path:
    """Where the LLM runtime keeps the local SmolLM2 checkpoint (the default base model)."""
    from rft_runtime.llm.model_store import checkpoint_dir

    return checkpoint_dir((llm or LLMSettings()).cache_dir)


def base_model_error(name: str | None) -> str | None:
    """Why ``name`` cannot be loaded here without a download, or None. Cheap: config and weight
    files are looked up, no weights are read."""
    if name in (None, "", LOCAL_MODEL_NAME):
        from rft_runtime.llm.model_store import ModelFilesMissingError, gguf_path

        if (local_model_dir() / WEIGHT_FILES[0]).is_file():
            return None
        try:
            gguf_path()  # the checkpoint is dequantized from it on first use
        except ModelFilesMissingError as error:
            return f"the default base model ({LOCAL_MODEL_NAME}) is not installed: {error}"
        return None
    assert name is not None
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            return f"{name} is a directory without config.json: not a model checkpoint"
        if not any((path / weights).is_file() for weights in WEIGHT_FILES):
            return f"{name} holds no weights ({', '.join(WEIGHT_FILES)})"
        return None
    if path.is_absolute() or name.startswith((".", "~")):
        return f"no model directory {name}"
    return _hub_cache_error(name)


def _hub_cache_error(name: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as error:
        return (f"{name!r} is neither a model directory nor a model in the local Hugging Face "
                f"cache (nothing is downloaded): {str(error).splitlines()[0][:200]}")
    if not any(isinstance(try_to_load_from_cache(name, weights), str)
               for weights in WEIGHT_FILES):
        return f"{name!r} is in the local Hugging Face cache without its weights"
    return None


def validate_request(
    request: TrainingJobRequest,
    settings: TrainerSettings,
    backends: Collection[TrainingBackendName] | None = None,
) -> list[FieldError]:
    """Every reason ``request`` cannot be queued (empty: it can). ``backends``: those this
    caller runs (unset: any)."""
    return check_request(request, settings, backends)[1]


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed, with its rows read (a file's rows as they were when checked)."""

    request: TrainingJobRequest
    train: list[dict[str, Any]]
    valid: list[dict[str, Any]]


def check_request(
    request: TrainingJobRequest,
    settings: TrainerSettings,
    backends: Collection[TrainingBackendName] | None = None,
) -> tuple[CheckedRequest | None, list[FieldError]]:
    errors: list[FieldError] = []
    train, valid = read_split(request.train), read_split(request.valid)
    errors += split_errors("train", request.train, train)
    errors += split_errors("valid", request.valid, valid)
    # A field the grader reads must be in both splits: it scores train rollouts and the evals.
    fields = (train.item_fields & valid.item_fields) if train.rows and valid.rows else None
    errors += grader_errors(request.grader, fields)
    model_error = base_model_error(request.base_model)
    if model_error is not None:
        errors.append(FieldError(loc=["body", "base_model"], msg=model_error,
                                 type="model_not_loadable"))
    if backends is not None and request.backend not in backends:
        errors.append(FieldError(
            loc=["body", "backend"], type="backend_unavailable",
            msg=f"this gateway runs {', '.join(sorted(backends))}, not {request.backend}"))
    if errors:
        return None, errors
    return CheckedRequest(request, train.rows, valid.rows), []
