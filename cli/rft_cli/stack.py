"""`rft up` / `rft down`: the local streaming stack (broker + every service) as processes.

The stack's processes outlive the command that started them; their pids and ports are kept in
``<data_dir>/stack.json`` so `rft down` (or a later `rft up`) finds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from rft_runtime.kafka.broker import LocalBroker, free_port
from rft_runtime.settings import RuntimeSettings

# Services that run a Kafka stage today, in pipeline order; later issues add theirs here.
STREAMING_SERVICES: tuple[str, ...] = ("sanitizer",)


@dataclass
class StackProcess:
    name: str
    pid: int
    port: int
    log: str


def state_path(settings: RuntimeSettings) -> Path:
    return settings.data_dir / "stack.json"


def read_state(settings: RuntimeSettings) -> list[StackProcess]:
    path = state_path(settings)
    if not path.is_file():
        return []
    return [StackProcess(**entry) for entry in json.loads(path.read_text())]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_healthy(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout_s}s")
        time.sleep(0.2)


def up(settings: RuntimeSettings, services: tuple[str, ...] = STREAMING_SERVICES) -> list[
    StackProcess
]:
    running = [p for p in read_state(settings) if alive(p.pid)]
    if running:
        raise RuntimeError(
            f"the stack is already up ({', '.join(p.name for p in running)}); `rft down` first"
        )
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[StackProcess] = []
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        broker = LocalBroker(log_path=logs / "broker.log")
        bootstrap = broker.start()
        assert broker.process is not None
        started.append(
            StackProcess("broker", broker.process.pid, broker.port, str(broker.log_path))
        )
    try:
        for name in services:
            port = free_port()
            log_file = logs / f"{name}.log"
            env = {
                **os.environ,
                "RFT_KAFKA_BOOTSTRAP": bootstrap,
                "RFT_HTTP_PORT": str(port),
                "RFT_DATA_DIR": str(settings.data_dir.resolve()),
                "RFT_SERVICE_NAME": name,
            }
            with open(log_file, "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", f"rft_{name.replace('-', '_')}"],
                    stdout=out, stderr=out, env=env, start_new_session=True,
                )
            started.append(StackProcess(name, process.pid, port, str(log_file)))
            wait_healthy(f"http://127.0.0.1:{port}/healthz", 60)
    except Exception:
        stop_processes(started)
        raise
    finally:
        state_path(settings).write_text(json.dumps([asdict(p) for p in started], indent=2))
    return started


def stop_processes(processes: list[StackProcess], timeout_s: float = 30.0) -> None:
    # Services first (they finish and commit their batch), the broker last.
    for process in sorted(processes, key=lambda p: p.name == "broker"):
        if not alive(process.pid):
            continue
        os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while alive(process.pid) and time.monotonic() < deadline:
            _reap(process.pid)
            time.sleep(0.1)
        if alive(process.pid):
            os.kill(process.pid, signal.SIGKILL)
            _reap(process.pid)


def _reap(pid: int) -> None:
    # A stack started by this very process leaves zombies until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def down(settings: RuntimeSettings) -> list[StackProcess]:
    processes = read_state(settings)
    stop_processes(processes)
    state_path(settings).unlink(missing_ok=True)
    return processes
