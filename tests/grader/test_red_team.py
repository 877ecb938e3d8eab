from __future__ import annotations

import asyncio

import pytest

from rft_grader import FixedAnswerJudge, build_grader
from rft_grader.presets import correctness, tool_usage
from rft_grader.red_team import exploit_answers, red_team


def test_exploits_cover_every_kind_for_a_tool_item(drone_items) -> None:
    kinds = {kind for kind, _ in exploit_answers(drone_items[0])}
    assert kinds == {"empty", "prompt_copy", "format_shell", "verbose_padding", "refusal",
                     "wrong_tool"}
    [(_, wrong)] = [(k, s) for k, s in exploit_answers(drone_items[0]) if k == "wrong_tool"]
    assert wrong.output_tools[0].function.name != "takeoff_drone"


def test_tool_usage_preset_pays_no_exploit(drone_items) -> None:
    grader = build_grader(tool_usage())
    try:
        report = asyncio.run(red_team(grader, drone_items[:4]))
    finally:
        grader.close()
    assert not report.flagged
    assert all(e.max_reward == 0.0 for e in report.exploits)


def test_lenient_grader_is_flagged_with_the_exploit_shown(drone_items) -> None:
    # "Pays any non-empty answer": the padding, the prompt copy and the refusal all win.
    lenient = build_grader({"type": "python", "name": "lenient",
                            "source": "def grade(s, i):\n"
                                      "    return 1.0 if s['output_text'].strip() else 0.0\n"})
    try:
        report = asyncio.run(red_team(lenient, drone_items[:2], threshold=0.3))
    finally:
        lenient.close()
    flagged = {e.kind: e for e in report.exploits if e.flagged}
    assert report.flagged
    assert {"prompt_copy", "verbose_padding", "refusal"} <= set(flagged)
    assert "empty" not in flagged
    assert flagged["refusal"].best_paid_answer.startswith("I'm sorry")


def test_judge_self_consistency_reports_the_spread(drone_items) -> None:
    judge = FixedAnswerJudge(['{"result": 0.2}', '{"result": 0.9}', '{"result": 0.5}'])
    grader = build_grader(correctness(), judge=judge)
    report = asyncio.run(red_team(grader, drone_items[:1], consistency_runs=6))
    assert report.consistency is not None
    assert set(report.consistency.rewards) == {0.2, 0.9, 0.5}
    assert report.consistency.spread == pytest.approx(0.7)
    steady = build_grader(correctness(), judge=FixedAnswerJudge(['{"result": 0.8}']))
    steady_report = asyncio.run(red_team(steady, drone_items[:1], consistency_runs=4))
    assert steady_report.consistency.spread == 0.0
