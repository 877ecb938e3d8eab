"""What a training request must pass before it is queued; each failure names its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rft_schemas import TrainingJobRequest
from rft_trainer_gateway.settings import TrainerSettings
from rft_trainer_gateway.validation import FieldError, check_request, validate_request
from tests.trainer_gateway.conftest import request_body, rows

SETTINGS = TrainerSettings()


def errors_of(**overrides: Any) -> list[FieldError]:
    return validate_request(TrainingJobRequest.model_validate(request_body(**overrides)),
                            SETTINGS)


def locs(errors: list[FieldError]) -> list[list[str | int]]:
    return [e.loc for e in errors]


def test_a_request_that_fits_passes_with_its_rows_read() -> None:
    checked, errors = check_request(TrainingJobRequest.model_validate(request_body()), SETTINGS)
    assert errors == []
    assert checked is not None and len(checked.train) == 4 and len(checked.valid) == 2


def test_a_grader_reading_a_field_the_rows_lack_names_the_grader() -> None:
    grader = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
              "reference": "{{item.answer}}", "operation": "eq"}
    (error,) = errors_of(grader=grader)
    assert error.loc == ["body", "grader"] and error.type == "unknown_item_field"
    assert "'answer'" in error.msg and "$.reference" in error.msg


def test_an_invalid_grader_is_refused_as_graders_validate_refuses_it() -> None:
    errors = errors_of(grader={"type": "string_check", "name": "x"})
    assert {e.type for e in errors} == {"invalid_field"} and len(errors) == 3
    assert {tuple(e.loc) for e in errors} == {("body", "grader")}
    assert any(e.msg.startswith("$.operation") for e in errors)


def test_an_empty_split_names_its_rows() -> None:
    assert locs(errors_of(valid={"rows": []})) == [["body", "valid", "rows"]]


def test_a_missing_file_names_the_file_field(tmp_path: Path) -> None:
    (error,) = errors_of(train={"file": str(tmp_path / "nope.jsonl")})
    assert error.loc == ["body", "train", "file"] and error.type == "file_unreadable"
    assert "nope.jsonl" in error.msg


def test_bad_lines_of_a_file_are_counted_and_named(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    good = [json.dumps(r) for r in rows(3)]
    path.write_text("\n".join([good[0], "{broken", good[1], '{"messages": []}', good[2]]) + "\n")
    (error,) = errors_of(train={"file": str(path)})
    assert error.loc == ["body", "train", "file"] and error.type == "invalid_lines"
    assert error.msg.startswith("2 line(s)") and "line 2" in error.msg and "line 4" in error.msg


def test_inline_rows_that_are_not_prompts_are_named_by_index() -> None:
    assert locs(errors_of(train={"rows": [*rows(2), {"messages": "hi"}]})) == [
        ["body", "train", "rows", 2]]


def test_a_model_directory_without_weights_is_not_loadable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (error,) = errors_of(base_model=str(tmp_path))
    assert error.loc == ["body", "base_model"] and "no weights" in error.msg


@pytest.mark.slow
def test_an_unknown_model_name_is_not_loadable_and_nothing_is_downloaded(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    (error,) = errors_of(base_model="no-such-org/no-such-model")
    assert error.loc == ["body", "base_model"] and "local Hugging Face cache" in error.msg
    assert not any((tmp_path / "hub").rglob("*.json")), "nothing may be downloaded"


def test_a_backend_this_gateway_does_not_run_names_the_backend() -> None:
    request = TrainingJobRequest.model_validate(request_body(backend="kubernetes"))
    (error,) = validate_request(request, SETTINGS, backends=["trl"])
    assert error.loc == ["body", "backend"]
