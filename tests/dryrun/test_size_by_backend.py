"""The dry run's default size follows the model that answers: the seed's 200 prompts on a
served endpoint, a run that finishes in minutes on the local CPU model, and the screen says
which applied. A size that is set is kept on either backend."""

from __future__ import annotations

from rft_grader.dryrun.settings import DryRunSettings
from rft_runtime.llm import LLMSettings

ENDPOINT = LLMSettings(base_url="http://vllm:8000/v1")
LOCAL = LLMSettings(base_url=None)
LOCAL_SERVER_OF_RFT_UP = LLMSettings(base_url="http://127.0.0.1:8001/v1", backend="local")


def unset() -> DryRunSettings:
    return DryRunSettings(dryrun_prompts=None, dryrun_max_tokens=None, dryrun_concurrency=None)


def test_an_endpoint_gets_the_seeds_size() -> None:
    size = unset().size(ENDPOINT)
    assert (size.prompts, size.max_tokens, size.concurrency) == (200, 256, 32)
    assert not size.local and "endpoint" in size.describe()


def test_the_local_model_gets_a_run_that_fits_the_cpu_and_the_screen_says_why() -> None:
    for llm in (LOCAL, LOCAL_SERVER_OF_RFT_UP):
        size = unset().size(llm)
        assert (size.prompts, size.max_tokens, size.concurrency) == (8, 32, 8)
        assert size.local
        assert "sized for the local model on the CPU" in size.describe()
        assert "RFT_DRYRUN_PROMPTS" in size.describe()


def test_what_is_set_is_kept_and_not_called_a_default() -> None:
    settings = DryRunSettings(dryrun_prompts=50, dryrun_max_tokens=None,
                              dryrun_concurrency=None)
    size = settings.size(LOCAL)
    assert (size.prompts, size.max_tokens) == (50, 32)
    assert size.from_backend == ("max_tokens", "concurrency")
    assert "RFT_DRYRUN_PROMPTS" not in size.describe()  # N was chosen, not defaulted
    everything = DryRunSettings(dryrun_prompts=3, dryrun_max_tokens=7, dryrun_concurrency=2)
    assert everything.size(ENDPOINT).describe() == (
        "3 prompts, answers of up to 7 tokens, 2 at a time")


def test_a_sized_copy_names_every_size() -> None:
    sized = unset().sized(LOCAL)
    assert (sized.dryrun_prompts, sized.dryrun_max_tokens, sized.dryrun_concurrency) == (8, 32, 8)
