"""`rft rejected` on hostile and damaged files: a record's escape sequences are shown, never
obeyed, and a bad cursor or a corrupt rejected.jsonl is one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rft_cli.terminal import inert

REPO = Path(__file__).resolve().parents[2]

# A window title, a bell, clear-screen, an 8-bit CSI, a bidi override and Rich markup.
HOSTILE = b"\x1b]0;pwned\x07\x1b[2J\x1b[31m [/bold] \xc2\x9b6n \xe2\x80\xaeevil\n"
TERMINAL_ACTS_ON = ("\x1b", "\x07", "\x9b", "\u202e")


def rft(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RFT_DATA_DIR": str(data_dir), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "rft_cli", *args], capture_output=True, text=True, env=env,
        timeout=120, cwd=REPO,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    for phrase in says:
        assert phrase in line, line


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sanitize run whose rejected.jsonl holds the hostile line and one harmless one."""
    tmp = tmp_path_factory.mktemp("hostile")
    traces = tmp / "traces.jsonl"
    traces.write_bytes(HOSTILE + b'{"messages": []}\n')
    out = tmp / "out"
    made = rft("sanitize", str(traces), "--out", str(out), data_dir=tmp / "state")
    assert made.returncode == 0, made.stderr
    return out


def test_escape_sequences_of_a_rejected_record_are_shown_inert(hostile_run):
    stored = [json.loads(line) for line in (hostile_run / "rejected.jsonl").open()]
    assert "\x1b]0;pwned" in stored[0]["excerpt"], "the excerpt keeps the record's bytes"

    shown = rft("rejected", str(hostile_run), data_dir=hostile_run.parent / "state")
    assert shown.returncode == 0, shown.stderr
    for control in TERMINAL_ACTS_ON:
        assert control not in shown.stdout, repr(control)
    for visible in ("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m", "[/bold]", "\\x9b6n", "\\u202eevil"):
        assert visible in shown.stdout, visible


def test_a_cursor_that_is_not_a_byte_offset_is_one_line_and_exit_2(hostile_run):
    for cursor, says in [("abc", "cursor 'abc' is not one a page of"),
                         ("1", "cursor 1 is not the start of a line")]:
        refused = rft("rejected", str(hostile_run), "--cursor", cursor,
                      data_dir=hostile_run.parent / "state")
        assert_one_line_error(refused, says, "rejected.jsonl")


def test_a_corrupt_rejected_file_is_one_line_and_exit_2(hostile_run, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    good = (hostile_run / "rejected.jsonl").read_bytes()
    (damaged / "rejected.jsonl").write_bytes(good + b'{"id": "rej-1", "reason": "inv')
    refused = rft("rejected", str(damaged), data_dir=tmp_path / "state")
    assert_one_line_error(refused, f"is corrupt: the line at byte {len(good)}", "Invalid JSON")


def test_control_characters_are_written_out_and_printable_text_kept():
    assert inert("a\x1b[2Jb\x07\x00\x7f\x9b\u202e\t\n\r") == (
        "a\\x1b[2Jb\\x07\\x00\\x7f\\x9b\\u202e\\t\\n\\r"
    )
    printable = 'ünïcödé 漢字 emoji 🙂 "quoted" \\n [markup]'
    assert inert(printable) == printable
