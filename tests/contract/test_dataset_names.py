"""The one dataset-name rule: a name is one path component that cannot climb."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rft_schemas import DryRunRequest, GenerationRequest
from rft_schemas.names import InvalidDatasetName, check_dataset_name, dataset_dir

GOOD = ["drone", "drone-2024.v1", "tau2_airline", "A", "0.5", "a..b"]
BAD = ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "-flag", "a b", "é", "x" * 129, "a\n"]


@pytest.mark.parametrize("name", GOOD)
def test_names_that_follow_the_rule_are_accepted_everywhere(name: str, tmp_path: Path) -> None:
    assert check_dataset_name(name) == name
    assert dataset_dir(tmp_path, name).parent == tmp_path
    assert GenerationRequest(id="j", dataset=name).dataset == name
    assert DryRunRequest(dataset=name, prompts=[], grader={}).dataset == name


@pytest.mark.parametrize("name", BAD)
def test_names_that_break_it_are_refused_everywhere(name: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidDatasetName):
        dataset_dir(tmp_path, name)
    with pytest.raises(ValidationError):
        GenerationRequest(id="j", dataset=name)
    with pytest.raises(ValidationError):
        DryRunRequest(dataset=name, prompts=[], grader={})
