"""The python grader's sandbox process: runs one grader's ``grade(sample, item)`` per request.

Started by :mod:`rft_grader.sandbox.client` as ``python -I worker.py`` and imports nothing but
the standard library. Frames on stdin/stdout: a 4-byte big-endian length, then UTF-8 JSON.

Layers, outermost first (each stops what the ones inside it miss):
1. the parent kills this process past its wall-clock limit and starts a fresh one;
2. when started as root, it becomes ``nobody`` (so RLIMIT_NPROC applies and root-only files
   are closed), then enters new user and network namespaces where the kernel allows (no
   network interface at all);
3. rlimits: address space, CPU seconds per request, file size, no new processes, few fds;
4. an audit hook (PEP 578) refusing sockets, process creation, ctypes, and any file access
   outside the temporary directory other than reading the interpreter's own library dirs;
5. the grader's code gets builtins whose ``__import__`` admits only an allowlist of modules.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import ctypes
import importlib
import json
import math
import os
import resource
import struct
import sys
import sysconfig
import traceback
from typing import Any

NOBODY = 65534
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

# Audit events refused outright, whatever their arguments.
BLOCKED_EVENT_PREFIXES = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "os.setuid", "os.setgid",
    "ctypes.", "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sys.addaudithook", "pty.", "webbrowser.", "urllib.Request",
    "http.client.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
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
        chunk = os.read(fd, n - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def write_frame(fd: int, obj: Any) -> None:
    body = json.dumps(obj).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def drop_privileges(layers: list[str]) -> None:
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        layers.append("uid_nobody")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        layers.append("network_namespace")


def set_limits(limits: dict[str, int], layers: list[str]) -> None:
    for name, value in (
        ("RLIMIT_AS", limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_size_bytes"]),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NPROC", 0),
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
    first = math.ceil(cpu_seconds_used()) + limits["cpu_seconds_per_request"]
    resource.setrlimit(resource.RLIMIT_CPU, (first, limits["cpu_seconds_total"]))
    layers.append("rlimits")


def cpu_seconds_used() -> float:
    # The parent raises this process's RLIMIT_CPU before each request (prlimit from outside,
    # since setrlimit in here is refused by the audit hook), from the usage reported here.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def readable_roots() -> tuple[str, ...]:
    # The interpreter's library and site-packages only: editable installs on sys.path (this
    # repository's own source trees) are not a grader's to read.
    roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(sorted(os.path.realpath(r) for r in roots if r and os.path.isdir(r)))


def make_audit_hook(tmpdir: str, read_roots: tuple[str, ...]) -> Any:
    busy = [False]

    def inside(path: Any, roots: tuple[str, ...]) -> bool:
        if isinstance(path, int):
            # An already-open descriptor (os.fdopen and friends): nothing new is reached.
            return True
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if not isinstance(path, str):
            path = os.fspath(path)
        real = os.path.realpath(path)
        return any(real == root or real.startswith(root + os.sep) for root in roots)

    write_roots = (tmpdir,)
    all_roots = (tmpdir, *read_roots)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if busy[0]:
            return
        if event.startswith(BLOCKED_EVENT_PREFIXES):
            raise PermissionError(f"sandbox: {event} is not allowed in a python grader")
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & WRITE_FLAGS
            )
            roots = write_roots if writes else all_roots
        elif event in READ_EVENTS:
            path, roots = args[0], all_roots
        elif event in PATH_EVENTS:
            roots = write_roots
            busy[0] = True
            try:
                bad = [a for a in args if isinstance(a, str | bytes) and not inside(a, roots)]
            finally:
                busy[0] = False
            if bad:
                raise PermissionError(f"sandbox: {event} outside the grader's temporary directory")
            return
        else:
            return
        busy[0] = True
        try:
            ok = path is None or inside(path, roots)
        finally:
            busy[0] = False
        if not ok:
            raise PermissionError(f"sandbox: no access to {path!r} from a python grader")

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


def load_grader(source: str, allowed: frozenset[str]) -> Any:
    namespace: dict[str, Any] = {"__builtins__": restricted_builtins(allowed),
                                 "__name__": "grader"}
    exec(compile(source, "<grader>", "exec"), namespace)
    grade = namespace.get("grade")
    if not callable(grade):
        raise ValueError("the source defines no grade(sample, item) function")
    return grade


def error_detail(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<grader>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}"[:2000] + where


def serve() -> None:
    in_fd = 0
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    # What the grader prints must not corrupt the frames on the real stdout.
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.dont_write_bytecode = True
    init = read_frame(in_fd)
    if init is None:
        return
    tmpdir = os.path.realpath(init["tmpdir"])
    os.chdir(tmpdir)
    allowed = frozenset(init["allowed_imports"])
    preload_imports(init["source"], allowed)
    roots = readable_roots()
    layers: list[str] = []
    drop_privileges(layers)
    set_limits(init["limits"], layers)
    sys.addaudithook(make_audit_hook(tmpdir, roots))
    layers.append("audit_hook")
    try:
        grade = load_grader(init["source"], allowed)
    except BaseException as exc:
        write_frame(out_fd, {"ready": False, "error": error_detail(exc)})
        return
    write_frame(out_fd, {"ready": True, "layers": layers, "cpu": cpu_seconds_used()})
    item_json: bytes = b"{}"
    while True:
        request = read_frame(in_fd)
        if request is None:
            return
        if not request.get("same_item"):
            raw = read_raw_frame(in_fd)
            if raw is None:
                return
            item_json = raw
        try:
            # Decoded afresh for each sample, so no sample sees another's changes to it.
            value = grade(request["sample"], json.loads(item_json))
        except BaseException as exc:
            reply: dict[str, Any] = {"ok": False, "kind": "runtime", "detail": error_detail(exc)}
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                reply = {"ok": False, "kind": "bad_score",
                         "detail": f"grade() returned {type(value).__name__}, not a number"}
            elif not math.isfinite(value):
                reply = {"ok": False, "kind": "bad_score", "detail": f"grade() returned {value}"}
            else:
                reply = {"ok": True, "score": float(value)}
        reply["cpu"] = cpu_seconds_used()
        write_frame(out_fd, reply)


if __name__ == "__main__":
    serve()
