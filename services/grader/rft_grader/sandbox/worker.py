"""The python grader's sandbox process: runs one grader's ``grade(sample, item)`` per request.

Started by :mod:`rft_grader.sandbox.client` as ``python -I -B worker.py`` with an empty
environment and no descriptors but its stdin and stdout pipes. Frames on those pipes: a
4-byte big-endian length, then UTF-8 JSON.

This process (the *worker*) never runs grader code. It confines itself once, then forks one
*sample process* per request, which confines itself further and runs the grader's source and
``grade()``; the worker reads that process's one result from a pipe of its own, checks it, and
answers the parent with the request's sequence number. Grader code never holds the descriptor
the parent reads, so it can neither forge a reply nor leave one behind for the next sample.

Layers, outermost first (each stops what the ones inside it miss):
1. the parent: a wall-clock deadline per reply, then it kills the process group;
2. when started as root: the configured uid (``nobody``), no supplementary groups;
3. Landlock (kernel): read only the interpreter's library dirs and the system's shared
   libraries, write only the sample's own directory; no TCP bind or connect (ABI 4+); no
   signals or abstract unix sockets out of the domain (ABI 6+). The sample process enters a
   nested domain, so it cannot signal or ptrace the worker either;
4. seccomp (kernel): no sockets, exec, ptrace, mounts, namespaces, keys, BPF, io_uring ...;
   in the sample process also no fork, threads or signals to other processes;
5. rlimits: address space, CPU seconds per sample, file size, no new processes, few fds;
6. a PEP 578 audit hook (second layer: it reports a refusal early and clearly, the kernel
   enforces it);
7. builtins whose ``__import__`` admits only an allowlist of modules.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import importlib.util
import json
import math
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# Run as a script with -I (no script dir on sys.path): load the sibling module by its path.
_spec = importlib.util.spec_from_file_location(
    "rft_sandbox_confinement", Path(__file__).with_name("confinement.py"))
assert _spec is not None and _spec.loader is not None
confinement = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(confinement)

# The sample process's result: a score or an error detail (cut to 2,000 characters) is far
# below this; anything larger is refused unread.
MAX_RESULT_BYTES = 64 << 10

# Audit events refused outright, whatever their arguments.
BLOCKED_EVENT_PREFIXES = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "os.setuid", "os.setgid",
    "ctypes.", "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sys.addaudithook", "pty.", "webbrowser.", "urllib.Request",
    "http.client.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
    "sys._current_frames", "signal.pthread_kill", "mmap.",
)
# Events whose path arguments may read anywhere allowed; every other path event writes.
READ_EVENTS = frozenset({"os.listdir", "os.scandir", "glob.glob", "glob.glob/2"})
PATH_EVENTS = frozenset({
    "os.remove", "os.rename", "os.replace", "os.mkdir", "os.rmdir", "os.chmod", "os.chown",
    "os.link", "os.symlink", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.chdir",
    "os.chroot", "os.mkfifo", "os.mknod", "os.setxattr", "os.removexattr", "os.listxattr",
    "os.getxattr", "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
    "shutil.rmtree", "shutil.move", "shutil.chown", "shutil.make_archive", "shutil.unpack_archive",
})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def read_frame(fd: int) -> Any:
    body = read_raw_frame(fd)
    return None if body is None else json.loads(body)


def read_raw_frame(fd: int) -> bytes | None:
    header = _read_exact(fd, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    return _read_exact(fd, length)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = os.read(fd, min(n - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


def set_worker_limits(limits: dict[str, int]) -> None:
    for name, value in (
        ("RLIMIT_AS", limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_size_bytes"]),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_CPU", limits["cpu_seconds_total"]),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))


def set_sample_limits(limits: dict[str, int]) -> None:
    cpu = limits["cpu_seconds_per_request"]
    # SIGXCPU at the soft limit; SIGKILL one second later if grader code catches it.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _exact_path(path: Any) -> str | None:
    """``path`` as a plain str without calling any of its methods, or None if it is no str or
    bytes. A path-like object's ``__fspath__`` is grader code: calling it from the hook let it
    answer differently to the hook and to the open, and walk up to the hook's frame."""
    if isinstance(path, str):
        return str.__getitem__(path, slice(None))
    if isinstance(path, bytes):
        return bytes.__getitem__(path, slice(None)).decode("utf-8", "surrogateescape")
    return None


