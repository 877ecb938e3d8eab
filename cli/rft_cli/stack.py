"""`rft up` / `rft down`: the local streaming stack (broker + every service) as processes.

`rft up` plans the stack (each process's command line, environment, port and health probe, in
start order) and hands the plan to one detached supervisor (:mod:`rft_cli.supervisor`), which
starts the processes, restarts any that exits, and keeps their pids and ports in
``<data_dir>/stack.json``; `rft up` returns once the supervisor reports the stack ready.
`rft down` stops the supervisor, which stops the stack; and stops whatever stack.json still
lists if the supervisor itself is gone, and any process that carries the stack's mark in its
environment (MEMBER_MARK) but is listed nowhere. A pid is acted on only while the process that
holds it started when stack.json says (a pid recorded before a reboot may be another's now).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from rft_cli.supervisor import Child, Plan, Probe, StackProcess, StackState, SupervisorProcess
from rft_runtime.kafka.broker import LocalBroker, free_port
from rft_runtime.llm.local_server import LocalLLMServer, LocalServerError
from rft_runtime.processes import is_running, process_start_time
from rft_runtime.settings import RuntimeSettings

__all__ = ["StackError", "StackProcess", "down", "read_stack", "read_state", "up"]

# The streaming services, in pipeline order. Without a Qdrant server the three that share
# vectors run as one process (rft_cli.colocated): Qdrant Edge opens a directory once per process.
SEPARATE_SERVICES: tuple[str, ...] = ("sanitizer", "grader", "trainer-gateway")
VECTOR_SERVICES: tuple[str, ...] = ("embedder", "categorizer", "generator")
START_TIMEOUT_S = 300.0  # a first start converts the LLM checkpoint and exports the ONNX model
BROKER_START_TIMEOUT_S = 30.0
# The supervisor stops 4 groups (services, llm, broker, its storage), each within its
# stop_timeout_s (30 s by default), before `rft down` stops what is left itself.
SUPERVISOR_STOP_TIMEOUT_S = 150.0
STRAGGLER_STOP_TIMEOUT_S = 30.0
# Stop groups: the services first, all at once (each finishes and commits its batch), then the
# LLM, the broker, its storage last.
STOP_ORDER = ("llm", "broker", "broker-storage")
# In the environment of every process of the stack (and so of what they start): `rft down`
# finds by it a process stack.json does not list, such as a child the supervisor started and
# was killed before it could record (an OOM kill during a restart).
MEMBER_MARK = "RFT_STACK_MEMBER_OF"


def stop_group(name: str) -> int:
    """The supervisor's stop group of process ``name``: 0 for a service, then STOP_ORDER's."""
    return STOP_ORDER.index(name) + 1 if name in STOP_ORDER else 0


class StackError(RuntimeError):
    """Why `rft up` did not start the stack, in one line for the user."""


def state_path(settings: RuntimeSettings) -> Path:
    return settings.data_dir / "stack.json"


def read_stack(settings: RuntimeSettings) -> StackState | None:
    return _read(state_path(settings))


def _read(path: Path) -> StackState | None:
    """stack.json as it is now; None when there is none (or it is not one)."""
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if isinstance(raw, list):  # written by an `rft up` from before the supervisor
        return StackState(status="ready", processes=[StackProcess(**e) for e in raw])
    try:
        return StackState.model_validate(raw)
    except ValidationError:
        return None


def read_state(settings: RuntimeSettings) -> list[StackProcess]:
    """The stack's processes (not the supervisor), as stack.json lists them now."""
    stack = read_stack(settings)
    return stack.processes if stack else []


def alive(process: StackProcess | SupervisorProcess) -> bool:
    """Still the process stack.json recorded: running, not a zombie, and (where its start time
    was recorded) not another process that was given the same pid since."""
    return is_running(process.pid, process.started)


def members(settings: RuntimeSettings) -> set[int]:
    """The running processes that carry this stack's MEMBER_MARK (from /proc; none without it),
    whether stack.json lists them or not."""
    mark = f"{MEMBER_MARK}={settings.data_dir.resolve()}".encode() + b"\0"
    found: set[int] = set()
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes() + b"\0"
        except OSError:  # gone, or another user's
            continue
        if (environ.startswith(mark) or b"\0" + mark in environ) and is_running(pid):
            found.add(pid)
    return found


