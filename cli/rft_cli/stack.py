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
from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.settings import RuntimeSettings

# The streaming services, in pipeline order. Without a Qdrant server the three that share
# vectors run as one process (rft_cli.colocated): Qdrant Edge opens a directory once per process.
SEPARATE_SERVICES: tuple[str, ...] = ("sanitizer", "grader", "trainer-gateway")
VECTOR_SERVICES: tuple[str, ...] = ("embedder", "categorizer", "generator")
START_TIMEOUT_S = 300.0  # a first start converts the LLM checkpoint and exports the ONNX model


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


def wait_healthy(
    url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process behind {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout_s}s")
        time.sleep(0.2)


def up(settings: RuntimeSettings) -> list[StackProcess]:
    running = [p for p in read_state(settings) if alive(p.pid)]
    if running:
        raise RuntimeError(
            f"the stack is already up ({', '.join(p.name for p in running)}); `rft down` first"
        )
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[StackProcess] = []
    env = {**os.environ, "RFT_DATA_DIR": str(settings.data_dir.resolve())}
    try:
        if not settings.kafka_bootstrap:
            # Durable: topics, records and committed offsets outlive a restart of the broker
            # (or of `rft down` / `rft up`) in <data_dir>/broker.
            broker = LocalBroker(
                log_path=logs / "broker.log", storage_dir=settings.data_dir / "broker"
            )
            env["RFT_KAFKA_BOOTSTRAP"] = broker.start()
            assert broker.process is not None and broker.storage_process is not None
            assert broker.storage_port is not None
            started.append(StackProcess(
                "broker-storage", broker.storage_process.pid, broker.storage_port,
                _log(logs, "broker"),
            ))
            started.append(
                StackProcess("broker", broker.process.pid, broker.port, _log(logs, "broker"))
            )
        if not settings.llm_base_url:
            llm = LocalLLMServer(log_path=logs / "llm.log")
            env["RFT_LLM_BASE_URL"] = llm.start(START_TIMEOUT_S)
            env["RFT_LLM_BACKEND"] = "local"  # every service sizes its defaults for the CPU
            assert llm.process is not None
            started.append(StackProcess("llm", llm.process.pid, llm.port, _log(logs, "llm")))
        # Ports first: each service is told where the services it calls listen.
        ports = {name: free_port() for name in (*SEPARATE_SERVICES, *VECTOR_SERVICES)}
        env.update(service_urls(ports))
        for name in SEPARATE_SERVICES:
            module = f"rft_{name.replace('-', '_')}"  # trainer-gateway: rft_trainer_gateway
            started += _start(name, [module], {"RFT_HTTP_PORT": name}, env, logs, ports)
        if settings.qdrant_url:
            for name in VECTOR_SERVICES:
                started += _start(name, [f"rft_{name}"], {"RFT_HTTP_PORT": name}, env, logs,
                                  ports)
        else:
            variables = {f"RFT_COLOCATED_{n.upper()}_PORT": n for n in VECTOR_SERVICES}
            started += _start("vector-services", ["rft_cli.colocated"], variables, env, logs,
                              ports)
        # The web console last: it calls every service above, at the URLs console_urls gives.
        ports["console"] = free_port()
        started += _start("console", ["rft_console"], {"RFT_HTTP_PORT": "console"},
                          {**env, **console_urls(ports)}, logs, ports)
    except Exception:
        stop_processes(started)
        raise
    finally:
        state_path(settings).write_text(json.dumps([asdict(p) for p in started], indent=2))
    return started


def service_urls(ports: dict[str, int]) -> dict[str, str]:
    """The URLs services call each other at: the generator reads the categorizer's records; the
    generator and the categorizer take their vectors from the embedder (they have no model;
    colocated, they share the process's); the trainer gateway's journeys call the generator
    (step F) and the grader (G, H)."""
    def url(name: str) -> str:
        return f"http://127.0.0.1:{ports[name]}"

    return {"RFT_GENERATOR_CATEGORIZER_URL": url("categorizer"),
            "RFT_CATEGORIZER_EMBEDDER_URL": url("embedder"),
            "RFT_GENERATOR_EMBEDDER_URL": url("embedder"),
            "RFT_TRAINER_GENERATOR_URL": url("generator"),
            "RFT_TRAINER_GRADER_URL": url("grader")}


def console_urls(ports: dict[str, int]) -> dict[str, str]:
    """Where the console (rft_console.settings) finds each service it calls."""
    names = {"sanitizer": "sanitizer", "categorizer": "categorizer", "generator": "generator",
             "grader": "grader", "gateway": "trainer-gateway"}
    return {f"RFT_CONSOLE_{key.upper()}_URL": f"http://127.0.0.1:{ports[name]}"
            for key, name in names.items()}


def _log(logs: Path, name: str) -> str:
    return str(logs / f"{name}.log")


def _start(
    process_name: str,
    module: list[str],
    port_variables: dict[str, str],
    env: dict[str, str],
    logs: Path,
    ports: dict[str, int],
) -> list[StackProcess]:
    """Start one process serving one or more services on their ``ports``; wait until each
    answers /healthz."""
    child_env = {**env, **{var: str(ports[svc]) for var, svc in port_variables.items()}}
    child_env["RFT_SERVICE_NAME"] = process_name
    with open(_log(logs, process_name), "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *module],
            stdout=out, stderr=out, env=child_env, start_new_session=True,
        )
    entries = [StackProcess(svc, process.pid, ports[svc], _log(logs, process_name))
               for svc in port_variables.values()]
    for entry in entries:
        wait_healthy(f"http://127.0.0.1:{entry.port}/healthz", START_TIMEOUT_S, process)
    return entries


def stop_processes(processes: list[StackProcess], timeout_s: float = 30.0) -> None:
    # The services first, all at once (each finishes and commits its batch), then the LLM, the
    # broker, its storage last. Colocated services share a pid: it is stopped once.
    last = ("llm", "broker", "broker-storage")
    _stop({p.pid for p in processes if p.name not in last}, timeout_s)
    for name in last:
        _stop({p.pid for p in processes if p.name == name}, timeout_s)


def _stop(pids: set[int], timeout_s: float) -> None:
    """SIGTERM to each, SIGKILL to those still running after ``timeout_s``."""
    running = {pid for pid in pids if alive(pid)}
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in running:
            _reap(pid)
        running = {pid for pid in running if alive(pid)}
        if not running:
            return
        time.sleep(0.1)
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    # A stack started by this very process leaves zombies until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def down(settings: RuntimeSettings) -> list[StackProcess]:
    processes = read_state(settings)
    stop_processes(processes)
    state_path(settings).unlink(missing_ok=True)
    return processes
