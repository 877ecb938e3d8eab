"""Shared inputs of the trainer gateway's tests: small train/valid rows and a grader they fit;
the journey's tests take the real drone prompts of tests/split."""

from __future__ import annotations

from typing import Any

import pytest

from rft_schemas import TrainingHyperparameters, TrainingJob
from tests.split.conftest import categorized, structure_policy

__all__ = ["categorized", "structure_policy"]

EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.reference}}", "operation": "eq"}


def rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"What is {i} + {i}? Answer with a number."}],
             "reference": str(2 * i), "topic": "arithmetic"}
            for i in range(offset, offset + n)]


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset": "sums", "train": {"rows": rows(4)}, "valid": {"rows": rows(2, offset=10)},
        "grader": EXACT,
        "hyperparameters": {"max_steps": 3, "prompts_per_step": 2, "samples_per_prompt": 2,
                            "max_completion_tokens": 8, "eval_prompts": 2},
    }
    body.update(overrides)
    return body


def job(job_id: str = "ftjob-test", max_steps: int = 3) -> TrainingJob:
    return TrainingJob(id=job_id, dataset="sums", base_model="base",
                       hyperparameters=TrainingHyperparameters(max_steps=max_steps))


@pytest.fixture
def sums_rows() -> list[dict[str, Any]]:
    return rows(4)
