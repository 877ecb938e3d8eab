"""Starts the local SmolLM2 server (package :mod:`rft_local_llm`, services/local-llm) in a
subprocess on loopback.

Used by `rft up`, by `rft run` when ``RFT_LLM_BASE_URL`` is unset, and by the test fixture.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from rft_runtime.llm.settings import LLMSettings
from rft_runtime.processes import ChildServer, free_port, stop_process

# The server is its own package (services/local-llm): torch and transformers stay out of
# rft-runtime, which only starts it.
SERVER_MODULE = "rft_local_llm"
SERVER_INSTALL_HINT = "pip install torch==2.13.0 -e services/local-llm (make install does)"


class LocalServerError(RuntimeError):
    pass


class LocalLLMServer(ChildServer):
    """``start()`` runs the server and waits for ``/health``; ``stop()`` ends it (TERM, then KILL).

    The child reads the same ``RFT_LLM_*`` settings (cache dir, batch size, threads) from the
    environment; pass ``settings`` to override them for this server alone.
    """

    def __init__(
        self,
        settings: LLMSettings | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.settings = settings or LLMSettings()
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float | None = None) -> str:
        deadline_s = timeout_s or self.settings.local_start_timeout_s
        self.check_installed()
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        began = time.monotonic()
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=log, start_new_session=True, env=self.env(),
        )
        try:
            self._wait_healthy(began + deadline_s)
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        return self.base_url

    def command(self) -> list[str]:
        """The server's command line on ``port``; with :meth:`env`, what starts it again."""
        return [sys.executable, "-m", SERVER_MODULE, "--host", self.host,
                "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # OpenMP threads that spin while waiting lose most of their time to barriers when the
        # CPU is shared (measured: 2 spinning threads decoded 5x slower than 1 on a busy box).
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        env.update(self._child_env())
        return env

    def check_installed(self) -> None:
        if importlib.util.find_spec(SERVER_MODULE) is None:
            raise LocalServerError(
                f"the local LLM server needs the package rft-local-llm: {SERVER_INSTALL_HINT}"
            )

    def _child_env(self) -> dict[str, str]:
        s = self.settings
        env = {
            "HF_HUB_OFFLINE": "1",  # the model ships in a package: never reach for a hub
            "RFT_LLM_MODEL": s.model,
            "RFT_LLM_CACHE_DIR": str(s.cache_dir),
            "RFT_LLM_LOCAL_MAX_BATCH": str(s.local_max_batch),
            "RFT_LLM_LOCAL_MAX_BATCH_TOKENS": str(s.local_max_batch_tokens),
            "RFT_LLM_LOCAL_BATCH_WINDOW_MS": str(s.local_batch_window_ms),
            "RFT_LLM_LOCAL_PREFIX_CACHE_TOKENS": str(s.local_prefix_cache_tokens),
        }
        if s.local_threads is not None:
            env["RFT_LLM_LOCAL_THREADS"] = str(s.local_threads)
        if s.local_deployed_models is not None:
            env["RFT_LLM_LOCAL_DEPLOYED_MODELS"] = str(s.local_deployed_models)
        return env

    def _wait_healthy(self, deadline: float) -> None:
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"local LLM server exited with code {self.process.returncode} before it "
                    f"was healthy{self._log_hint()}"
                )
            try:
                if httpx.get(f"http://{self.host}:{self.port}/health", timeout=1.0).is_success:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"local LLM server on {self.host}:{self.port} not healthy in time"
                    f"{self._log_hint()}"
                )
            time.sleep(0.2)

    def _log_hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.process, timeout_s)



@contextmanager
def llm_endpoint(settings: LLMSettings | None = None, log_path: Path | None = None) -> Iterator[
    LLMSettings
]:
    """Settings that point at a live endpoint: the configured one, else a local server started
    for the duration of the block (what `rft run` does when ``RFT_LLM_BASE_URL`` is unset)."""
    settings = settings or LLMSettings()
    if settings.base_url:
        yield settings
        return
    with LocalLLMServer(settings, log_path=log_path) as server:
        yield settings.pointed_at_local(server.base_url)
