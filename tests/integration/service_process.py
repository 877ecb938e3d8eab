"""A platform service run as its own process (``python -m <package>``) on a free port, as
`rft up` and Kubernetes start it: ready when GET /readyz answers 200."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

import httpx

from rft_runtime.kafka.broker import free_port


class ServiceProcess:
    def __init__(self, module: str, env: Mapping[str, str], ready_within: float = 60.0) -> None:
        self.module = module
        self.port = free_port()
        self.env = {**os.environ, **env, "RFT_HTTP_PORT": str(self.port)}
        self.ready_within = ready_within
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant
            [sys.executable, "-m", self.module], env=self.env
        )
        deadline = time.monotonic() + self.ready_within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert self.process.poll() is None, f"the {self.module} service exited"
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the {self.module} service never became ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, as Kubernetes stops a pod; the exit code (None if it never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)
