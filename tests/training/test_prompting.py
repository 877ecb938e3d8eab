"""A row's own tools reach the base model's prompt, and its answer is graded as the dry run
grades it: GRPOTrainer renders only trainer-wide tools, so the platform renders them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rft_grader.dryrun.prompts import load_prompts
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.presets import build_preset, grader_config_json
from rft_trainer_gateway.prompting import answer_text, render_prompt, sample_of
from rft_trainer_gateway.reward import GraderReward

DATA = Path(__file__).parent / "data" / "drone_slice.jsonl"


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from rft_trainer_gateway.preparation import resolve_base_model

    return AutoTokenizer.from_pretrained(resolve_base_model(None))


@pytest.fixture(scope="module")
def rows():  # type: ignore[no-untyped-def]
    prompts, bad = load_prompts(DATA)
    assert not bad
    return prompts


def test_each_rows_own_tools_are_rendered_into_its_prompt(tokenizer, rows):
    first, other = rows[0], next(r for r in rows if {t.function.name for t in r.tools or []}
                                 != {t.function.name for t in rows[0].tools or []})
    for row in (first, other):
        text = render_prompt(tokenizer, row)
        for tool in row.tools or []:
            assert f'"name": "{tool.function.name}"' in text
        assert "<tool_call>" in text  # the answer format the server and the grader expect
        assert text.rstrip().endswith("assistant")  # the assistant turn is open
    offered_to_other = {t.function.name for t in other.tools or []}
    missing = {t.function.name for t in first.tools or []} - offered_to_other
    assert missing and all(f'"name": "{n}"' not in render_prompt(tokenizer, other)
                           for n in missing)


def test_tool_choice_required_opens_the_answer_as_a_call_and_scores_the_whole_answer(
        tokenizer, rows):
    row = rows[0]
    opened = render_prompt(tokenizer, row, "required")
    assert opened.startswith(render_prompt(tokenizer, row)) and opened.endswith('{"name": "')
    name = row.item["reference_tool_calls"][0]["function"]["name"]
    completion = f'{name}", "arguments": {{}}}}\n</tool_call>'
    assert answer_text(completion, row, "required").startswith("<tool_call>")
    assert sample_of(completion, row, "required").output_tools[0].function.name == name
    assert sample_of(completion, row).output_tools == []  # unopened, the same text is prose


def test_a_tool_call_answer_scores_and_a_prose_answer_does_not(rows):
    row = rows[0]
    call = row.item["reference_tool_calls"][0]["function"]
    body = f"{{\"name\": \"{call['name']}\", \"arguments\": {call['arguments']}}}"
    right = f"<tool_call>\n{body}\n</tool_call>"
    assert sample_of(right, row).output_tools[0].function.name == call["name"]
    graders = GraderCache()
    try:
        import json

        grader = graders.get(json.loads(grader_config_json(build_preset("tool_usage"))))
        reward = GraderReward(grader, rows)
        logged: dict[str, float] = {}
        scores = reward([None, None], [right, "The drone will fly."], row=[0, 0],
                        log_metric=logged.__setitem__)
    finally:
        graders.close()
    assert scores[0] > 0.5 > scores[1]
    assert set(logged) == {"graders/tool_selection", "graders/tool_input",
                           "graders/result_usage", "grader_error_share"}
    assert logged["grader_error_share"] == 0.0


def test_a_grader_that_raises_is_reported_as_errors_not_only_as_zero_reward(rows):
    graders = GraderCache()
    try:
        grader = graders.get({"type": "python", "name": "broken",
                              "source": "def grade(sample, item):\n    raise ValueError('x')\n"})
        logged: dict[str, float] = {}
        scores = GraderReward(grader, rows)([None], ["anything"], row=[0],
                                            log_metric=logged.__setitem__)
    finally:
        graders.close()
    assert scores == [0.0] and logged["grader_error_share"] == 1.0
