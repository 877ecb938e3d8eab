from __future__ import annotations

from rft_grader import build_grader
from rft_grader.presets import tool_usage
from rft_grader.reward import reward_function


def test_reward_function_scores_text_completions_with_dataset_columns() -> None:
    grader = build_grader({"type": "string_check", "name": "exact", "operation": "eq",
                           "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
    reward = reward_function(grader)
    assert reward.__name__ == "exact"
    scores = reward(prompts=["q1", "q2"], completions=["Paris", "Lyon"],
                    answer=["Paris", "Paris"], trainer_state=object())
    assert scores == [1.0, 0.0]


def test_reward_function_reads_tool_calls_of_conversational_completions(drone_items) -> None:
    grader = build_grader(tool_usage())
    try:
        item = drone_items[0]
        columns = {key: [value, value] for key, value in item.items()}
        good = [{"role": "assistant", "content": None,
                 "tool_calls": item["reference_tool_calls"]}]
        bad = [{"role": "assistant", "content": "I cannot fly."}]
        scores = reward_function(grader)(prompts=[None, None], completions=[good, bad], **columns)
    finally:
        grader.close()
    assert scores == [1.0, 0.0]
