"""The supervisor `rft up` starts (rft_cli.supervisor), on small real children: Python's
http.server on a port of its own, started and stopped as `rft up` / `rft down` do it
(stack.supervise, stack.down), with a backoff short enough for seconds-long tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rft_cli import stack
from rft_cli.supervisor import Child, Plan, Probe, StackState, SupervisorProcess
from rft_runtime.kafka.broker import free_port
from rft_runtime.processes import is_running, process_start_time
from rft_runtime.settings import RuntimeSettings

BACKOFF = {"RFT_SUPERVISOR_BACKOFF_INITIAL_S": "0.2", "RFT_SUPERVISOR_BACKOFF_MAX_S": "1.0",
           "RFT_SUPERVISOR_BACKOFF_RESET_AFTER_S": "1.0", "RFT_SUPERVISOR_STOP_TIMEOUT_S": "5"}


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BACKOFF.items():  # the supervisor inherits this environment
        monkeypatch.setenv(name, value)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[RuntimeSettings]:
    settings = RuntimeSettings(data_dir=tmp_path)
    yield settings
    stack.down(settings)  # nothing left behind by a failing test


def server(tmp_path: Path, name: str, stop_group: int = 0, crash_if: Path | None = None) -> Child:
    """http.server on a free port; with ``crash_if``, it exits with code 3 at start while that
    file exists."""
    port = free_port()
    serve = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", str(tmp_path)]
    command = serve if crash_if is None else [
        "sh", "-c", f'test -e "{crash_if}" && exit 3; exec "$@"', "sh", *serve]
    return Child(name=name, command=command, env=dict(os.environ),
                 log=str(tmp_path / f"{name}.log"), services={name: port},
                 probes=[Probe(kind="http", port=port, path="/")], start_timeout_s=30,
                 stop_group=stop_group)


def up(settings: RuntimeSettings, *children: Child) -> dict[str, stack.StackProcess]:
    plan = Plan(state=stack.state_path(settings), children=list(children))
    processes = stack.supervise(plan, settings.data_dir / "supervisor.log")
    return {p.name: p for p in processes}


def state(settings: RuntimeSettings) -> StackState:
    read = stack.read_stack(settings)
    assert read is not None
    return read


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s}s: {what}"
        time.sleep(0.05)


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def entry(settings: RuntimeSettings, name: str) -> stack.StackProcess:
    return next(p for p in state(settings).processes if p.name == name)


def supervisor_log(settings: RuntimeSettings) -> str:
    return (settings.data_dir / "supervisor.log").read_text()


def test_a_killed_child_is_started_again_on_its_port_and_answers(tmp_path, settings):
    started = up(settings, server(tmp_path, "a"), server(tmp_path, "b"))
    a, b = started["a"], started["b"]
    assert state(settings).status == "ready"
    os.kill(a.pid, signal.SIGKILL)
    wait_for(lambda: entry(settings, "a").restarts == 1, "a restarted")
    wait_for(lambda: answers(a.port), "a answering again")
    again = entry(settings, "a")
    assert (again.port, again.last_exit) == (a.port, "killed by SIGKILL")
    assert again.pid != a.pid and stack.alive(again)
    assert f"a (pid {a.pid}) killed by SIGKILL" in supervisor_log(settings)
    # a SIGTERM that is not `rft down`'s is an exit like any other
    os.kill(b.pid, signal.SIGTERM)
    wait_for(lambda: entry(settings, "b").restarts == 1, "b restarted")
    wait_for(lambda: answers(b.port), "b answering again")
    assert entry(settings, "b").last_exit == "killed by SIGTERM"
    assert entry(settings, "a").pid == again.pid  # the other child untouched


def test_children_stopped_by_down_are_not_restarted(tmp_path, settings):
    started = up(settings, server(tmp_path, "service"), server(tmp_path, "broker", 2))
    supervisor = state(settings).supervisor
    assert supervisor is not None and stack.alive(supervisor)
    stopped = stack.down(settings)
    assert {p.name for p in stopped} == {"service", "broker"}
    assert not stack.state_path(settings).exists()
    assert not stack.alive(supervisor)
    for child in started.values():
        assert not stack.alive(child) and not answers(child.port)
    log = supervisor_log(settings)
    assert "stopped" in log and "restart" not in log


def test_a_child_that_keeps_crashing_waits_longer_each_time(tmp_path, settings):
    crash = tmp_path / "crash"
    flaky = up(settings, server(tmp_path, "flaky", crash_if=crash))["flaky"]
    crash.touch()
    killed_at = time.monotonic()
    os.kill(flaky.pid, signal.SIGKILL)
    wait_for(lambda: entry(settings, "flaky").restarts >= 5, "5 restarts")
    # 0.2 + 0.4 + 0.8 + 1.0 + 1.0 s of backoff at the least
    assert time.monotonic() - killed_at >= 3.4
    delays = re.findall(r"flaky \(pid \d+\) .* restarting in ([\d.]+)s",
                        supervisor_log(settings))
    assert delays[:5] == ["0.2", "0.4", "0.8", "1.0", "1.0"]
    assert entry(settings, "flaky").last_exit == "exited with code 3"
    # fixed, it comes back on its port; healthy past backoff_reset_after_s, it starts over
    crash.unlink()
    wait_for(lambda: answers(flaky.port), "flaky answering again", timeout_s=30)
    wait_for(lambda: "answers again" in supervisor_log(settings).rsplit("restarting in", 1)[1],
             "the supervisor saw it answer")
    answered = time.monotonic()
    wait_for(lambda: time.monotonic() - answered > 1.2, "past backoff_reset_after_s")
    scheduled = supervisor_log(settings).count("restarting in")
    os.kill(entry(settings, "flaky").pid, signal.SIGKILL)
    wait_for(lambda: supervisor_log(settings).count("restarting in") > scheduled,
             "the next restart scheduled")
    last = re.findall(r"restarting in ([\d.]+)s", supervisor_log(settings))[-1]
    assert last == "0.2"


def test_down_stops_the_children_of_a_killed_supervisor(tmp_path, settings):
    started = up(settings, server(tmp_path, "service"), server(tmp_path, "llm", 1))
    supervisor = state(settings).supervisor
    assert supervisor is not None
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_for(lambda: not stack.alive(supervisor), "the supervisor gone")
    assert all(answers(p.port) for p in started.values()), "its children outlive it"
    with pytest.raises(stack.StackError, match="already up"):
        stack.up(settings)
    stack.down(settings)
    for child in started.values():
        assert not stack.alive(child) and not answers(child.port)
    assert not stack.state_path(settings).exists()


def test_a_second_up_while_up_refuses(tmp_path, settings):
    up(settings, server(tmp_path, "service"))
    with pytest.raises(stack.StackError, match=r"already up \(supervisor, service\)"):
        stack.up(settings)
    assert state(settings).status == "ready"


def test_a_child_that_fails_to_start_leaves_nothing_running(tmp_path, settings):
    crash = tmp_path / "crash"
    crash.touch()
    first = server(tmp_path, "first")
    with pytest.raises(stack.StackError) as failed:
        up(settings, first, server(tmp_path, "broken", crash_if=crash))
    message = str(failed.value)
    assert "broken exited with code 3 before it answered" in message
    assert str(tmp_path / "broken.log") in message and "supervisor.log" in message
    assert not stack.state_path(settings).exists()
    assert not answers(first.services["first"])
    assert "restart" not in supervisor_log(settings)


def test_a_stale_stack_json_leaves_the_processes_that_now_hold_its_pids_alone(tmp_path, settings):
    # After a reboot, stack.json may name pids that other programs hold now: the start time
    # recorded with each pid tells them apart, so `rft down` and `rft up` leave them be.
    strangers = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    try:
        def recorded(pid: int) -> float:
            started = process_start_time(pid)
            assert started is not None
            return started - 1  # the process stack.json knew held this pid before

        service, supervisor = strangers
        stale = StackState(
            status="ready",
            supervisor=SupervisorProcess(pid=supervisor.pid, started=recorded(supervisor.pid),
                                         log=str(tmp_path / "supervisor.log")),
            processes=[stack.StackProcess(name="service", pid=service.pid,
                                          started=recorded(service.pid), port=free_port(),
                                          log=str(tmp_path / "service.log"))],
        )
        stack.state_path(settings).write_text(stale.model_dump_json())
        assert not stack.alive(stale.processes[0]) and not stack.alive(stale.supervisor)
        stack.down(settings)
        assert all(p.poll() is None for p in strangers), "a stranger was stopped"
        assert not stack.state_path(settings).exists()
        # the same pids recorded with their true start times are the stack's: stopped
        stack.state_path(settings).write_text(stale.model_copy(update={
            "processes": [stale.processes[0].model_copy(
                update={"started": process_start_time(service.pid)})]}).model_dump_json())
        stack.down(settings)
        assert not is_running(service.pid)  # stopped, and reaped by down (we are its parent)
        assert supervisor.poll() is None
    finally:
        for process in strangers:
            process.kill()
            process.wait()


def test_down_finds_the_processes_of_the_stack_that_stack_json_never_listed(tmp_path, settings):
    # A supervisor killed between starting a child and recording it leaves a process no
    # stack.json names; every process of the stack carries the stack's mark in its environment.
    def sleeper(data_dir: Path) -> subprocess.Popen[bytes]:
        env = {**os.environ, stack.MEMBER_MARK: str(data_dir.resolve())}
        return subprocess.Popen(["sleep", "60"], env=env)

    other_dir = tmp_path / "another-stack"
    unrecorded, stranger = sleeper(settings.data_dir), sleeper(other_dir)
    try:
        assert stack.members(settings) == {unrecorded.pid}
        refused = rf"earlier stack still run \(pids {unrecorded.pid}\)"
        with pytest.raises(stack.StackError, match=refused):
            stack.up(settings)
        stopped = stack.down(settings)
        assert [(p.name, p.pid) for p in stopped] == [("unrecorded", unrecorded.pid)]
        assert not is_running(unrecorded.pid)
        assert stranger.poll() is None, "the other stack's process was stopped"
    finally:
        for process in (unrecorded, stranger):
            process.kill()
            process.wait()


def test_the_planned_stack_marks_every_process_with_its_data_dir(tmp_path):
    settings = RuntimeSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9092",
                               llm_base_url="http://127.0.0.1:8000/v1")
    planned = stack.plan(settings, tmp_path)
    assert planned.children
    assert {c.env[stack.MEMBER_MARK] for c in planned.children} == {str(tmp_path.resolve())}