def up(settings: RuntimeSettings) -> list[StackProcess]:
    previous = read_stack(settings)
    running = []
    if previous is not None:
        running = [p.name for p in previous.processes if alive(p)]
        if previous.supervisor is not None and alive(previous.supervisor):
            running.insert(0, "supervisor")
    if running:
        raise StackError(f"the stack is already up ({', '.join(running)}); `rft down` first")
    # two brokers on one storage directory would both write it
    if left := members(settings):
        raise StackError(f"processes of an earlier stack still run (pids "
                         f"{', '.join(map(str, sorted(left)))}); `rft down` first")
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        planned = plan(settings, logs)
    except LocalServerError as error:
        raise StackError(str(error)) from error
    return supervise(planned, logs / "supervisor.log")


def plan(settings: RuntimeSettings, logs: Path) -> Plan:
    """Every process of the stack, in start order, with the environment and port it gets."""
    children: list[Child] = []
    env = {**os.environ, "RFT_DATA_DIR": str(settings.data_dir.resolve())}
    if not settings.kafka_bootstrap:
        # Durable: topics, records and committed offsets outlive a restart of the broker
        # (by the supervisor, or `rft down` / `rft up`) in <data_dir>/broker.
        broker = LocalBroker(log_path=logs / "broker.log", storage_dir=settings.data_dir / "broker")
        assert broker.storage_port is not None
        children.append(Child(
            name="broker-storage", command=broker.storage_command(), env=dict(os.environ),
            log=_log(logs, "broker"), services={"broker-storage": broker.storage_port},
            probes=[Probe(kind="tcp", port=broker.storage_port)],
            start_timeout_s=BROKER_START_TIMEOUT_S, stop_group=stop_group("broker-storage"),
        ))
        children.append(Child(
            name="broker", command=broker.broker_command(), env=broker.broker_env(),
            log=_log(logs, "broker"), services={"broker": broker.port},
            probes=[Probe(kind="tcp", port=broker.port)],
            start_timeout_s=BROKER_START_TIMEOUT_S, stop_group=stop_group("broker"),
        ))
        env["RFT_KAFKA_BOOTSTRAP"] = broker.bootstrap
    if not settings.llm_base_url:
        llm = LocalLLMServer(log_path=logs / "llm.log")
        llm.check_installed()
        children.append(Child(
            name="llm", command=llm.command(), env=llm.env(), log=_log(logs, "llm"),
            services={"llm": llm.port}, probes=[Probe(kind="http", port=llm.port, path="/health")],
            start_timeout_s=START_TIMEOUT_S, stop_group=stop_group("llm"),
        ))
        env["RFT_LLM_BASE_URL"] = llm.base_url
        env["RFT_LLM_BACKEND"] = "local"  # every service sizes its defaults for the CPU
    # Ports first: each service is told where the services it calls listen.
    ports = {name: free_port() for name in (*SEPARATE_SERVICES, *VECTOR_SERVICES, "console")}
    env.update(service_urls(ports))
    for name in SEPARATE_SERVICES:
        module = f"rft_{name.replace('-', '_')}"  # trainer-gateway: rft_trainer_gateway
        children.append(_service(name, [module], {"RFT_HTTP_PORT": name}, env, logs, ports))
    if settings.qdrant_url:
        for name in VECTOR_SERVICES:
            children.append(
                _service(name, [f"rft_{name}"], {"RFT_HTTP_PORT": name}, env, logs, ports))
    else:
        variables = {f"RFT_COLOCATED_{n.upper()}_PORT": n for n in VECTOR_SERVICES}
        children.append(
            _service("vector-services", ["rft_cli.colocated"], variables, env, logs, ports))
    # The web console last: it calls every service above, at the URLs console_urls gives.
    children.append(_service("console", ["rft_console"], {"RFT_HTTP_PORT": "console"},
                             {**env, **console_urls(ports)}, logs, ports))
    for child in children:
        child.env[MEMBER_MARK] = str(settings.data_dir.resolve())
    return Plan(state=state_path(settings), children=children)


def supervise(plan: Plan, log_path: Path) -> list[StackProcess]:
    """Start the supervisor of ``plan`` and wait until it reports the stack ready; if it fails
    (or this wait is interrupted), stop it and whatever it started, and raise with its reason."""
    plan.state.unlink(missing_ok=True)
    with open(log_path, "ab") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "rft_cli.supervisor", str(log_path)],
            stdin=subprocess.PIPE, stdout=out, stderr=out, start_new_session=True,
        )
    try:
        assert supervisor.stdin is not None
        supervisor.stdin.write(plan.model_dump_json().encode())
        supervisor.stdin.close()
        while True:
            state = _read(plan.state)
            if state is not None and state.status == "ready":
                return state.processes
            code = supervisor.poll()
            if code is not None or (state is not None and state.status == "failed"):
                supervisor.wait(SUPERVISOR_STOP_TIMEOUT_S)
                state = _read(plan.state)
                reason = state.reason if state is not None and state.reason else (
                    f"the supervisor exited with code {supervisor.returncode}")
                raise StackError(f"the stack did not start: {reason} "
                                   f"(supervisor log: {log_path})")
            time.sleep(0.2)
    except BaseException:
        _stop({(supervisor.pid, None)}, SUPERVISOR_STOP_TIMEOUT_S)  # our own child
        state = _read(plan.state)
        stop_processes(state.processes if state else [])
        plan.state.unlink(missing_ok=True)
        raise