def make_audit_hook(tmpdir: str, read_roots: tuple[str, ...]) -> Any:
    write_roots = (tmpdir,)
    all_roots = (tmpdir, *read_roots)
    # Bound now: grader code can rebind this module's globals and os.path's functions (it
    # reaches both through sys.modules), which switched the old hook off. What realpath calls
    # inside posixpath stays patchable: this is a tripwire, the kernel is the boundary.
    blocked, read_events, path_events = BLOCKED_EVENT_PREFIXES, READ_EVENTS, PATH_EVENTS
    realpath, isabs, sep, write_flags = os.path.realpath, os.path.isabs, os.sep, WRITE_FLAGS
    exact_path = _exact_path

    def inside(path: Any, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            # An already-open descriptor (os.fdopen and friends): nothing new is reached.
            return True
        text = exact_path(path)
        if text is None:
            return False
        # A relative path is resolved by the kernel against a dir_fd the hook never sees, so
        # it may not climb: '..' is refused outright (the dir_fd escape).
        if not isabs(text) and ".." in text.split(sep):
            return False
        real = realpath(text)
        return any(real == root or real.startswith(root + sep) for root in roots)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(blocked):
            raise PermissionError(f"sandbox: {event} is not allowed in a python grader")
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags
            )
            if not inside(path, write_roots if writes else all_roots):
                raise PermissionError("sandbox: no access to that path from a python grader")
        elif event in read_events:
            if args[0] is not None and not inside(args[0], all_roots):
                raise PermissionError("sandbox: no access to that path from a python grader")
        elif event in path_events:
            paths = [a for a in args if not isinstance(a, int) and a is not None]
            if any(not inside(a, write_roots) for a in paths):
                raise PermissionError(f"sandbox: {event} outside the sample's directory")

    return hook


