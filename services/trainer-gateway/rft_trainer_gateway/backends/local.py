"""The ``trl`` backend: TRL's GRPOTrainer in a child process of the gateway (or of `rft train`).

A child, not a thread: a crash or an out-of-memory kill of the training cannot take the gateway
down, and a cancel is a signal the child turns into a stop at the next step boundary.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from rft_runtime.processes import is_running, process_start_time
from rft_schemas import TrainingBackendName, TrainingJob
from rft_trainer_gateway.backends.base import RunHandle
from rft_trainer_gateway.job_files import JobFiles


class LocalTrlBackend:
    name = TrainingBackendName.TRL

    def __init__(self, python: str = sys.executable, extra_env: dict[str, str] | None = None,
                 module: str = "rft_trainer_gateway.worker"):
        self.python = python
        self.extra_env = extra_env or {}
        self.module = module  # the training entrypoint, run as `python -m <module> JOB_DIR`
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def launch(self, job: TrainingJob, files: JobFiles, resume_from: Path | None) -> RunHandle:
        files.cancel_flag.unlink(missing_ok=True)
        command = [self.python, "-m", self.module, str(files.root)]
        if resume_from is not None:
            command += ["--resume-from", str(resume_from)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "OMP_WAIT_POLICY": "PASSIVE", **self.extra_env}
        with files.worker_log.open("ab") as log:
            child = subprocess.Popen(
                command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # a Ctrl-C in the terminal reaches it only through us
            )
        self._children[child.pid] = child
        return RunHandle(backend=self.name, pid=child.pid,
                         process_start=process_start_time(child.pid))

    def alive(self, handle: RunHandle) -> bool:
        if handle.pid is None:
            return False
        child = self._children.get(handle.pid)
        if child is not None:
            return child.poll() is None
        # A process this gateway did not start (it restarted since): the same pid with the
        # same start time is the same process; a zombie is not alive.
        if handle.process_start is None:
            return False
        return is_running(handle.pid, handle.process_start)

    def exit_code(self, handle: RunHandle) -> int | None:
        child = self._children.get(handle.pid or -1)
        return None if child is None else child.poll()

    def cancel(self, handle: RunHandle, files: JobFiles) -> None:
        files.cancel_flag.touch()
        self._signal(handle, signal.SIGTERM)

    def kill(self, handle: RunHandle) -> None:
        self._signal(handle, signal.SIGKILL)

    def _signal(self, handle: RunHandle, signum: int) -> None:
        if handle.pid is not None and self.alive(handle):
            with contextlib.suppress(ProcessLookupError):
                os.kill(handle.pid, signum)
