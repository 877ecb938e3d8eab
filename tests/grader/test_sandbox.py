"""Escapes from the python grader's sandbox each end as that sample's error, fast, and the
grader keeps grading the next sample."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from rft_grader.sandbox.client import SandboxLimits, SandboxWorker
from tests.grader.sandbox_kernel import REQUIRES_SANDBOX_KERNEL

pytestmark = REQUIRES_SANDBOX_KERNEL

LIMITS = SandboxLimits(wall_time_s=1.5, cpu_seconds_per_request=1, memory_bytes=512 << 20)
# Grader code reaching the real builtins through an allowed module is the classic escape;
# what it then tries must still fail.
REAL_IMPORT = "import json\nreal_import = json.__builtins__['__import__']\n"


@pytest.fixture
def run() -> Iterator[object]:
    workers: list[SandboxWorker] = []

    def grade(source: str, sample: dict | None = None, limits: SandboxLimits = LIMITS):
        worker = SandboxWorker(source, limits)
        workers.append(worker)
        outcome = worker.grade(sample or {"output_text": "hi"}, {"answer": "hi"})
        return worker, outcome

    yield grade
    for worker in workers:
        worker.close()


def test_plain_grader_scores_from_sample_and_item(run) -> None:
    _, outcome = run("def grade(sample, item):\n"
                     "    return float(sample['output_text'] == item['answer'])\n")
    assert outcome.error is None and outcome.score == 1.0


def test_reading_etc_passwd_is_a_grader_error(run) -> None:
    _, outcome = run("def grade(s, i):\n    return len(open('/etc/passwd').read())\n")
    assert outcome.error == "runtime" and "PermissionError" in outcome.detail


def test_reading_through_an_escaped_os_module_is_refused(run) -> None:
    _, outcome = run(REAL_IMPORT + "def grade(s, i):\n"
                     "    os = real_import('os')\n"
                     "    return os.read(os.open('/etc/hostname', os.O_RDONLY), 100)[0]\n")
    assert outcome.error == "runtime" and outcome.score is None


def test_listing_a_directory_outside_the_temp_dir_is_refused(run) -> None:
    _, outcome = run("import random\ndef grade(s, i):\n    return len(random._os.listdir('/'))\n")
    assert outcome.error == "runtime" and "PermissionError" in outcome.detail


def test_files_inside_the_temp_dir_work(run) -> None:
    _, outcome = run("def grade(s, i):\n    open('scratch.txt', 'w').write('abc')\n"
                     "    return len(open('scratch.txt').read())\n")
    assert outcome.score == 3.0


def test_writing_outside_the_temp_dir_is_refused(run, tmp_path) -> None:
    target = tmp_path / "owned.txt"
    _, outcome = run(f"def grade(s, i):\n    open({str(target)!r}, 'w').write('x')\n    return 1\n")
    assert outcome.error == "runtime"
    assert not target.exists()


@pytest.mark.parametrize("module", ["os", "subprocess", "socket", "sys", "ctypes", "importlib"])
def test_importing_a_module_outside_the_allowlist_is_refused(run, module: str) -> None:
    _, outcome = run(f"import {module}\ndef grade(s, i):\n    return 1.0\n")
    assert outcome.error == "invalid_source"
    assert f"import of '{module}' is not allowed" in outcome.detail


def test_opening_a_socket_is_refused_and_nothing_connects(run) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    _, outcome = run(REAL_IMPORT + "def grade(s, i):\n"
                     "    so = real_import('socket')\n"
                     f"    so.create_connection(('127.0.0.1', {port}), timeout=1)\n"
                     "    return 1.0\n")
    assert outcome.error == "runtime"
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


def test_os_system_is_refused(run) -> None:
    _, outcome = run(REAL_IMPORT + "def grade(s, i):\n"
                     "    return real_import('os').system('touch /tmp/rft-sandbox-pwned')\n")
    assert outcome.error == "runtime" and "os.system" in outcome.detail


def test_fork_bomb_is_a_grader_error(run) -> None:
    _, outcome = run(REAL_IMPORT + "def grade(s, i):\n    os = real_import('os')\n"
                     "    while True:\n        os.fork()\n")
    assert outcome.error == "runtime" and outcome.score is None


def test_huge_allocation_is_a_grader_error(run) -> None:
    _, outcome = run("def grade(s, i):\n    block = bytearray(8 * 1024 ** 3)\n    return 1.0\n")
    assert outcome.error == "runtime" and "MemoryError" in outcome.detail


def test_infinite_loop_is_killed_within_the_wall_clock_limit(run) -> None:
    started = time.monotonic()
    _, outcome = run("def grade(s, i):\n    while True:\n        pass\n",
                     limits=SandboxLimits(wall_time_s=1.0, cpu_seconds_per_request=5))
    assert outcome.error == "timeout"
    assert time.monotonic() - started < 5


def test_cpu_limit_kills_a_spinning_grader_before_its_wall_clock(run) -> None:
    _, outcome = run("def grade(s, i):\n    while True:\n        pass\n",
                     limits=SandboxLimits(wall_time_s=30, cpu_seconds_per_request=1))
    assert outcome.error == "crashed" and "CPU time limit" in outcome.detail


def test_a_timed_out_sample_is_killed_and_the_worker_grades_the_next_one(run) -> None:
    worker, outcome = run("def grade(s, i):\n"
                          "    if s['output_text'] == 'hang':\n"
                          "        while True:\n            pass\n"
                          "    return 0.5\n", sample={"output_text": "hang"},
                          limits=SandboxLimits(wall_time_s=0.5))
    assert outcome.error == "timeout"
    assert worker.grade({"output_text": "fine"}, {}).score == 0.5
    # Each sample runs in its own process: the worker outlives the one that hung.
    assert worker.starts == 1


def test_worker_restarts_after_it_dies_and_grades_the_next_sample(run) -> None:
    worker, outcome = run("def grade(s, i):\n    return 0.5\n")
    assert outcome.score == 0.5
    os.killpg(worker._process.popen.pid, signal.SIGKILL)
    worker._process.popen.wait()  # dead before the next write: that write hits a closed pipe
    assert worker.grade({"output_text": "x"}, {}).error == "crashed"
    assert worker.grade({"output_text": "x"}, {}).score == 0.5
    assert worker.starts == 2


def test_worker_is_reused_across_samples(run) -> None:
    worker, _ = run("def grade(s, i):\n    return 1.0\n")
    for _ in range(20):
        assert worker.grade({"output_text": "x"}, {}).score == 1.0
    assert worker.starts == 1


@pytest.mark.parametrize(("body", "kind"), [
    ("return 'high'", "bad_score"),
    ("return float('nan')", "bad_score"),
    ("return True", "bad_score"),
    ("raise KeyError('answer')", "runtime"),
])
def test_grade_that_returns_no_number_is_an_error(run, body: str, kind: str) -> None:
    _, outcome = run(f"def grade(s, i):\n    {body}\n")
    assert outcome.error == kind


def test_prints_do_not_corrupt_the_protocol(run) -> None:
    _, outcome = run("def grade(s, i):\n    print('noise' * 1000)\n    return 0.25\n")
    assert outcome.score == 0.25


def test_megabyte_and_surrogate_samples_are_graded(run) -> None:
    worker, outcome = run("def grade(s, i):\n    return float(len(s['output_text']))\n",
                          sample={"output_text": "x" * 3_000_000})
    assert outcome.score == 3_000_000.0
    assert worker.grade({"output_text": "bad \udcff utf8"}, {}).score == 10.0


def test_jsonschema_is_importable_inside_the_sandbox(run) -> None:
    _, outcome = run("import jsonschema\ndef grade(s, i):\n"
                     "    jsonschema.validate({'a': 1}, {'type': 'object'})\n    return 1.0\n")
    assert outcome.score == 1.0


def test_each_sample_gets_the_item_as_sent_even_if_a_grader_mutates_it(run) -> None:
    worker, first = run("def grade(s, i):\n    i['seen'] = i.get('seen', 0) + 1\n"
                        "    return float(i['seen'])\n")
    item = {"answer": "hi"}
    assert first.score == 1.0
    assert worker.grade({"output_text": "a"}, item).score == 1.0
    assert worker.grade({"output_text": "b"}, item).score == 1.0  # same item, sent once
    assert item == {"answer": "hi"}


def test_this_repositorys_sources_are_not_readable_from_a_grader(run) -> None:
    import rft_grader

    own_source = rft_grader.__file__
    _, outcome = run(f"def grade(s, i):\n    return len(open({own_source!r}).read())\n")
    assert outcome.error == "runtime" and "PermissionError" in outcome.detail
