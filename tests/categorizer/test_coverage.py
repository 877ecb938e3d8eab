"""Step D: coverage numbers checked by hand on a small example, the chart and the PNG."""

from __future__ import annotations

import pytest

from rft_categorizer.coverage import compute_coverage
from rft_categorizer.coverage_chart import coverage_png, render_coverage_chart, render_difficulty
from rft_schemas.topics import CategorizationMethod, CategorizedPrompt, TopicHierarchy
from tests.categorizer.conftest import sanitized

HIERARCHY = TopicHierarchy.model_validate(
    {
        "dataset": "shop",
        "version": 3,
        "topics": [
            {"name": "billing", "children": [{"name": "refunds"}, {"name": "invoices"}]},
            {"name": "shipping"},
            {"name": "returns"},
        ],
    }
)


def record(i: int, path: list[str], tokens: int, **fields) -> CategorizedPrompt:
    return CategorizedPrompt(
        prompt=sanitized(f"p{i}", f"prompt {i}", token_count=tokens, **fields),
        topic_path=path,
        confidence=0.9,
        method=CategorizationMethod.EMBEDDING,
        uncategorized=path == ["other"],
        hierarchy_version=3,
    )


@pytest.fixture
def records() -> list[CategorizedPrompt]:
    paths = (
        [["billing", "refunds"]] * 10
        + [["billing", "invoices"]] * 2
        + [["shipping"]] * 6
        + [["other"]] * 2
    )
    return [record(i, p, tokens=10 * (i + 1)) for i, p in enumerate(paths)]


def by_path(report, *path):
    return next(t for t in report.topics if t.path == list(path))


def test_counts_shares_targets_and_gaps_by_hand(records):
    report = compute_coverage(HIERARCHY, records)
    assert report.total == 20 and report.hierarchy_version == 3
    # 18 prompts in topics, 3 top-level topics: a uniform target of 6 each
    billing, shipping, returns = (by_path(report, n) for n in ("billing", "shipping", "returns"))
    assert (billing.count, billing.target, billing.gap) == (12, 6, 0)
    assert (shipping.count, shipping.target, shipping.gap) == (6, 6, 0)
    assert not shipping.below_target
    assert (returns.count, returns.gap, returns.recommended_generate) == (0, 6, 6)
    assert returns.below_target
    assert billing.share == pytest.approx(0.6)
    # billing's subtopics share its target of 6: 3 each
    invoices = by_path(report, "billing", "invoices")
    assert (invoices.level, invoices.count, invoices.target, invoices.gap) == (2, 2, 3, 1)
    assert not invoices.below_target  # 2 is not under half of 3
    other = by_path(report, "other")
    assert (other.count, other.target, other.below_target) == (2, 0, False)
    level1 = report.spread_by_level[1]
    assert (level1.min, level1.max, level1.mean) == (0, 12, 6.0)
    assert level1.std == pytest.approx(4.898979, rel=1e-5)
    assert (report.spread_by_level[2].min, report.spread_by_level[2].max) == (2, 10)


def test_user_targets_replace_the_uniform_ones(records):
    report = compute_coverage(HIERARCHY, records, targets={"billing/invoices": 10, "returns": 1})
    assert report.target_policy == "user"
    assert by_path(report, "billing", "invoices").recommended_generate == 8
    assert by_path(report, "billing", "invoices").below_target
    assert by_path(report, "returns").recommended_generate == 1
    grown = compute_coverage(HIERARCHY, records, total_target=300)
    assert by_path(grown, "shipping").recommended_generate == 100 - 6


def test_difficulty_buckets_by_token_length_then_by_reward(records):
    report = compute_coverage(HIERARCHY, records)
    assert report.difficulty_signal == "token_length"
    # token counts 10..200: tertile cuts at the 7th and 14th values (70 and 140)
    assert report.difficulty_buckets == {
        "easy": "< 70",
        "medium": ">= 70 and < 140",
        "hard": ">= 140",
    }
    assert report.by_difficulty["easy"] == {"billing/refunds": 6}
    medium = {"billing/invoices": 2, "billing/refunds": 4, "shipping": 1}
    assert report.by_difficulty["medium"] == medium
    assert report.by_difficulty["hard"] == {"other": 2, "shipping": 5}
    rewarded = [record(i, ["shipping"], 5, reward=r) for i, r in enumerate([0, 0.5, 1, 1, True])]
    report = compute_coverage(HIERARCHY, rewarded)
    assert report.difficulty_signal == "reward"
    assert report.by_difficulty["hard"] == {"shipping": 1}
    assert report.by_difficulty["medium"] == {"shipping": 1}
    assert report.by_difficulty["easy"] == {"shipping": 3}


def test_chart_draws_bars_marks_thin_topics_and_recommends(records):
    chart = render_coverage_chart(compute_coverage(HIERARCHY, records))
    lines = chart.splitlines()
    assert "Current Coverage Distribution" in lines[1]
    billing = next(line for line in lines if "billing" in line)
    shipping = next(line for line in lines if "shipping" in line)
    assert billing.count("█") == 16 and shipping.count("█") == 8
    assert "⚠️" in next(line for line in lines if "returns" in line)
    assert '"returns" has only 0.0%' in chart and "Generate ~6 more" in chart
    # the right border lines up (an emoji takes two cells)
    widths = {len(line) + line.count("⚠️") for line in lines}
    assert len(widths) == 1
    level2 = render_coverage_chart(compute_coverage(HIERARCHY, records), level=2)
    assert "billing/refunds" in level2 and "other" in level2


def test_png_is_written_without_a_display(records):
    png = coverage_png(compute_coverage(HIERARCHY, records))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_without_token_counts_difficulty_falls_back_to_prompt_length_and_is_shown():
    def uncounted(i: int, text: str) -> CategorizedPrompt:
        return CategorizedPrompt(
            prompt=sanitized(f"p{i}", text), topic_path=["shipping"], confidence=0.9,
            method=CategorizationMethod.EMBEDDING, hierarchy_version=3,
        )

    # The sanitizer counts tokens only where they decide a bound: most real prompts have none.
    texts = ["ship it", "where is my parcel now", "x" * 40, "y" * 80, "z" * 120, "w" * 160]
    report = compute_coverage(HIERARCHY, [uncounted(i, t) for i, t in enumerate(texts)])
    assert report.difficulty_signal == "prompt_length"
    counts = {bucket: sum(topics.values()) for bucket, topics in report.by_difficulty.items()}
    assert counts == {"easy": 2, "medium": 2, "hard": 2}
    shown = render_difficulty(report)
    assert shown is not None and "By difficulty (prompt length):" in shown


def test_tau2_rewards_under_reward_info_are_the_difficulty_signal():
    rewarded = [record(i, ["shipping"], 5, reward_info={"reward": r})
                for i, r in enumerate([0.0, 1.0, 1.0])]
    report = compute_coverage(HIERARCHY, rewarded)
    assert report.difficulty_signal == "reward"
    assert report.by_difficulty["hard"] == {"shipping": 1}
    assert report.by_difficulty["easy"] == {"shipping": 2}
