"""`rft submit` before `rft up`, and with a file that is not there: one line, exit 2, nothing
sent. (The submission itself runs on the real stack: tests/e2e/test_cluster_journey.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_rejected_command import REPO, assert_one_line_error, rft

DRONE = REPO / "examples" / "data" / "drone_training.jsonl"


def test_without_a_running_stack_it_says_to_start_one(tmp_path: Path) -> None:
    result = rft("submit", str(DRONE), "--dataset", "d", data_dir=tmp_path)
    assert_one_line_error(result, f"no running stack in {tmp_path}", "rft up")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = rft("submit", str(tmp_path / "nope.jsonl"), "--dataset", "d", data_dir=tmp_path)
    assert_one_line_error(result, "no such input file", "nope.jsonl")
