"""Step J's statistics: paired intervals per prompt, corrected per topic, and the deploy gate."""

from __future__ import annotations

import pytest

from rft_trainer_gateway.comparison import SampleOutcome, compare, paired_bootstrap


def outcomes(rewards: dict[str, tuple[str, list[float]]]) -> list[SampleOutcome]:
    return [SampleOutcome(prompt_id=pid, topic=topic, sample_index=i, output=f"{pid}-{i}",
                          reward=r, completion_tokens=10 + i, tool_calls=int(r > 0.5))
            for pid, (topic, values) in rewards.items() for i, r in enumerate(values)]


def comparison(before: dict[str, tuple[str, list[float]]],
               after: dict[str, tuple[str, list[float]]]):  # type: ignore[no-untyped-def]
    return compare(job_id="j", base_model="base", tuned_model="tuned", grader_name="g",
                   before=outcomes(before), after=outcomes(after),
                   prompts={p: f"question {p}" for p in before}, samples_per_prompt=2, seed=0)


def test_a_prompt_is_one_paired_observation_the_mean_of_its_k_samples():
    result = comparison({"a": ("t", [0.0, 1.0]), "b": ("t", [0.0, 0.0])},
                        {"a": ("t", [1.0, 1.0]), "b": ("t", [0.5, 0.5])})
    assert result.prompts == 2
    assert result.before.mean == pytest.approx(0.25)
    assert result.after.mean == pytest.approx(0.75)
    assert result.change == pytest.approx(0.5)


def test_a_clear_gain_everywhere_opens_the_gate():
    before = {f"p{i}": (f"t{i % 2}", [0.1, 0.2]) for i in range(30)}
    after = {f"p{i}": (f"t{i % 2}", [0.7, 0.8]) for i in range(30)}
    result = comparison(before, after)
    assert result.interval.low > 0
    assert result.regressions == []
    assert result.deployable
    assert "no topic regressed" in result.gate_reasons[0]


def test_a_topic_wholly_worse_is_a_regression_and_closes_the_gate():
    before = {f"p{i}": ("up" if i < 20 else "down", [0.5, 0.5]) for i in range(40)}
    after = {f"p{i}": ("up", [0.9, 1.0]) if i < 20 else ("down", [0.1, 0.0]) for i in range(40)}
    result = comparison(before, after)
    assert result.regressions == ["down"]
    assert result.by_topic["down"].interval.high < 0
    assert not result.by_topic["up"].regression
    assert not result.deployable
    assert any("down regressed" in reason for reason in result.gate_reasons)


def test_no_change_keeps_the_gate_closed():
    same = {f"p{i}": ("t", [0.3, 0.6]) for i in range(10)}
    result = comparison(same, same)
    assert result.change == 0
    assert not result.deployable
    assert "does not lie above zero" in result.gate_reasons[0]


def test_topic_intervals_are_wider_than_the_uncorrected_level():
    """Bonferroni: with m topics each interval is at 1 - 0.05/m, so wider than at 0.95."""
    changes = [0.1, -0.2, 0.3, 0.0, 0.25, -0.1, 0.15, 0.05, 0.2, -0.05]
    plain = paired_bootstrap(changes, 0.95, seed=1)
    corrected = paired_bootstrap(changes, 1 - 0.05 / 10, seed=1)
    assert corrected.low < plain.low and corrected.high > plain.high
    result = comparison({f"p{i}": (f"t{i}", [0.5]) for i in range(10)},
                        {f"p{i}": (f"t{i}", [0.5]) for i in range(10)})
    assert "Bonferroni over 10 topics" in result.correction


def test_largest_gains_and_worst_losses_show_both_outputs_and_scores():
    before = {"win": ("t", [0.0, 0.0]), "loss": ("t", [1.0, 1.0]), "flat": ("t", [0.5, 0.5])}
    after = {"win": ("t", [1.0, 1.0]), "loss": ("t", [0.0, 0.0]), "flat": ("t", [0.5, 0.5])}
    result = comparison(before, after)
    assert [g.prompt_id for g in result.gains] == ["win"]
    assert [loss.prompt_id for loss in result.losses] == ["loss"]
    gain = result.gains[0]
    assert (gain.before_reward, gain.after_reward, gain.prompt) == (0.0, 1.0, "question win")
    assert gain.after_output.startswith("win-")


def test_behaviour_shift_reports_tool_call_rate_and_length():
    result = comparison({"a": ("t", [0.0, 0.0])}, {"a": ("t", [1.0, 1.0])})
    assert result.tool_call_rate is not None
    assert (result.tool_call_rate.before, result.tool_call_rate.after) == (0.0, 1.0)
    assert result.completion_tokens is not None
