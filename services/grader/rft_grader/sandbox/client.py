"""The caller's side of the python grader sandbox: one persistent worker process per grader.

A worker is started on first use and kept; it confines itself (see ``worker.py`` and
``confinement.py``) and forks a fresh, further confined process per sample, so a sample costs
one round trip over a pipe and a fork, not an interpreter start. Whatever goes wrong in a
sample (an exception, a timeout, a crash from a limit) comes back as a :class:`SandboxOutcome`
for that sample. Each reply carries the request's sequence number and comes on a pipe no
grader code holds; a reply that is malformed, too large or not the one asked for kills the
worker, and the next sample starts a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
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
from typing import Any, Literal, cast, get_args

WORKER_PATH = Path(__file__).with_name("worker.py")
NOBODY = 65534
# A reply is a score or an error detail of at most a few KiB: a longer frame is refused unread.
MAX_REPLY_BYTES = 1 << 20
# The worker answers a timed-out sample itself at the wall-clock limit; past it by this much,
# the worker itself is taken to hang and killed. Generous: on a loaded machine the fork, the
# kill and the reply each wait for a CPU.
REPLY_GRACE_S = 5.0
# The worker's environment: nothing of the service's (tokens, URLs) crosses over.
WORKER_ENV = {"LC_ALL": "C.UTF-8"}

log = logging.getLogger(__name__)

# What a grader may import. The modules of OpenAI's python grader image that are pure
# computation; file, process and network modules are left out on purpose.
DEFAULT_ALLOWED_IMPORTS = frozenset({
    "math", "cmath", "json", "re", "string", "statistics", "collections", "itertools",
    "functools", "operator", "difflib", "datetime", "decimal", "fractions", "random",
    "unicodedata", "typing", "dataclasses", "heapq", "bisect", "textwrap", "enum", "copy",
    "numbers", "jsonschema", "rapidfuzz",
})

ErrorKind = Literal["runtime", "bad_score", "timeout", "crashed", "invalid_source",
                    "unavailable"]
_SAMPLE_KINDS = frozenset(get_args(ErrorKind))


@dataclass(frozen=True)
class SandboxLimits:
    wall_time_s: float = 5.0
    cpu_seconds_per_request: int = 2
    # The worker's own lifetime CPU cap (it runs no grader code; each sample process has its
    # own clock, capped at cpu_seconds_per_request).
    cpu_seconds_total: int = 3600
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20
    open_files: int = 64
    startup_timeout_s: float = 20.0
    allowed_imports: frozenset[str] = DEFAULT_ALLOWED_IMPORTS
    # Who the worker becomes when the service runs as root.
    uid: int = NOBODY
    gid: int = NOBODY
    # False only by an explicit setting, for kernels without Landlock (gVisor, old kernels):
    # the file system is then guarded by the uid, seccomp and the audit hook alone.
    require_landlock: bool = True
    # The second layer; off only in tests that show what the kernel layers hold on their own.
    audit_hook: bool = True
    # Imported by the worker before it confines itself, outside the allowlist: for tests that
    # show the kernel stopping what grader code does with a module it reached past the
    # allowlist, where the sandbox uid could not load the module's file itself.
    preload_modules: frozenset[str] = frozenset()


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
    seq: int = 0
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
        # A source that does not load, or a sandbox that cannot be built: every sample fails.
        self._refusal: SandboxOutcome | None = None
        self.starts = 0

    @property
    def layers(self) -> list[str]:
        """The isolation layers the running worker reported (empty before the first sample)."""
        return list(self._process.layers) if self._process else []

    def grade(self, sample: dict[str, Any], item: dict[str, Any]) -> SandboxOutcome:
        with self._lock:
            if self._refusal is not None:
                return self._refusal
            try:
                process = self._process or self._start()
            except _WorkerGone as exc:
                return SandboxOutcome(error="crashed", detail=str(exc))
            if process is None:
                assert self._refusal is not None
                return self._refusal
            same_item = process.last_item is item
            process.seq += 1
            try:
                request = _frame({"seq": process.seq, "same_item": same_item}) + _frame(sample)
                if not same_item:
                    request += _frame(item)
            except (TypeError, ValueError) as exc:
                return SandboxOutcome(error="runtime", detail=f"sample or item not JSON: {exc}")
            process.last_item = item
            deadline = time.monotonic() + self.limits.wall_time_s + REPLY_GRACE_S
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
            return self._outcome(reply, process.seq)

    def _outcome(self, reply: dict[str, Any], seq: int) -> SandboxOutcome:
        if reply.get("seq") != seq:
            # A reply to another request: the worker and this side disagree on what was asked.
            self._kill()
            return SandboxOutcome(error="crashed", detail="grader process answered out of turn")
        score = reply.get("score")
        if reply.get("ok") is True:
            if (isinstance(score, int | float) and not isinstance(score, bool)
                    and math.isfinite(score)):
                return SandboxOutcome(score=float(score))
        elif (kind := reply.get("kind")) in _SAMPLE_KINDS:
            return SandboxOutcome(error=cast(ErrorKind, kind), detail=str(reply.get("detail")))
        self._kill()
        return SandboxOutcome(error="crashed", detail="grader process sent a bad reply")

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

    def _start(self) -> _Process | None:
        limits = self.limits
        tmpdir = tempfile.mkdtemp(prefix="rft-grader-")
        if os.geteuid() == 0:
            os.chown(tmpdir, limits.uid, limits.gid)
        popen = subprocess.Popen(
            [sys.executable, "-I", "-B", str(WORKER_PATH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=tmpdir,
            env=WORKER_ENV,
            close_fds=True,
            start_new_session=True,
        )
        self.starts += 1
        process = _Process(popen=popen, tmpdir=tmpdir)
        self._process = process
        init = {
            "tmpdir": tmpdir,
            "source": self.source,
            "allowed_imports": sorted(limits.allowed_imports),
            "wall_time_s": limits.wall_time_s,
            "uid": limits.uid,
            "gid": limits.gid,
            "require_landlock": limits.require_landlock,
            "audit_hook": limits.audit_hook,
            "preload_modules": sorted(limits.preload_modules),
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
            kind: ErrorKind = ("unavailable" if hello.get("kind") == "unavailable"
                               else "invalid_source")
            self._refusal = SandboxOutcome(error=kind, detail=str(hello.get("error")))
            if kind == "unavailable":
                log.error("python grader sandbox refused to start: %s", hello.get("error"))
            self._kill()
            return None
        process.layers = [str(layer) for layer in hello.get("layers", [])]
        if "landlock_fs" not in process.layers:
            log.warning("python grader sandbox runs WITHOUT Landlock (allowed by "
                        "RFT_GRADER_SANDBOX_ALLOW_WITHOUT_LANDLOCK); layers: %s",
                        ", ".join(process.layers))
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
            # Closing stdin flushes what a write to the dead worker left buffered: that
            # BrokenPipeError is the death already being handled.
            if stream is not None:
                with contextlib.suppress(OSError):
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
    if length > MAX_REPLY_BYTES:
        raise _WorkerGone(f"reply of {length} bytes")
    try:
        reply = json.loads(_read_exact(fd, length, deadline))
    except ValueError as exc:
        raise _WorkerGone("malformed reply") from exc
    if not isinstance(reply, dict):
        raise _WorkerGone("malformed reply")
    return reply
