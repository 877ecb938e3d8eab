"""The LLM judge over the real local model (SmolLM2-135M) and over an endpoint that is down."""

from __future__ import annotations

from rft_grader import Sample, build_grader
from rft_grader.llm_judge import LLMJudge
from rft_grader.presets import correctness
from rft_grader.settings import GraderSettings
from rft_runtime.kafka.broker import free_port
from rft_runtime.llm import LLMClient, LLMSettings
from rft_schemas.grader import SamplingParams

ITEM = {"messages": [{"role": "user", "content": "What is the capital of France?"}],
        "reference": "Paris", "reference_tool_calls": []}


async def test_real_local_judge_scores_or_counts_a_parse_error(local_llm):
    settings = LLMSettings(base_url=local_llm.base_url, max_retries=0)
    async with LLMClient(settings) as client:
        config = correctness().grader
        # Short answers and one attempt: the behaviour is the same, the CPU time is not.
        config.sampling_params = SamplingParams(max_completions_tokens=24, seed=1)
        grader = build_grader(config, judge=LLMJudge(client),
                              settings=GraderSettings(grader_judge_attempts=1))
        results = [await grader(Sample(answer), ITEM)
                   for answer in ("Paris is the capital of France.", "Berlin.")]
    for result in results:
        # A 135M model often answers something that is not {"result": <number>}: then the
        # sample is a judge error with reward 0, never a guessed score.
        if result.errors.any():
            assert result.errors.model_grader_parse_error
            assert result.reward == 0.0
            assert "judge" in " ".join(result.error_details)
        else:
            assert 0.0 <= result.reward <= 1.0
        assert result.token_usage is not None and result.token_usage.prompt_tokens > 0
    assert client.usage.requests >= 2, "the judge really called the model"


async def test_judge_endpoint_that_is_down_is_a_server_error_after_retries():
    settings = LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0,
                           timeout_s=2)
    async with LLMClient(settings) as client:
        grader = build_grader(correctness(), judge=LLMJudge(client))
        result = await grader(Sample("Paris"), ITEM)
    assert result.reward == 0.0
    assert result.errors.model_grader_server_error
    assert "failed" in (result.errors.model_grader_server_error_details or "")


def test_placeholder_judge_model_means_the_served_model():
    client = LLMClient(LLMSettings(base_url="http://127.0.0.1:9/v1", model="served"))
    assert LLMJudge(client).served_model("judge") == "served"
    assert LLMJudge(client).served_model("gpt-4o") == "gpt-4o"
    assert LLMJudge(client, model="forced").served_model("gpt-4o") == "forced"
