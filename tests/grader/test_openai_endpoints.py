from __future__ import annotations

import asyncio

import pytest

from rft_grader import FixedAnswerJudge
from rft_grader.build import GraderConfigError
from rft_grader.openai_endpoints import run_endpoint, validate_endpoint
from rft_schemas import GraderRunRequest


def test_run_matches_openais_documented_example_shape() -> None:
    # The request of OpenAI's run-grader reference page, with an in-process judge.
    request = GraderRunRequest.model_validate({
        "grader": {"type": "score_model", "name": "Example score model grader",
                   "model": "gpt-5-mini", "sampling_params": {"temperature": 1, "top_p": 1,
                                                              "seed": 42},
                   "input": [{"role": "user", "content": [{"type": "input_text", "text":
                              "Score how close the reference answer is to the model answer "
                              "on a 0-1 scale. Return only the score.\n\nReference answer: "
                              "{{item.reference_answer}}\n\nModel answer: "
                              "{{sample.output_text}}"}]}]},
        "item": {"reference_answer": "fuzzy wuzzy was a bear"},
        "model_sample": "fuzzy wuzzy was a bear",
    })
    judge = FixedAnswerJudge(['{"result": 1.0}'])
    response = asyncio.run(run_endpoint(request, judge=judge))
    body = response.model_dump(mode="json")
    assert body["reward"] == 1.0
    assert body["metadata"]["name"] == "Example score model grader"
    assert body["metadata"]["type"] == "score_model"
    assert set(body["metadata"]["errors"]) == {
        "formula_parse_error", "sample_parse_error", "truncated_observation_error",
        "unresponsive_reward_error", "invalid_variable_error", "other_error",
        "python_grader_server_error", "python_grader_server_error_type",
        "python_grader_runtime_error", "python_grader_runtime_error_details",
        "model_grader_server_error", "model_grader_refusal_error", "model_grader_parse_error",
        "model_grader_server_error_details"}
    assert body["model_grader_token_usage_per_model"]["gpt-5-mini"]["total_tokens"] > 0
    assert "fuzzy wuzzy was a bear" in judge.calls[0][0]["content"]


def test_run_multi_reports_sub_rewards() -> None:
    check = {"type": "string_check", "name": "c", "input": "{{sample.output_text}}",
             "reference": "{{item.answer}}"}
    request = GraderRunRequest.model_validate({
        "grader": {"type": "multi", "name": "m", "calculate_output": "(exact + loose) / 2",
                   "graders": {"exact": {**check, "operation": "eq"},
                               "loose": {**check, "operation": "ilike"}}},
        "item": {"answer": "Paris"}, "model_sample": "paris"})
    response = asyncio.run(run_endpoint(request))
    assert response.reward == 0.5
    assert response.sub_rewards == {"exact": 0.0, "loose": 1.0}


def test_run_with_an_invalid_grader_raises_config_error_with_paths() -> None:
    request = GraderRunRequest.model_validate({
        "grader": {"type": "multi", "name": "m", "calculate_output": "nope",
                   "graders": {"a": {"type": "python", "name": "a",
                                     "source": "def grade(s, i):\n    return 1\n"}}},
        "model_sample": "x"})
    with pytest.raises(GraderConfigError) as caught:
        asyncio.run(run_endpoint(request))
    assert [i.path for i in caught.value.issues] == ["$.calculate_output"]


def test_validate_answers_the_grader_and_its_issues() -> None:
    grader = {"type": "string_check", "name": "s", "operation": "eq",
              "input": "{{sample.output_text}}", "reference": "{{item.gold}}"}
    assert validate_endpoint(grader, {"gold"}).issues == []
    response = validate_endpoint(grader, {"answer"})
    assert response.grader == grader
    assert [(i.code, i.path) for i in response.issues] == [("unknown_item_field", "$.reference")]
