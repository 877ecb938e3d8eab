"""Presets on real items (drone_training.jsonl: the reference is the agent's tool call)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rft_grader import FixedAnswerJudge, Sample, build_grader, validate_grader
from rft_grader.presets import (
    PRESETS,
    build_preset,
    choose_preset,
    correctness,
    format_compliance,
    grader_config_json,
    tool_usage,
)
from rft_grader.sample import item_field_names
from rft_schemas import FunctionCall, ToolCall


def call(name: str, arguments: Any) -> ToolCall:
    return ToolCall(id="c", function=FunctionCall(name=name, arguments=json.dumps(arguments)))


@pytest.fixture(scope="module")
def tool_grader():
    grader = build_grader(tool_usage())
    yield grader
    grader.close()


def test_every_preset_is_valid_against_the_real_dataset_fields(drone_prompts) -> None:
    fields = item_field_names(drone_prompts[0])
    for name in PRESETS:
        assert validate_grader(build_preset(name), fields) == [], name


def test_tool_usage_weights_are_the_seeds() -> None:
    grader = tool_usage().grader
    assert grader.calculate_output == "0.4 * tool_selection + 0.3 * tool_input + 0.3 * result_usage"


def test_tool_usage_pays_the_reference_call_in_full_on_every_drone_item(tool_grader,
                                                                       drone_items) -> None:
    async def run():
        rewards = []
        for item in drone_items:
            calls = [ToolCall.model_validate(c) for c in item["reference_tool_calls"]]
            rewards.append((await tool_grader(Sample(output_tools=calls), item)).reward)
        return rewards

    rewards = asyncio.run(run())
    assert len(rewards) == 103
    # Every reference call is valid against its own tool's schema but a few real records
    # call with arguments their schema refuses; those lose the tool_input share only.
    assert all(r in (1.0, pytest.approx(0.7)) for r in rewards)
    assert sum(r == 1.0 for r in rewards) >= 90


def test_tool_usage_dimensions_on_the_takeoff_item(tool_grader, drone_items) -> None:
    item = drone_items[0]
    assert item["reference_tool_calls"][0]["function"]["name"] == "takeoff_drone"

    def score(sample: Sample):
        return asyncio.run(tool_grader(sample, item))

    bad_args = score(Sample(output_tools=[call("takeoff_drone", {"altitude": "high"})]))
    assert bad_args.sub_rewards == {"tool_selection": 1.0, "tool_input": 0.0,
                                    "result_usage": 1.0}
    assert bad_args.reward == pytest.approx(0.7)
    wrong = score(Sample(output_tools=[call("land_drone", {"location": "home_base"})]))
    assert wrong.reward == 0.0
    as_text = score(Sample('<tool_call>{"name": "takeoff_drone", "arguments": '
                           '{"altitude": 50}}</tool_call>'))
    assert as_text.reward == 1.0
    assert score(Sample("I will take off now.")).reward == 0.0


def test_format_compliance_with_a_schema() -> None:
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    grader = build_grader(format_compliance(schema))
    try:
        def score(text: str) -> float:
            return asyncio.run(grader(Sample(text), {})).reward

        assert score('{"city": "Paris"}') == 1.0
        assert score('{"town": "Paris"}') == 0.5
        assert score("Paris") == 0.0
    finally:
        grader.close()


def test_conciseness_prefers_a_complete_short_answer_over_padding() -> None:
    grader = build_grader(build_preset("conciseness"))
    item = {"reference": "The flight departs at 9:40 from gate B12."}
    try:
        def score(text: str) -> float:
            return asyncio.run(grader(Sample(text), item)).reward

        short = score("The flight departs at 9:40 from gate B12.")
        padded = score("The flight departs at 9:40 from gate B12. " + "Let me elaborate. " * 80)
        # 4 of the 6 content words (the, flight, departs, from, gate, b12): 2/3.
        partial = score("It departs at 9:40 from gate B12.")
        incomplete = score("It departs soon.")
        assert short == 1.0
        assert partial == pytest.approx(2 / 3)
        assert padded < 0.3
        assert incomplete < short
        assert score("") == 0.0
    finally:
        grader.close()


def test_correctness_judges_against_the_items_reference(drone_items) -> None:
    judge = FixedAnswerJudge(['{"result": 1}'])
    grader = build_grader(correctness(model="local"), judge=judge)
    item = drone_items[0]
    result = asyncio.run(grader(Sample(output_tools=[call("takeoff_drone", {"altitude": 100})]),
                                item))
    assert result.reward == 1.0
    prompt = judge.calls[0][1]["content"]
    assert "takeoff_drone" in prompt and "Let's get the drone in the air" in prompt


def test_choose_preset_from_the_data(drone_prompts) -> None:
    assert choose_preset(drone_prompts) == "tool_usage"
    no_tools = [p.model_copy(update={"tools": None}) for p in drone_prompts[:3]]
    assert choose_preset(no_tools) == "correctness"


def test_grader_config_json_is_openai_json_without_nulls() -> None:
    text = grader_config_json(tool_usage())
    data = json.loads(text)
    assert data["grader"]["type"] == "multi"
    assert set(data["grader"]["graders"]) == {"tool_selection", "tool_input", "result_usage"}
    assert "null" not in text


def test_format_compliance_schema_with_backslashes_survives_into_the_source() -> None:
    schema = {"type": "object", "required": ["code"],
              "properties": {"code": {"type": "string", "pattern": r"^\d{3}$"}}}
    grader = build_grader(format_compliance(schema))
    try:
        assert asyncio.run(grader(Sample('{"code": "123"}'), {})).reward == 1.0
        assert asyncio.run(grader(Sample('{"code": "12a"}'), {})).reward == 0.5
    finally:
        grader.close()
