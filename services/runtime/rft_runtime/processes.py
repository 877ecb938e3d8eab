"""Child processes the platform starts on one machine (the broker, the local LLM server)."""

from __future__ import annotations

import signal
import socket
import subprocess
from types import TracebackType
from typing import Self


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