def preload_imports(source: str, allowed: frozenset[str]) -> None:
    """Import the allowed modules the source names while the interpreter's files are readable.

    Once the process is ``nobody``, an interpreter installed under a private home (pyenv in
    /root) cannot read its own library, so what the grader needs is loaded first.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    for name in sorted(names):
        if name.split(".")[0] in allowed:
            # ``from x import function`` names no module; the grader's own import decides.
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def restricted_builtins(allowed: frozenset[str]) -> dict[str, Any]:
    real_import = builtins.__import__

    def guarded_import(name: str, globals: Any = None, locals: Any = None,
                       fromlist: Any = (), level: int = 0) -> Any:
        top = name.split(".")[0]
        if level != 0 or top not in allowed:
            raise ImportError(f"import of {name!r} is not allowed in a python grader")
        return real_import(name, globals, locals, fromlist, level)

    safe = dict(vars(builtins))
    for name in ("breakpoint", "input", "help", "exit", "quit", "copyright", "credits",
                 "license"):
        safe.pop(name, None)
    safe["__import__"] = guarded_import
    return safe


def error_detail(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<grader>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:2000] + where


def signal_detail(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        reason = {"SIGXCPU": "CPU time limit", "SIGKILL": "killed", "SIGSEGV": "segfault",
                  "SIGXFSZ": "file size limit", "SIGSYS": "refused system call"}.get(name, name)
        return f"{reason} ({name})"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class Worker:
    def __init__(self, init: dict[str, Any], out_fd: int) -> None:
        self.out_fd = out_fd
        self.tmpdir = os.path.realpath(init["tmpdir"])
        self.limits: dict[str, int] = init["limits"]
        self.wall_time_s = float(init["wall_time_s"])
        self.audit_hook = bool(init["audit_hook"])
        self.allowed = frozenset(init["allowed_imports"])
        self.builtins = restricted_builtins(self.allowed)
        self.layers: list[str] = []
        self.landlock_abi = 0
        self.root_fds: list[int] = []
        self.read_roots: tuple[str, ...] = ()
        self.samples = 0

    def confine(self, init: dict[str, Any]) -> None:
        """Apply every layer to this process, or raise ConfinementError."""
        self.read_roots = confinement.readable_roots()
        self.root_fds = confinement.open_roots(self.read_roots)
        tmp_fd = os.open(self.tmpdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if confinement.drop_uid(init["uid"], init["gid"]):
            self.layers.append("uid")
        confinement.set_no_new_privs()
        abi, why = confinement.landlock_abi()
        if abi >= 1:
            self.layers += confinement.restrict_landlock(abi, self.root_fds, tmp_fd)
            self.landlock_abi = abi
        elif init["require_landlock"]:
            raise confinement.ConfinementError(
                f"Landlock is not available on this kernel ({why or 'no Landlock'}); set "
                "RFT_GRADER_SANDBOX_ALLOW_WITHOUT_LANDLOCK=true to run python graders without it")
        os.close(tmp_fd)
        try:
            set_worker_limits(self.limits)
        except (OSError, ValueError) as exc:
            raise confinement.ConfinementError(f"rlimits could not be set: {exc}") from exc
        self.layers.append("rlimits")
        confinement.apply_worker_seccomp()
        self.layers.append("seccomp")
        if self.audit_hook:
            self.layers.append("audit_hook")

    def run_sample(self, code: Any, sample: bytes | None, item: bytes | None) -> dict[str, Any]:
        """Run the grader in a fresh sample process; with ``sample`` None, only load it."""
        self.samples += 1
        sample_dir = os.path.join(self.tmpdir, str(self.samples))
        os.mkdir(sample_dir, 0o700)
        try:
            return self._fork_and_wait(code, sample, item, sample_dir)
        finally:
            shutil.rmtree(sample_dir, ignore_errors=True)

    def _fork_and_wait(self, code: Any, sample: bytes | None, item: bytes | None,
                       sample_dir: str) -> dict[str, Any]:
        dir_fd = os.open(sample_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (dir_fd, read_end, write_end):
                os.close(fd)
            return {"ok": False, "kind": "crashed", "detail": f"no sample process: {exc}"}
        if pid == 0:
            os.close(read_end)
            self._sample_process(code, sample, item, sample_dir, dir_fd, write_end)
        os.close(write_end)
        os.close(dir_fd)
        try:
            return self._collect(pid, read_end)
        finally:
            os.close(read_end)

    def _collect(self, pid: int, read_end: int) -> dict[str, Any]:
        deadline = time.monotonic() + self.wall_time_s
        pidfd = os.pidfd_open(pid)
        data = bytearray()
        open_pipe = True
        try:
            while True:
                waiting = [pidfd] + ([read_end] if open_pipe else [])
                remaining = deadline - time.monotonic()
                ready = select.select(waiting, [], [], max(remaining, 0))[0] if remaining > 0 \
                    else []
                if not ready:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    return {"ok": False, "kind": "timeout", "detail":
                            f"grade() ran past its {self.wall_time_s:g} s wall-clock limit"}
                if read_end in ready:
                    chunk = os.read(read_end, MAX_RESULT_BYTES + 1)
                    if not chunk:
                        open_pipe = False
                    data += chunk
                    if len(data) > MAX_RESULT_BYTES:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        return {"ok": False, "kind": "crashed",
                                "detail": "grader process sent more than one reply"}
                if pidfd in ready:
                    _, status = os.waitpid(pid, 0)
                    with contextlib.suppress(BlockingIOError):
                        os.set_blocking(read_end, False)
                        while chunk := os.read(read_end, MAX_RESULT_BYTES + 1 - len(data)):
                            data += chunk
                            if len(data) > MAX_RESULT_BYTES:
                                break
                    return self._checked_result(bytes(data), status)
        finally:
            os.close(pidfd)

    def _checked_result(self, data: bytes, status: int) -> dict[str, Any]:
        """The sample process's one frame, checked here: it ran grader code, so nothing it
        sends is taken on trust."""
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            return {"ok": False, "kind": "crashed",
                    "detail": f"grader process ended: {signal_detail(status)}"}
        if len(data) < 4:
            return {"ok": False, "kind": "crashed",
                    "detail": "grader process ended without a reply"}
        (length,) = struct.unpack(">I", data[:4])
        if length != len(data) - 4:
            return {"ok": False, "kind": "crashed",
                    "detail": "grader process sent more than one reply"}
        try:
            result = json.loads(data[4:])
        except ValueError:
            result = None
        if not isinstance(result, dict):
            return {"ok": False, "kind": "crashed", "detail": "grader process sent a bad reply"}
        if result.get("ok") is True:
            score = result.get("score")
            if isinstance(score, bool) or not isinstance(score, int | float):
                return {"ok": False, "kind": "bad_score",
                        "detail": f"grade() returned {type(score).__name__}, not a number"}
            if not math.isfinite(score):
                return {"ok": False, "kind": "bad_score", "detail": f"grade() returned {score}"}
            return {"ok": True, "score": float(score)}
        kind = result.get("kind")
        if kind not in ("runtime", "bad_score", "invalid_source", "unavailable"):
            return {"ok": False, "kind": "crashed", "detail": "grader process sent a bad reply"}
        return {"ok": False, "kind": kind, "detail": str(result.get("detail"))[:2500]}

    def _sample_process(self, code: Any, sample: bytes | None, item: bytes | None,
                        sample_dir: str, dir_fd: int, write_end: int) -> None:
        result: dict[str, Any]
        try:
            try:
                if self.landlock_abi:
                    confinement.restrict_landlock(self.landlock_abi, self.root_fds, dir_fd)
                os.chdir(sample_dir)
                set_sample_limits(self.limits)
                confinement.apply_grader_seccomp()
                # Nothing but stdio (/dev/null) and this sample's result pipe stays open.
                os.closerange(3, write_end)
                os.closerange(write_end + 1, 1 << 20)
                if self.audit_hook:
                    sys.addaudithook(make_audit_hook(sample_dir, self.read_roots))
            except (OSError, confinement.ConfinementError) as exc:
                result = {"ok": False, "kind": "unavailable", "detail": f"sandbox: {exc}"}
            else:
                result = self._grade(code, sample, item)
            write_all(write_end, frame(result))
        finally:
            os._exit(0)

    def _grade(self, code: Any, sample: bytes | None, item: bytes | None) -> dict[str, Any]:
        namespace: dict[str, Any] = {"__builtins__": self.builtins, "__name__": "grader"}
        try:
            exec(code, namespace)
            grade = namespace.get("grade")
            if not callable(grade):
                raise ValueError("the source defines no grade(sample, item) function")
        except BaseException as exc:
            return {"ok": False, "kind": "invalid_source", "detail": error_detail(exc)}
        if sample is None:
            return {"ok": True, "score": 0.0}
        try:
            value = grade(json.loads(sample), json.loads(item or b"{}"))
        except BaseException as exc:
            return {"ok": False, "kind": "runtime", "detail": error_detail(exc)}
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {"ok": False, "kind": "bad_score",
                    "detail": f"grade() returned {type(value).__name__}, not a number"}
        return {"ok": True, "score": float(value)}


def serve() -> None:
    # Move the two pipes off 0 and 1 so that a grader's prints (and whatever it reads from
    # stdin) meet /dev/null, not the protocol.
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.environ.clear()
    sys.dont_write_bytecode = True
    init = read_frame(in_fd)
    if init is None:
        return
    worker = Worker(init, out_fd)
    os.chdir(worker.tmpdir)
    try:
        code = compile(init["source"], "<grader>", "exec")
    except (SyntaxError, ValueError) as exc:
        write_all(out_fd, frame({"ready": False, "kind": "invalid_source",
                                 "error": error_detail(exc)}))
        return
    preload_imports(init["source"], worker.allowed)
    for name in init.get("preload_modules", ()):
        importlib.import_module(name)
    try:
        worker.confine(init)
    except (OSError, confinement.ConfinementError) as exc:
        write_all(out_fd, frame({"ready": False, "kind": "unavailable",
                                 "error": f"sandbox: {exc}"}))
        return
    loaded = worker.run_sample(code, None, None)
    if not loaded.get("ok"):
        write_all(out_fd, frame({"ready": False, "kind": loaded.get("kind"),
                                 "error": loaded.get("detail")}))
        return
    write_all(out_fd, frame({"ready": True, "layers": worker.layers}))
    item_json: bytes | None = None
    while True:
        request = read_frame(in_fd)
        sample = read_raw_frame(in_fd)
        if request is None or sample is None:
            return
        if not request.get("same_item"):
            item_json = read_raw_frame(in_fd)
            if item_json is None:
                return
        reply = worker.run_sample(code, sample, item_json)
        reply["seq"] = request["seq"]
        write_all(out_fd, frame(reply))


if __name__ == "__main__":
    serve()
