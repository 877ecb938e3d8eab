"""Paths the CLI cannot use: a file where a directory belongs, a read-only --out or data dir, a
directory or FIFO as input. Each is one line naming the path, and exit 2, not a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / "examples" / "data" / "toy_chat_fine_tuning.jsonl"

# Root ignores permission bits: a read-only bind mount in a user namespace refuses everyone.
_READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def rft(
    *args: str, data_dir: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RFT_DATA_DIR": str(data_dir), "COLUMNS": "400"}
    env.pop("RFT_KAFKA_BOOTSTRAP", None)
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "rft_cli", *args], capture_output=True,
        text=True, env=env, timeout=120, cwd=REPO,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    for phrase in says:
        assert phrase in line, line


def read_only(directory: Path) -> list[str]:
    """A command prefix under which ``directory`` cannot be written, by root either."""
    unshare = shutil.which("unshare")
    if unshare is not None:
        prefix = [unshare, "--map-root-user", "--mount", "sh", "-c", _READ_ONLY, str(directory)]
        probe = subprocess.run([*prefix, "touch", str(directory / "probe")],
                               capture_output=True, text=True, timeout=30)
        if "Read-only file system" in probe.stderr:
            return prefix
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return []
    pytest.fail("running as root without user namespaces (unshare --map-root-user): no way to "
                "make a directory read-only for this test", pytrace=False)


@pytest.mark.parametrize("command", [["sanitize"], ["run", "--until", "A"]])
def test_a_file_as_out_is_one_line_and_exit_2(tmp_path, command):
    out = tmp_path / "out.jsonl"
    out.write_text("already here\n")
    result = rft(*command, str(TRACES), "--out", str(out), data_dir=tmp_path / "state")
    assert_one_line_error(result, f"--out {out} is a file, not a directory")
    assert out.read_text() == "already here\n"


def test_a_read_only_out_is_one_line_and_exit_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    prefix = read_only(locked)
    for out in (locked, locked / "new"):
        result = rft("sanitize", str(TRACES), "--out", str(out), data_dir=tmp_path / "state",
                     prefix=prefix)
        assert_one_line_error(result, f"--out {out}")
        assert "not writable" in result.stderr or "cannot be created" in result.stderr


def test_a_read_only_data_dir_is_one_line_and_exit_2(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    prefix = read_only(state)
    result = rft("sanitize", str(TRACES), "--out", str(tmp_path / "out"), data_dir=state,
                 prefix=prefix)
    assert_one_line_error(result, f"the data dir (RFT_DATA_DIR) {state} is not writable")
    assert not (tmp_path / "out" / "rejected.jsonl").exists()


def test_a_directory_or_fifo_as_input_is_no_such_input_file(tmp_path):
    fifo = tmp_path / "traces.fifo"
    os.mkfifo(fifo)
    for given, kind in [(tmp_path, "a directory"), (fifo, "not a file")]:
        result = rft("sanitize", str(given), "--out", str(tmp_path / "out"),
                     data_dir=tmp_path / "state")
        assert_one_line_error(result, f"no such input file: {given} ({kind})")
