"""Child processes the platform starts on one machine (the broker, the local LLM server)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (field 3, the state, first), or None
    (no such process, or no /proc). The command name may hold spaces and parentheses: the
    fields start after its last ')'."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> float | None:
    """The process's start in clock ticks since boot (/proc/<pid>/stat field 22), or None
    (no such process, or no /proc)."""
    fields = _stat_fields(pid)
    return float(fields[19]) if fields else None


def is_running(pid: int, started: float | None = None) -> bool:
    """``pid`` runs and is not a zombie (an exited child not yet reaped by its parent). With
    ``started`` (its :func:`process_start_time` when it was recorded), it must also be the
    same process: after a reboot or a long time a recorded pid may belong to another one."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    fields = _stat_fields(pid)
    if not fields:
        return True  # no /proc to ask: it exists, as far as we can tell
    if started is not None and float(fields[19]) != started:
        return False
    return fields[0] != "Z"


def stop_process(
    process: subprocess.Popen[bytes] | None,
    timeout_s: float = 10.0,
    first_signal: signal.Signals = signal.SIGTERM,
) -> None:
    """``first_signal``, then SIGKILL if it has not exited within ``timeout_s``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(first_signal)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ChildServer:
    """A server run as a child process: ``with`` starts it and stops it (start/stop below)."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