def service_urls(ports: dict[str, int]) -> dict[str, str]:
    """The URLs services call each other at, as the cluster's Deployments set them: the
    generator reads the categorizer's records; the generator and the categorizer take their
    vectors from the embedder (they have no model; colocated, they share the process's), and so
    does the grader's ``cosine`` metric (without it each grader process would load a model of
    its own); the trainer gateway's journeys call the generator (step F) and the grader (G, H).
    (The grader's sandbox workers are forked by the grader here: no RFT_GRADER_SANDBOX_URL.)"""
    def url(name: str) -> str:
        return f"http://127.0.0.1:{ports[name]}"

    return {"RFT_GENERATOR_CATEGORIZER_URL": url("categorizer"),
            "RFT_CATEGORIZER_EMBEDDER_URL": url("embedder"),
            "RFT_GENERATOR_EMBEDDER_URL": url("embedder"),
            "RFT_GRADER_EMBEDDER_URL": url("embedder"),
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


def _service(
    process_name: str,
    module: list[str],
    port_variables: dict[str, str],
    env: dict[str, str],
    logs: Path,
    ports: dict[str, int],
) -> Child:
    """One process serving one or more services on their ``ports``; ready when each answers
    /healthz."""
    child_env = {**env, **{var: str(ports[svc]) for var, svc in port_variables.items()}}
    child_env["RFT_SERVICE_NAME"] = process_name
    return Child(
        name=process_name, command=[sys.executable, "-m", *module], env=child_env,
        log=_log(logs, process_name),
        services={svc: ports[svc] for svc in port_variables.values()},
        probes=[Probe(kind="http", port=ports[svc]) for svc in port_variables.values()],
        start_timeout_s=START_TIMEOUT_S, stop_group=stop_group(process_name),
    )


def stop_processes(processes: list[StackProcess], timeout_s: float = 30.0) -> None:
    """What the supervisor does on `rft down`, for when it is not there to: the services at
    once, then the LLM, the broker, its storage. Colocated services share a pid: it is stopped
    once."""
    _stop({(p.pid, p.started) for p in processes if p.name not in STOP_ORDER}, timeout_s)
    for name in STOP_ORDER:
        _stop({(p.pid, p.started) for p in processes if p.name == name}, timeout_s)


def _stop_supervisor(supervisor: SupervisorProcess) -> None:
    """SIGTERM: it stops its children, in order, and exits."""
    _stop({(supervisor.pid, supervisor.started)}, SUPERVISOR_STOP_TIMEOUT_S)


def _stop(processes: set[tuple[int, float | None]], timeout_s: float) -> None:
    """SIGTERM to each (pid, start time) still running as recorded, SIGKILL to those still
    running after ``timeout_s``. A pid that another process holds now is left alone, and so is
    one that a new process takes while we wait (each is followed by its start time)."""
    running = {pid: started if started is not None else process_start_time(pid)
               for pid, started in processes if is_running(pid, started)}
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in running:
            _reap(pid)
        running = {pid: started for pid, started in running.items()
                   if is_running(pid, started)}
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
    stack = read_stack(settings)
    if stack is not None:
        if stack.supervisor is not None:
            _stop_supervisor(stack.supervisor)
        # A supervisor killed, or one that gave up waiting on a child, leaves processes
        # running: those stack.json lists now (it records a restarted child's new pid)
        stack = read_stack(settings) or stack
        stop_processes(stack.processes)
    # and those it never recorded, by their mark
    unrecorded = [StackProcess(name="unrecorded", pid=pid, started=process_start_time(pid),
                               port=0, log="") for pid in sorted(members(settings))]
    _stop({(p.pid, p.started) for p in unrecorded}, STRAGGLER_STOP_TIMEOUT_S)
    state_path(settings).unlink(missing_ok=True)
    return (stack.processes if stack is not None else []) + unrecorded
