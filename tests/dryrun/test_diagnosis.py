"""The seed's interpretation table on synthetic score distributions, one test per row, and
the GO/NO-GO screens rendered from the resulting reports."""

from __future__ import annotations

import random

import pytest

from rft_grader.dryrun.diagnosis import build_report, histogram, is_bimodal
from rft_grader.dryrun.screen import render_dry_run_screen
from rft_schemas.rollouts import Score, Verdict
from tests.dryrun.verdict_rules import assert_verdict_follows_the_table


def scores_of(rewards: list[float], k: int = 2, topics: tuple[str, ...] = ("calc",),
              errors: int = 0) -> list[Score]:
    out = []
    for i, reward in enumerate(rewards):
        prompt = i // k
        out.append(Score(
            rollout_id=f"job:p{prompt}:{i % k}", job_id="job", prompt_id=f"p{prompt}",
            topic_path=[topics[prompt % len(topics)]], sample_index=i % k, reward=reward,
            errors={"model_grader_parse_error": True} if i < errors else {},
            output_text=f"answer {i}"))
    return out


def clipped_gauss(mean: float, std: float, count: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [min(1.0, max(0.0, rng.gauss(mean, std))) for _ in range(count)]


def report_for(rewards: list[float], **kw: object):
    return build_report(job_id="job", dataset="d", model="m", grader_name="g",
                        samples_per_prompt=2, scores=scores_of(rewards, **kw))  # type: ignore[arg-type]


def signals(report) -> list[str]:
    return [f.signal for f in report.findings]


def test_spread_scores_around_the_middle_are_go_with_no_finding():
    report = report_for(clipped_gauss(0.45, 0.22, 300), topics=("data", "calc", "content"))
    assert report.verdict is Verdict.GO
    assert report.findings == []
    assert 0.40 < report.stats.mean < 0.50 and report.stats.std > 0.15
    assert set(report.by_topic) == {"data", "calc", "content"}
    assert sum(report.histogram) == 300 == report.stats.count


def test_mean_below_a_tenth_is_too_hard_or_too_strict_and_recommends_sft():
    report = report_for(clipped_gauss(0.05, 0.12, 300))
    assert report.verdict is Verdict.NO_GO
    [low] = [f for f in report.findings if f.signal.startswith("Mean") and "<" in f.signal]
    assert "too difficult" in (low.dataset_issue or "")
    assert "too strict" in (low.grader_issue or "")
    assert "Run SFT first" in (low.recommendation or "")


def test_mean_above_nine_tenths_is_too_easy_or_too_lenient():
    report = report_for(clipped_gauss(0.95, 0.12, 300))
    assert report.verdict is Verdict.NO_GO
    [high] = [f for f in report.findings if ">" in f.signal and f.signal.startswith("Mean")]
    assert "too easy" in (high.dataset_issue or "")
    assert "too lenient" in (high.grader_issue or "")
    assert not any("<" in s for s in signals(report) if s.startswith("Mean"))


def test_std_below_a_tenth_means_the_grader_cannot_differentiate():
    report = report_for(clipped_gauss(0.5, 0.03, 300))
    assert report.verdict is Verdict.NO_GO
    assert [s for s in signals(report) if s.startswith("Std")]
    [finding] = report.findings
    assert finding.dataset_issue is None
    assert "can't differentiate" in (finding.grader_issue or "")


def test_scores_only_at_zero_and_one_need_calibration():
    rng = random.Random(3)
    rewards = [float(rng.random() < 0.5) for _ in range(300)]
    report = report_for(rewards)
    assert is_bimodal(rewards)
    assert report.verdict is Verdict.NO_GO
    [finding] = [f for f in report.findings if f.signal.startswith("Bimodal")]
    assert "calibration" in (finding.grader_issue or "")
    assert not any(s.startswith(("Mean", "Std")) for s in signals(report))


def test_prompts_whose_samples_all_tie_are_counted_and_listed_for_pruning():
    # p0, p1 all pass; p2, p3 all fail; p4.. spread: 4 of 10 prompts are flat.
    rewards = [1.0, 1, 1, 1, 0, 0, 0, 0, *clipped_gauss(0.5, 0.2, 12)]
    report = report_for(rewards)
    assert report.flat_prompt_share == 0.4
    assert report.all_pass_prompt_ids == ["p0", "p1"]
    assert report.all_fail_prompt_ids == ["p2", "p3"]
    assert any("Prune" in r for r in report.recommendations)


def test_most_prompts_flat_is_no_go_even_with_a_good_mean():
    rewards = [0.5, 0.5] * 90 + [0.2, 0.8] * 10
    report = report_for(rewards)
    assert report.flat_prompt_share == 0.9
    assert report.verdict is Verdict.NO_GO
    assert any("scored the same" in s for s in signals(report))


def test_grader_errors_are_counted_by_flag_and_many_of_them_are_no_go():
    rewards = clipped_gauss(0.45, 0.22, 100)
    for i in range(30):
        rewards[i] = 0.0  # an error flag gives reward 0, as the grader core does
    report = report_for(rewards, errors=30)
    assert report.grader_errors == {"model_grader_parse_error": 30}
    assert any("grader errors" in s for s in signals(report))


def test_rollouts_without_an_answer_are_left_out_of_the_statistics():
    scores = scores_of(clipped_gauss(0.45, 0.22, 20))
    scores.append(Score(rollout_id="job:px:0", job_id="job", prompt_id="px", reward=0.0,
                        rollout_error="LLM endpoint down"))
    report = build_report(job_id="job", dataset="d", model="m", grader_name="g",
                          samples_per_prompt=2, scores=scores)
    assert report.failed_rollouts == 1
    assert report.stats.count == 20
    assert len(report.samples) == 21


def test_no_scored_sample_is_no_go():
    report = build_report(job_id="job", dataset="d", model="m", grader_name="g",
                          samples_per_prompt=2, scores=[])
    assert report.verdict is Verdict.NO_GO


def test_histogram_puts_one_in_the_last_bin_and_clips_out_of_range_values():
    assert histogram([0.0, 0.05, 0.999, 1.0, 1.5, -0.2], 10) == [3, 0, 0, 0, 0, 0, 0, 0, 0, 3]


def test_go_screen_shows_the_seed_lines():
    report = report_for(clipped_gauss(0.45, 0.22, 300), topics=("data_queries", "calculations"))
    screen = render_dry_run_screen(report)
    assert "Dry Run Validation" in screen and "[GO]" in screen
    assert "Tested: 300 samples (150 prompts x 2)" in screen
    assert f"Mean: {report.stats.mean:.2f}  Std: {report.stats.std:.2f}" in screen
    assert "✓ Dataset quality: Good" in screen and "✓ Grader quality: Good" in screen
    assert "data_queries:" in screen and "[Train →]" in screen
    lines = screen.splitlines()
    assert len({len(line) for line in lines}) == 1, "the frame is broken"


def test_no_go_screen_lists_causes_and_recommendations():
    screen = render_dry_run_screen(report_for(clipped_gauss(0.05, 0.12, 300)))
    assert "[NO-GO]" in screen
    assert "Dataset issue: Prompts too difficult" in screen
    assert "Grader issue: Scoring too strict" in screen
    assert "Recommendation: Run SFT first" in screen
    assert "[Review Dataset] [Adjust Grader] [Run SFT]" in screen
    assert len({len(line) for line in screen.splitlines()}) == 1


@pytest.mark.parametrize(
    "rewards",
    [
        clipped_gauss(0.45, 0.22, 300),  # GO
        clipped_gauss(0.05, 0.12, 300),  # too hard
        clipped_gauss(0.95, 0.05, 300),  # too easy, no spread
        [0.0, 1.0] * 150,  # bimodal
        [0.4, 0.4] * 100 + [0.2, 0.7] * 10,  # flat prompts
        [],  # nothing scored
    ],
)
def test_the_verdict_check_other_tests_use_agrees_with_the_table(rewards):
    assert_verdict_follows_the_table(report_for(rewards))


def test_the_verdict_check_other_tests_use_fails_a_report_that_disagrees():
    go = report_for(clipped_gauss(0.45, 0.22, 300))
    flipped = go.model_copy(update={"verdict": Verdict.NO_GO, "reasons": ["made up"]})
    with pytest.raises(AssertionError):
        assert_verdict_follows_the_table(flipped)
    other_figures = go.model_copy(update={"stats": go.stats.model_copy(update={"mean": 0.5})})
    with pytest.raises(AssertionError):
        assert_verdict_follows_the_table(other_figures)
    no_go = report_for(clipped_gauss(0.05, 0.12, 300))
    with pytest.raises(AssertionError):
        assert_verdict_follows_the_table(no_go.model_copy(update={"verdict": Verdict.GO}))
