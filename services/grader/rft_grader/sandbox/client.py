"""The caller's side of the python grader sandbox: one persistent worker process per grader.

A worker is started on first use and kept, so a sample costs one round trip over a pipe, not a
process start. Whatever goes wrong inside it (an exception, a timeout, a crash from a limit)
comes back as a :class:`SandboxOutcome` for that sample; a worker that timed out or died is
killed and the next sample starts a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

WORKER_PATH = Path(__file__).with_name("worker.py")
NOBODY = 65534

# What a grader may import. The modules of OpenAI's python grader image that are pure
# computation; file, process and network modules are left out on purpose.
DEFAULT_ALLOWED_IMPORTS = frozenset({
    "math", "cmath", "json", "re", "string", "statistics", "collections", "itertools",
    "functools", "operator", "difflib", "datetime", "decimal", "fractions", "random",
    "unicodedata", "typing", "dataclasses", "heapq", "bisect", "textwrap", "enum", "copy",
    "numbers", "jsonschema", "rapidfuzz",
})

ErrorKind = Literal["runtime", "bad_score", "timeout", "crashed", "invalid_source"]


@dataclass(frozen=True)
class SandboxLimits:
    wall_time_s: float = 5.0
    cpu_seconds_per_request: int = 2
    # The worker's lifetime CPU cap; it is recycled before reaching it.
    cpu_seconds_total: int = 3600
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20
    open_files: int = 64
    startup_timeout_s: float = 20.0
    allowed_imports: frozenset[str] = DEFAULT_ALLOWED_IMPORTS


@dataclass(frozen=True)
class SandboxOutcome:
    score: float | None = None
    error: ErrorKind | None = None
    detail: str | None = None


class _WorkerGone(Exception):
    pass


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    tmpdir: str
    layers: list[str] = field(default_factory=list)
    cpu_used: float = 0.0
    # The item the worker holds (as JSON) from the last request: a dry run grades k samples
    # of one prompt in a row, and the item (messages, tools) is most of each request's bytes.
    last_item: dict[str, Any] | None = None


def _signal_name(returncode: int | None) -> str:
    if returncode is None or returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    reason = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed", "SIGSEGV": "segfault",
              "SIGXFSZ": "file size limit"}.get(name, name)
    return f"{reason} ({name})"


class SandboxWorker:
    """Runs one grader source's ``grade(sample, item)`` in an isolated, limited process."""

    def __init__(self, source: str, limits: SandboxLimits | None = None) -> None:
        self.source = source
        self.limits = limits or SandboxLimits()
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._invalid_source: str | None = None
        self.starts = 0

    @property
    def layers(self) -> list[str]:
        """The isolation layers the running worker reported (empty before the first sample)."""
        return list(self._process.layers) if self._process else []

    def grade(self, sample: dict[str, Any], item: dict[str, Any]) -> SandboxOutcome:
        with self._lock:
            if self._invalid_source is not None:
                return SandboxOutcome(error="invalid_source", detail=self._invalid_source)
            try:
                process = self._process or self._start()
                if process is not None and not self._grant_cpu(process):
                    self._kill()
                    process = self._start()
            except _WorkerGone as exc:
                return SandboxOutcome(error="crashed", detail=str(exc))
            if process is None:
                return SandboxOutcome(error="invalid_source", detail=self._invalid_source)
            same_item = process.last_item is item
            try:
                request = _frame({"sample": sample, "same_item": same_item})
                if not same_item:
                    request += _frame(item)
            except (TypeError, ValueError) as exc:
                return SandboxOutcome(error="runtime", detail=f"sample or item not JSON: {exc}")
            process.last_item = item
            deadline = time.monotonic() + self.limits.wall_time_s
            try:
                _write(process.popen, request)
                reply = _read_frame(process.popen, deadline)
            except TimeoutError:
                self._kill()
                return SandboxOutcome(
                    error="timeout",
                    detail=f"grade() ran past its {self.limits.wall_time_s:g} s wall-clock limit",
                )
            except _WorkerGone:
                returncode = self._kill()
                return SandboxOutcome(
                    error="crashed", detail=f"grader process ended: {_signal_name(returncode)}"
                )
            cpu = reply.get("cpu")
            if isinstance(cpu, int | float):
                process.cpu_used = float(cpu)
            score = reply.get("score")
            if reply.get("ok") and isinstance(score, int | float) and not isinstance(score, bool):
                return SandboxOutcome(score=float(score))
            kind = reply.get("kind")
            if kind not in ("runtime", "bad_score"):
                # Only grader code could have forged this frame; trust it no further.
                self._kill()
                return SandboxOutcome(error="crashed", detail="grader process sent a bad reply")
            return SandboxOutcome(error=kind, detail=str(reply.get("detail")))

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __enter__(self) -> SandboxWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A grader dropped without close() must not leave a process behind.
        if self._process is not None:
            self._kill()

    def _grant_cpu(self, process: _Process) -> bool:
        """Set the worker's RLIMIT_CPU to its usage so far plus one request's budget.

        False when its lifetime cap is too close: the caller starts a fresh worker.
        """
        limits = self.limits
        soft = math.ceil(process.cpu_used) + limits.cpu_seconds_per_request
        if soft > limits.cpu_seconds_total:
            return False
        # Refused where the worker is not ours to change: the wall clock still holds.
        with contextlib.suppress(OSError):
            resource.prlimit(process.popen.pid, resource.RLIMIT_CPU,
                             (soft, limits.cpu_seconds_total))
        return True

    def _start(self) -> _Process | None:
        tmpdir = tempfile.mkdtemp(prefix="rft-grader-")
        if os.geteuid() == 0:
            os.chown(tmpdir, NOBODY, NOBODY)
        popen = subprocess.Popen(
            [sys.executable, "-I", "-B", str(WORKER_PATH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=tmpdir,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            start_new_session=True,
        )
        self.starts += 1
        process = _Process(popen=popen, tmpdir=tmpdir)
        self._process = process
        limits = self.limits
        init = {
            "tmpdir": tmpdir,
            "source": self.source,
            "allowed_imports": sorted(limits.allowed_imports),
            "limits": {
                "memory_bytes": limits.memory_bytes,
                "file_size_bytes": limits.file_size_bytes,
                "open_files": limits.open_files,
                "cpu_seconds_total": limits.cpu_seconds_total,
                "cpu_seconds_per_request": limits.cpu_seconds_per_request,
            },
        }
        deadline = time.monotonic() + limits.startup_timeout_s
        try:
            _write(popen, _frame(init))
            hello = _read_frame(popen, deadline)
        except (TimeoutError, _WorkerGone) as exc:
            returncode = self._kill()
            raise _WorkerGone(
                f"grader process did not start: {type(exc).__name__} {_signal_name(returncode)}"
            ) from exc
        if not hello.get("ready"):
            self._invalid_source = str(hello.get("error"))
            self._kill()
            return None
        process.layers = list(hello.get("layers", []))
        process.cpu_used = float(hello.get("cpu", 0.0))
        return process

    def _kill(self) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        popen = process.popen
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
        for stream in (popen.stdin, popen.stdout):
            if stream is not None:
                stream.close()
        returncode = popen.wait()
        shutil.rmtree(process.tmpdir, ignore_errors=True)
        return returncode


def _frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _write(popen: subprocess.Popen[bytes], data: bytes) -> None:
    assert popen.stdin is not None
    try:
        popen.stdin.write(data)
        popen.stdin.flush()
    except (BrokenPipeError, OSError) as exc:
        raise _WorkerGone(str(exc)) from exc


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            raise _WorkerGone("end of output")
        chunks += chunk
    return bytes(chunks)


def _read_frame(popen: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    assert popen.stdout is not None
    fd = popen.stdout.fileno()
    (length,) = struct.unpack(">I", _read_exact(fd, 4, deadline))
    try:
        reply = json.loads(_read_exact(fd, length, deadline))
    except ValueError as exc:
        raise _WorkerGone("malformed reply") from exc
    if not isinstance(reply, dict):
        raise _WorkerGone("malformed reply")
    return reply
