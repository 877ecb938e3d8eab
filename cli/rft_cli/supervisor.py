"""``python -m rft_cli.supervisor``: starts the processes of a plan and keeps them running.

`rft up` (:mod:`rft_cli.stack`) writes the plan to this process's stdin: each child's command
line, environment, ports, log and health probes, in start order. The supervisor starts each
child and waits for its probes before the next, writes ``stack.json`` (its own pid, every
child's pid and port, ``status``: starting, ready, failed with a reason, stopping, stopped)
and then watches them. A child that exits while the supervisor is not stopping it is started
again with the same command line, environment and port, after a backoff that doubles from
``backoff_initial_s`` to ``backoff_max_s`` and starts over once the child has answered its
probes for ``backoff_reset_after_s``; a restarted child that does not answer within its start
timeout is killed, which counts as another exit. SIGTERM (`rft down`) stops the children in
their stop groups' order and ends the supervisor.

The plan travels on stdin, not in a file: the environment may hold API keys.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar, Literal

import httpx
from pydantic import BaseModel, Field

from rft_runtime.kafka.broker import wait_for_port
from rft_runtime.processes import process_start_time
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger("rft.supervisor")


class SupervisorSettings(RuntimeSettings):
    service_env_prefix: ClassVar[str] = "RFT_SUPERVISOR_"

    backoff_initial_s: float = Field(
        default=1.0, gt=0, description="wait before the first restart of a child that exited"
    )
    backoff_max_s: float = Field(
        default=30.0, gt=0, description="the longest wait before a restart (the wait doubles)"
    )
    backoff_reset_after_s: float = Field(
        default=60.0, ge=0,
        description="a child that answered its probes this long waits backoff_initial_s again",
    )
    stop_timeout_s: float = Field(
        default=30.0, gt=0, description="SIGTERM, then SIGKILL after this, per stop group"
    )


class Probe(BaseModel):
    """Ready when a TCP connection to ``port`` opens, or GET ``path`` there answers 2xx."""

    kind: Literal["tcp", "http"]
    port: int
    path: str = "/healthz"

    def passes(self, timeout_s: float = 1.0) -> bool:
        if self.kind == "tcp":
            try:
                wait_for_port("127.0.0.1", self.port, 0)
            except TimeoutError:
                return False
            return True
        try:
            url = f"http://127.0.0.1:{self.port}{self.path}"
            return httpx.get(url, timeout=timeout_s).is_success
        except httpx.HTTPError:
            return False


class Child(BaseModel):
    name: str
    command: list[str]
    env: dict[str, str]
    log: str
    services: dict[str, int] = Field(description="what it serves (stack.json's names): port")
    probes: list[Probe]
    start_timeout_s: float
    stop_group: int = Field(description="stopped after every child of a lower group")


class Plan(BaseModel):
    state: Path
    children: list[Child]


class StackProcess(BaseModel):
    """One service of the stack as stack.json lists it; colocated services share a pid."""

    name: str
    pid: int
    started: float | None = None
    """The process's start time (rft_runtime.processes.process_start_time): a pid that another
    process holds now, after a reboot or a long time, is not stopped as if it were ours."""
    port: int
    log: str
    restarts: int = 0
    last_exit: str | None = None


class SupervisorProcess(BaseModel):
    pid: int
    started: float | None = None
    log: str


class StackState(BaseModel):
    status: Literal["starting", "ready", "failed", "stopping", "stopped"]
    reason: str | None = None
    supervisor: SupervisorProcess | None = None
    processes: list[StackProcess] = []


class StartFailed(RuntimeError):
    pass


class StopRequested(Exception):
    pass


def exit_description(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervised:
    """One child and what the supervisor knows of it."""

    def __init__(self, child: Child, backoff_s: float) -> None:
        self.child = child
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.healthy_since: float | None = None
        self.restart_at: float | None = None
        self.backoff_s = backoff_s
        self.restarts = 0
        self.last_exit: str | None = None

    def start(self) -> None:
        with open(self.child.log, "ab") as out:
            self.process = subprocess.Popen(
                self.child.command, stdout=out, stderr=out, env=self.child.env,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        self.healthy_since = None
        self.restart_at = None

    def healthy(self) -> bool:
        return all(probe.passes() for probe in self.child.probes)


class Supervisor:
    def __init__(self, plan: Plan, settings: SupervisorSettings, log_path: str) -> None:
        self.plan = plan
        self.settings = settings
        self.log_path = log_path
        self.children = [Supervised(c, settings.backoff_initial_s) for c in plan.children]
        self.stop_requested = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self.write_state("starting")
        try:
            for supervised in self.children:
                supervised.start()
                self.write_state("starting")
                self._wait_healthy(supervised)
        except StartFailed as failure:
            log.error("start failed: %s", failure)
            self.stop_children()
            self.write_state("failed", str(failure))
            return 1
        except StopRequested:
            log.info("stopped while starting")
            self.stop_children()
            self.write_state("stopped")
            return 0
        self.write_state("ready")
        log.info("ready: %s", ", ".join(
            f"{s.child.name} (pid {s.process.pid})" for s in self.children if s.process))
        while not self.stop_requested:
            self.watch()
            time.sleep(0.1)
        log.info("stopping")
        self.write_state("stopping")
        self.stop_children()
        self.write_state("stopped")
        log.info("stopped")
        return 0

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def _wait_healthy(self, supervised: Supervised) -> None:
        assert supervised.process is not None
        child = supervised.child
        deadline = time.monotonic() + child.start_timeout_s
        while not supervised.healthy():
            if self.stop_requested:
                raise StopRequested
            code = supervised.process.poll()
            if code is not None:
                raise StartFailed(f"{child.name} {exit_description(code)} before it answered "
                                  f"(log: {child.log})")
            if time.monotonic() > deadline:
                raise StartFailed(f"{child.name} did not answer within {child.start_timeout_s}s "
                                  f"(log: {child.log})")
            time.sleep(0.2)
        supervised.healthy_since = time.monotonic()

    def watch(self) -> None:
        """One look at every child: a probe for one that has not answered since it started,
        a restart scheduled for one that exited, a restart for one whose backoff is over."""
        now = time.monotonic()
        for s in self.children:
            assert s.process is not None
            code = s.process.poll()
            if code is None:
                if s.healthy_since is None:
                    self._check_restarted(s, now)
                continue
            if s.restart_at is None:
                self._schedule_restart(s, code, now)
            elif now >= s.restart_at:
                s.start()
                s.restarts += 1
                log.info("restarted %s (restart %d): pid %d", s.child.name, s.restarts,
                         s.process.pid)
                self.write_state("ready")

    def _check_restarted(self, s: Supervised, now: float) -> None:
        assert s.process is not None
        if s.healthy():
            s.healthy_since = time.monotonic()
            log.info("%s (pid %d) answers again", s.child.name, s.process.pid)
        elif now - s.started_at > s.child.start_timeout_s:
            log.warning("%s (pid %d) did not answer within %ss: killed", s.child.name,
                        s.process.pid, s.child.start_timeout_s)
            s.process.kill()

    def _schedule_restart(self, s: Supervised, code: int, now: float) -> None:
        assert s.process is not None
        settings = self.settings
        if s.healthy_since is not None and now - s.healthy_since >= settings.backoff_reset_after_s:
            s.backoff_s = settings.backoff_initial_s
        delay = s.backoff_s
        s.backoff_s = min(delay * 2, settings.backoff_max_s)
        s.restart_at = now + delay
        s.last_exit = exit_description(code)
        log.warning("%s (pid %d) %s after %.1fs; restarting in %.1fs", s.child.name,
                    s.process.pid, s.last_exit, now - s.started_at, delay)
        self.write_state("ready")

    def stop_children(self) -> None:
        """SIGTERM to each stop group at once, lowest first; SIGKILL to what still runs after
        ``stop_timeout_s``."""
        for group in sorted({s.child.stop_group for s in self.children}):
            running = [s.process for s in self.children
                       if s.child.stop_group == group and s.process is not None
                       and s.process.poll() is None]
            for process in running:
                process.terminate()
            deadline = time.monotonic() + self.settings.stop_timeout_s
            for process in running:
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def write_state(self, status: str, reason: str | None = None) -> None:
        processes = [
            StackProcess(name=name, pid=s.process.pid, started=process_start_time(s.process.pid),
                         port=port, log=s.child.log, restarts=s.restarts, last_exit=s.last_exit)
            for s in self.children if s.process is not None
            for name, port in s.child.services.items()
        ]
        state = StackState.model_validate({
            "status": status, "reason": reason, "processes": processes,
            "supervisor": SupervisorProcess(
                pid=os.getpid(), started=process_start_time(os.getpid()), log=self.log_path
            ),
        })
        # whole or not at all: `rft up` and `rft down` read it while it changes
        partial = self.plan.state.with_suffix(".json.tmp")
        partial.write_text(state.model_dump_json(indent=2))
        partial.replace(self.plan.state)


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per probe otherwise
    plan = Plan.model_validate_json(sys.stdin.buffer.read())
    log_path = sys.argv[1] if len(sys.argv) > 1 else ""
    return Supervisor(plan, SupervisorSettings(), log_path).run()


if __name__ == "__main__":
    sys.exit(main())
