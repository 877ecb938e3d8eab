"""Topic names from the real local model through the runtime client, and answers cut short."""

from __future__ import annotations

import re

from rft_categorizer.labeling import label_messages, label_topic, parse_label
from rft_categorizer.llm_labeler import LLMTopicLabeler, close_json_object
from rft_runtime.llm import LLMClient, LocalLLMServer


def test_an_answer_cut_at_the_token_limit_keeps_its_name() -> None:
    cut = '{"name": "drone_lights", "description": "Requests to turn the drone li'
    label = parse_label(close_json_object(cut, cut=True))
    assert label is not None and label.name == "drone_lights"
    assert label.description == "Requests to turn the drone"


def test_the_brace_taken_by_the_stop_sequence_is_given_back() -> None:
    answer = '{"name": "camera_modes", "description": "Switching camera modes."'
    assert parse_label(close_json_object(answer, cut=False)) is not None
    assert close_json_object("no json here", cut=False) == "no json here"


async def test_the_local_model_answers_a_label_request_and_a_valid_name_comes_out(
    local_llm: LocalLLMServer,
) -> None:
    """SmolLM2-135M answers in prose as often as in JSON: the name comes from the model when
    its answer holds one, else from the keywords; either way it is a valid topic name."""
    examples = ["Can you turn on the lights for the drone",
                "Can you make the lights flash on and off",
                "I'd like the LED display to flash in red, can you set that up?"]
    async with LLMClient(base_url=local_llm.base_url) as client:
        labeler = LLMTopicLabeler(client)
        answer = await labeler.complete(label_messages(["lights", "flash", "led"], examples))
        label = await label_topic(["lights", "flash", "led"], examples, labeler, timeout_s=120)
    assert answer.strip()
    assert label.from_llm == (parse_label(close_json_object(answer, cut=False)) is not None)
    assert re.fullmatch(r"[a-z0-9][a-z0-9_]*", label.name)
