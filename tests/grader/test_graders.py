"""Each grader type on hand-checked cases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rft_grader import FixedAnswerJudge, JudgeReply, Sample, build_grader
from rft_grader.build import GraderConfigError
from rft_grader.settings import GraderSettings
from rft_schemas import FunctionCall, ToolCall

ITEM = {"answer": "Paris", "nested": {"city": {"name": "Paris"}}, "list": ["a", "b"]}


def grade(config: dict[str, Any], sample: Sample, item: dict[str, Any] = ITEM, **kw: Any):
    grader = build_grader(config, **kw)
    try:
        return asyncio.run(grader(sample, item))
    finally:
        grader.close()


def check(op: str, input: str = "{{sample.output_text}}", reference: str = "{{item.answer}}"):
    return {"type": "string_check", "name": "s", "operation": op, "input": input,
            "reference": reference}


@pytest.mark.parametrize(("op", "output", "reward"), [
    ("eq", "Paris", 1.0), ("eq", "paris", 0.0), ("eq", "Paris ", 0.0),
    ("ne", "Paris", 0.0), ("ne", "Lyon", 1.0),
    ("like", "It is Paris.", 1.0), ("like", "it is paris.", 0.0),
    ("ilike", "IT IS PARIS.", 1.0), ("ilike", "Lyon", 0.0),
])
def test_string_check_operations(op: str, output: str, reward: float) -> None:
    assert grade(check(op), Sample(output)).reward == reward


def test_string_check_reads_nested_item_fields_and_list_indexes() -> None:
    assert grade(check("eq", reference="{{ item.nested.city.name }}"), Sample("Paris")).reward == 1
    assert grade(check("eq", reference="{{item.list[1]}}"), Sample("b")).reward == 1


def test_string_check_on_output_json_field() -> None:
    config = check("eq", input="{{sample.output_json.city}}")
    assert grade(config, Sample('{"city": "Paris"}')).reward == 1.0


def test_output_json_of_text_that_is_not_json_is_a_sample_parse_error() -> None:
    result = grade(check("eq", input="{{sample.output_json.city}}"), Sample("Paris"))
    assert result.reward == 0.0 and result.errors.sample_parse_error


def test_missing_item_field_is_an_invalid_variable_error() -> None:
    result = grade(check("eq", reference="{{item.nope}}"), Sample(""))
    assert result.reward == 0.0 and result.errors.invalid_variable_error
    assert "{{item.nope}}" in result.error_details[0]


def test_output_tools_render_as_openai_tool_calls() -> None:
    call = ToolCall(id="c1", function=FunctionCall(name="land_drone", arguments="{}"))
    config = check("eq", input="{{sample.output_tools[0].function.name}}",
                   reference="land_drone")
    assert grade(config, Sample(output_tools=[call])).reward == 1.0
    whole = check("like", input="{{sample.output_tools}}", reference='"name": "land_drone"')
    assert grade(whole, Sample(output_tools=[call])).reward == 1.0


def test_invalid_utf8_bytes_and_megabyte_outputs_score_without_crashing() -> None:
    assert grade(check("like", reference="Paris"), Sample.from_output(b"\xff\xfeParis")).reward == 1
    assert grade(check("ilike"), Sample("x" * 2_000_000 + "paris")).reward == 1.0


def similarity(metric: str) -> dict[str, Any]:
    return {"type": "text_similarity", "name": "t", "evaluation_metric": metric,
            "input": "{{sample.output_text}}", "reference": "{{item.reference}}"}


REF = {"reference": "the cat sat on the mat"}


@pytest.mark.parametrize("metric", ["fuzzy_match", "bleu", "gleu", "rouge_1", "rouge_2",
                                    "rouge_3", "rouge_4", "rouge_5", "rouge_l"])
def test_text_similarity_identical_is_one_and_unrelated_scores_low(metric: str) -> None:
    same = grade(similarity(metric), Sample("the cat sat on the mat"), REF)
    other = grade(similarity(metric), Sample("quantum flux capacitor"), REF)
    assert same.reward == pytest.approx(1.0)
    assert other.reward < 0.35
    assert not same.errors.any()


def test_text_similarity_hand_checked_values() -> None:
    # rouge-1 F: 3 of 6 reference unigrams in a 3-word answer: P=1, R=0.5, F=2/3.
    assert grade(similarity("rouge_1"), Sample("the cat sat"), REF).reward == pytest.approx(2 / 3)
    # rapidfuzz ratio of "kitten"/"sitting": 1 - 5/13 (indel distance 5 over 13 chars).
    fuzzy = grade({**similarity("fuzzy_match"), "reference": "sitting"}, Sample("kitten"), {})
    assert fuzzy.reward == pytest.approx(1 - 5 / 13)
    # rouge-l: LCS "the cat the mat" (4) of 6 reference and 5 answer tokens.
    rouge_l = grade(similarity("rouge_l"), Sample("the cat on the mat"), REF)
    assert rouge_l.reward == pytest.approx(2 * (4 / 5) * (5 / 6) / (4 / 5 + 5 / 6), rel=0.2)


def test_meteor_without_wordnet_data_is_a_clear_grader_error(tmp_path) -> None:
    settings = GraderSettings(grader_wordnet_dir=tmp_path)  # an empty dir: no WordNet there
    result = grade(similarity("meteor"), Sample("the cat sat on the mat"), REF, settings=settings)
    assert result.reward == 0.0 and result.errors.other_error
    assert "meteor needs the WordNet corpus" in result.error_details[0]


class LetterCountEmbedder:
    """A real (if tiny) embedder: letter-frequency vectors."""

    def encode(self, texts: list[str]) -> list[list[float]]:
        return [[float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


def test_cosine_goes_through_the_embedder() -> None:
    embedder = LetterCountEmbedder()
    assert grade(similarity("cosine"), Sample("mat the on sat cat the"), REF,
                 embedder=embedder).reward == pytest.approx(1.0)
    assert grade(similarity("cosine"), Sample("zzz"), REF, embedder=embedder).reward == 0.0


def test_cosine_without_any_embedder_is_a_clear_grader_error(monkeypatch) -> None:
    import rft_grader.embedding

    monkeypatch.setattr(rft_grader.embedding, "configured_embedder", lambda settings: None)
    result = grade(similarity("cosine"), Sample("the cat sat on the mat"), REF)
    assert result.reward == 0.0 and result.errors.other_error
    assert "RFT_GRADER_EMBEDDER_URL" in result.error_details[0]


def score_model(**extra: Any) -> dict[str, Any]:
    return {"type": "score_model", "name": "judge", "model": "m", "range": [0, 1],
            "input": [{"role": "user", "content": [{"type": "input_text",
                       "text": "Ref {{item.answer}} vs {{sample.output_text}}"}]}], **extra}


def test_score_model_returns_the_judges_structured_score_and_renders_templates() -> None:
    judge = FixedAnswerJudge(['{"result": 0.75}'])
    result = grade(score_model(), Sample("Lyon"), judge=judge)
    assert result.reward == 0.75 and not result.errors.any()
    assert judge.calls[0][0]["content"] == "Ref Paris vs Lyon"
    assert result.token_usage is not None and result.token_usage.completion_tokens > 0


def test_score_model_accepts_a_fenced_json_answer() -> None:
    judge = FixedAnswerJudge(['```json\n{"result": 1}\n```'])
    assert grade(score_model(), Sample("x"), judge=judge).reward == 1.0


@pytest.mark.parametrize("answer", ["0.9", "The answer deserves 1.", '{"result": "high"}',
                                    '{"result": 7}', '[0.5]', '{"result": true}'])
def test_score_model_answer_that_is_not_a_structured_score_scores_zero_and_counts(answer) -> None:
    judge = FixedAnswerJudge([answer])
    result = grade(score_model(), Sample("x"), judge=judge)
    assert result.reward == 0.0 and result.errors.model_grader_parse_error
    assert len(judge.calls) == 3  # retried up to the configured attempts


def test_judge_garbage_then_a_valid_answer_is_retried_to_success() -> None:
    judge = FixedAnswerJudge(["garbage", '{"result": 0.5}'])
    assert grade(score_model(), Sample("x"), judge=judge).reward == 0.5


def test_judge_that_is_down_is_a_server_error_after_retries() -> None:
    judge = FixedAnswerJudge([ConnectionError("connection refused")])
    result = grade(score_model(), Sample("x"), judge=judge)
    assert result.errors.model_grader_server_error and result.reward == 0.0
    assert "connection refused" in result.errors.model_grader_server_error_details


def test_slow_judge_times_out_and_is_counted() -> None:
    judge = FixedAnswerJudge(['{"result": 1}'], delay_s=1.0)
    settings = GraderSettings(grader_judge_timeout_s=0.05, grader_judge_attempts=2)
    result = grade(score_model(), Sample("x"), judge=judge, settings=settings)
    assert result.errors.model_grader_server_error and len(judge.calls) == 2


def test_judge_refusal_is_a_refusal_error() -> None:
    judge = FixedAnswerJudge([JudgeReply(text="", refusal="I cannot grade this")])
    assert grade(score_model(), Sample("x"), judge=judge).errors.model_grader_refusal_error


def label_model() -> dict[str, Any]:
    return {"type": "label_model", "name": "l", "model": "m", "labels": ["good", "bad", "meh"],
            "passing_labels": ["good"],
            "input": [{"role": "user", "content": "Label: {{sample.output_text}}"}]}


@pytest.mark.parametrize(("answer", "reward", "parse_error"), [
    ('{"result": "good"}', 1.0, False), ('{"result": "meh"}', 0.0, False),
    ('{"label": "good"}', 1.0, False), ('{"result": "excellent"}', 0.0, True),
    ("good", 0.0, True),
])
def test_label_model_passes_only_passing_labels(answer: str, reward: float,
                                                parse_error: bool) -> None:
    result = grade(label_model(), Sample("x"), judge=FixedAnswerJudge([answer]))
    assert result.reward == reward
    assert result.errors.model_grader_parse_error is parse_error


def test_judge_grader_without_a_judge_is_refused_at_build() -> None:
    with pytest.raises(ValueError, match="needs a judge client"):
        build_grader(label_model())


def test_python_grader_scores_through_the_sandbox() -> None:
    config = {"type": "python", "name": "p",
              "source": "def grade(sample, item):\n"
                        "    return 1.0 if item['answer'] in sample['output_text'] else 0.0\n"}
    assert grade(config, Sample("It is Paris")).reward == 1.0


def test_python_grader_runtime_error_is_flagged_with_details() -> None:
    config = {"type": "python", "name": "p", "source": "def grade(s, i):\n    return i['x']\n"}
    result = grade(config, Sample("x"))
    assert result.errors.python_grader_runtime_error
    assert "KeyError" in result.errors.python_grader_runtime_error_details


def test_multi_combines_sub_rewards_with_its_formula() -> None:
    config = {"type": "multi", "name": "m", "calculate_output": "0.5 * exact + 0.5 * fuzzy",
              "graders": {"exact": check("eq"), "fuzzy": check("ilike")}}
    result = grade(config, Sample("paris"))
    assert result.sub_rewards == {"exact": 0.0, "fuzzy": 1.0}
    assert result.reward == 0.5


def test_multi_formula_without_a_result_is_flagged_not_raised() -> None:
    config = {"type": "multi", "name": "m", "calculate_output": "1 / exact",
              "graders": {"exact": check("eq")}}
    result = grade(config, Sample("Lyon"))
    assert result.errors.other_error and "division by zero" in result.error_details[0]


def test_multi_sub_grader_error_propagates_its_flag() -> None:
    config = {"type": "multi", "name": "m", "calculate_output": "a + b",
              "graders": {"a": check("eq"), "b": check("eq", reference="{{item.missing}}")}}
    result = grade(config, Sample("Paris"))
    assert result.errors.invalid_variable_error and result.reward == 0.0
    assert result.sub_rewards["a"] == 1.0


def test_invalid_config_is_refused_at_build_with_paths() -> None:
    with pytest.raises(GraderConfigError) as caught:
        build_grader({"type": "multi", "name": "m", "calculate_output": "a + c",
                      "graders": {"a": check("eq")}})
    assert caught.value.issues[0].path == "$.calculate_output"


@pytest.mark.parametrize("metric", ["fuzzy_match", "bleu", "gleu", "rouge_l"])
def test_megabyte_answer_against_a_megabyte_reference_scores_quickly(metric: str) -> None:
    import time

    words = " ".join(f"w{i % 997}" for i in range(200_000))
    started = time.monotonic()
    result = grade(similarity(metric), Sample(words), {"reference": words})
    assert result.reward == pytest.approx(1.0)
    assert time.monotonic() - started < 10


def test_grade_many_keeps_order_and_overlaps_slow_judges() -> None:
    import time

    from rft_grader import grade_many

    judge = FixedAnswerJudge(lambda messages: f'{{"result": {messages[0]["content"][-1]}}}',
                             delay_s=0.2)
    grader = build_grader({**score_model(), "input": [{"role": "user",
                                                        "content": "{{sample.output_text}}"}]},
                          judge=judge)
    pairs = [(Sample(str(i % 2)), {}) for i in range(10)]
    started = time.monotonic()
    results = asyncio.run(grade_many(grader, pairs, concurrency=10))
    assert [r.reward for r in results] == [float(i % 2) for i in range(10)]
    assert time.monotonic() - started < 1.5  # ten 0.2 s judge calls, overlapped
