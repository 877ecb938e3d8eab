"""Escapes from the python grader sandbox (issue 14): each one is blocked, with the kernel's
layers on their own as well as with the audit hook on top.

Every attempt reaches the real ``os``, ``sys`` and ``ctypes`` first (``print.__self__`` is the
real builtins module), so nothing here relies on the import allowlist. A blocked read is one
whose target's content never comes back (no score, not in the error); a blocked write leaves
no file; a blocked connection reaches no listener. The targets sit in world-readable and
world-writable directories, so the uid switch alone would not stop them: Landlock and seccomp
must. Each attempt runs twice: ``hooked`` (every layer) and ``kernel`` (the audit hook off:
what the kernel holds when the hook has been switched off or fooled).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pytest

from rft_grader.sandbox import client
from rft_grader.sandbox.client import SandboxLimits, SandboxOutcome, SandboxWorker
from tests.grader.sandbox_kernel import KERNEL, REQUIRES_SANDBOX_KERNEL

pytestmark = REQUIRES_SANDBOX_KERNEL


@pytest.fixture
def as_root() -> None:
    # The uid switch can only be tested by root (CI runs as root): elsewhere this fails rather
    # than skips, so a run that never tested it cannot pass.
    if os.geteuid() != 0:
        pytest.fail("needs root: tests the sandbox's uid switch", pytrace=False)


needs_root = pytest.mark.usefixtures("as_root")

# socket is loaded before the worker confines itself: with the interpreter under /root (pyenv
# here) the sandbox uid could not import it afterwards, and the attempts below would stop at
# the import instead of at the kernel.
LIMITS = SandboxLimits(wall_time_s=2.0, cpu_seconds_per_request=1, memory_bytes=512 << 20,
                       file_size_bytes=1 << 20, preload_modules=frozenset({"socket"}))
# Every grader below first switches the audit hook off as far as grader code can: the hook's
# tables and the path functions it calls are module globals it looks up at each event (the old
# sandbox's were; this prelude let every attempt of the table through it).
PRELUDE = """\
import json
os = print.__self__.__import__('os')
sys = print.__self__.__import__('sys')
io = print.__self__.__import__('io')
ctypes = print.__self__.__import__('ctypes')
_worker = sys.modules['__main__']
for _name in ('BLOCKED_EVENT_PREFIXES',):
    if hasattr(_worker, _name):
        setattr(_worker, _name, ('never-an-event',))
for _name in ('READ_EVENTS', 'PATH_EVENTS'):
    if hasattr(_worker, _name):
        setattr(_worker, _name, frozenset())
_here = os.getcwd()
os.path.realpath = lambda p, *a, **k: _here
"""


@dataclass
class Targets:
    """Files the grader must not reach, in directories the worker's uid could reach."""

    root: Path
    secret: Path
    secret_text: str
    writable: Path
    listener_port: int = 0
    sockets: list[socket.socket] = field(default_factory=list)

    def new_file(self, name: str) -> Path:
        return self.writable / name


@pytest.fixture
def targets() -> Iterator[Targets]:
    root = Path(tempfile.mkdtemp(prefix="rft-escape-", dir="/tmp"))
    root.chmod(0o755)
    secret = root / "secret.txt"
    text = f"TOP-SECRET-{os.getpid()}-{time.monotonic_ns()}"
    secret.write_text(text)
    secret.chmod(0o644)
    writable = root / "drop"
    writable.mkdir()
    writable.chmod(0o777)
    found = Targets(root=root, secret=secret, secret_text=text, writable=writable)
    yield found
    for sock in found.sockets:
        sock.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["hooked", "kernel"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(mode: str) -> Iterator[Callable[..., tuple[SandboxWorker, SandboxOutcome]]]:
    workers: list[SandboxWorker] = []

    def grade(body: str, sample: dict | None = None, **values: object):
        limits = SandboxLimits(**{**LIMITS.__dict__, "audit_hook": mode == "hooked"})
        source = PRELUDE + Template(textwrap.dedent(body)).substitute(
            {k: repr(v) if isinstance(v, str) else v for k, v in values.items()})
        worker = SandboxWorker(source, limits)
        workers.append(worker)
        return worker, worker.grade(sample or {"output_text": "hi"}, {"answer": "hi"})

    yield grade
    for worker in workers:
        worker.close()


def assert_refused(outcome: SandboxOutcome, targets: Targets, *errors: str) -> None:
    """No score, the secret nowhere in the answer, and the error one of ``errors``."""
    assert outcome.score is None, outcome
    assert targets.secret_text not in (outcome.detail or "")
    assert outcome.error == "runtime", outcome
    assert any(e in (outcome.detail or "") for e in errors), outcome.detail


# --- the three escapes of the issue, and the forged reply -----------------------------------

# The issue's first escape: from a directory 16 levels below the sample's own, a path that
# climbs 12 levels stays inside it as the hook resolves it (against the cwd) and reaches / as
# the kernel does (against dir_fd, the sample's directory).
DIR_FD_PREFIX = textwrap.indent("""\
def climb():
    base = os.open('.', os.O_RDONLY)
    deep = '/'.join('d%d' % n for n in range(16))
    os.makedirs(deep)
    os.chdir(deep)
    return base, '../' * 12
""", " " * 8)


def test_dir_fd_traversal_reads_nothing_outside(run, targets: Targets) -> None:
    _, outcome = run(DIR_FD_PREFIX + """\
        def grade(s, i):
            base, up = climb()
            fd = os.open(up + $secret.lstrip('/'), os.O_RDONLY, dir_fd=base)
            raise ValueError(os.read(fd, 100))
        """, secret=str(targets.secret))
    assert_refused(outcome, targets, "PermissionError")


def test_dir_fd_traversal_writes_nothing_outside(run, targets: Targets) -> None:
    target = targets.new_file("via-dir-fd")
    _, outcome = run(DIR_FD_PREFIX + """\
        def grade(s, i):
            base, up = climb()
            fd = os.open(up + $target.lstrip('/'), os.O_WRONLY | os.O_CREAT, 0o644,
                         dir_fd=base)
            os.write(fd, b'owned')
            return 1.0
        """, target=str(target))
    assert_refused(outcome, targets, "PermissionError")
    assert not target.exists()


def test_a_path_like_that_changes_between_calls_opens_nothing(run, targets: Targets) -> None:
    _, outcome = run("""\
        calls = []
        class P:
            def __fspath__(self):
                calls.append(1)
                return $secret if len(calls) == 1 else 'harmless.txt'
        def grade(s, i):
            return float(len(io.FileIO(P()).read()))
        """, secret=str(targets.secret))
    assert_refused(outcome, targets, "PermissionError", "FileNotFoundError")


def test_switching_the_hook_off_by_frame_walking_reaches_nothing(run, targets: Targets) -> None:
    # The issue's third escape: __fspath__, called from inside the hook, walks up to the
    # hook's frame and flips its state; also patch what a Python-level hook calls
    # (os.path.realpath) so that every path looks inside the sample's directory.
    _, outcome = run("""\
        class P:
            def __fspath__(self):
                f = sys._getframe(1)
                while f is not None:
                    for name, value in f.f_locals.items():
                        if name == 'busy' and isinstance(value, list):
                            value[0] = True
                    f = f.f_back
                return 'x'
        def grade(s, i):
            try:
                io.FileIO(P())
            except Exception:
                pass
            here = os.getcwd()
            os.path.realpath = lambda p, *a, **k: here + '/x'
            with open($secret) as f:
                return float(len(f.read()))
        """, secret=str(targets.secret))
    assert_refused(outcome, targets, "PermissionError")


def test_forged_reply_frames_are_refused_and_the_next_sample_gets_its_own(
        run, mode: str) -> None:
    # Forged frames, one per plausible sequence number, written to every descriptor the
    # process has and to the worker's own reply descriptor found by walking frames.
    worker, outcome = run("""\
        struct = print.__self__.__import__('struct')
        def forged(seq):
            body = json.dumps({'seq': seq, 'ok': True, 'score': 1e9, 'ready': True}).encode()
            return struct.pack('>I', len(body)) + body
        def grade(s, i):
            if s['output_text'] != 'forge':
                return 0.25
            fds = set(range(64))
            f = sys._getframe()
            while f is not None:
                for value in list(f.f_locals.values()):
                    for name in ('out_fd', 'write_end'):
                        if isinstance(getattr(value, name, None), int):
                            fds.add(getattr(value, name))
                f = f.f_back
            frames = b''.join(forged(n) for n in range(0, 8))
            for fd in sorted(fds):
                try:
                    os.write(fd, frames)
                except OSError:
                    pass
            return 0.5
        """, sample={"output_text": "forge"})
    assert outcome.score is None and outcome.error == "crashed", outcome
    assert "more than one reply" in (outcome.detail or "")
    # No stale reply is left for the next sample: it gets its own score.
    assert worker.grade({"output_text": "honest"}, {}).score == 0.25
    assert worker.grade({"output_text": "honest"}, {}).score == 0.25
    assert worker.starts == 1


def test_a_stale_reply_from_the_worker_is_refused(tmp_path: Path, monkeypatch) -> None:
    # A worker that answers each request with the previous request's number: the parent
    # must not take a reply meant for another sample.
    fake = tmp_path / "stale_worker.py"
    fake.write_text(textwrap.dedent("""\
        import json, os, struct, sys
        def read():
            n = struct.unpack('>I', os.read(0, 4))[0]
            data = b''
            while len(data) < n:
                data += os.read(0, n - len(data))
            return json.loads(data)
        def write(obj):
            body = json.dumps(obj).encode()
            os.write(1, struct.pack('>I', len(body)) + body)
        read()
        write({'ready': True, 'layers': []})
        while True:
            request = read(); read()
            if not request['same_item']:
                read()
            write({'seq': request['seq'] - 1, 'ok': True, 'score': 7.0})
        """))
    monkeypatch.setattr(client, "WORKER_PATH", fake)
    with SandboxWorker("def grade(s, i):\n    return 1.0\n") as worker:
        outcome = worker.grade({"output_text": "x"}, {})
    assert outcome.score is None and outcome.error == "crashed"
    assert "out of turn" in (outcome.detail or "")


# --- the table --------------------------------------------------------------------------------

def _no_connection(listener: socket.socket) -> None:
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()


def _no_datagram(receiver: socket.socket) -> None:
    receiver.settimeout(0.2)
    with pytest.raises(TimeoutError):
        receiver.recv(100)


@dataclass(frozen=True)
class Attempt:
    name: str
    body: str
    errors: tuple[str, ...] = ("PermissionError",)


ATTEMPTS = [
    # files
    Attempt("open_etc_passwd", """\
        def grade(s, i):
            return float(len(open('/etc/passwd').read()))
        """),
    Attempt("read_secret_by_os_open", """\
        def grade(s, i):
            fd = os.open($secret, os.O_RDONLY)
            raise ValueError(os.read(fd, 100))
        """),
    Attempt("write_outside_the_sample_dir", """\
        def grade(s, i):
            with open($drop + '/written.txt', 'w') as f:
                f.write('owned')
            return 1.0
        """),
    Attempt("list_the_root_directory", """\
        def grade(s, i):
            raise ValueError(os.listdir('/'))
        """),
    Attempt("symlink_to_the_secret", """\
        def grade(s, i):
            os.symlink($secret, 'link')
            raise ValueError(open('link').read())
        """),
    Attempt("hard_link_to_the_secret", """\
        def grade(s, i):
            os.link($secret, 'hard')
            raise ValueError(open('hard').read())
        """),
    Attempt("this_repositorys_sources", """\
        def grade(s, i):
            raise ValueError(open($own_source).read())
        """),
    # /proc
    Attempt("proc_1_cmdline", """\
        def grade(s, i):
            raise ValueError(open('/proc/1/cmdline', 'rb').read())
        """),
    Attempt("proc_environ_of_the_grader_service", """\
        def grade(s, i):
            raise ValueError(open('/proc/$service_pid/environ', 'rb').read())
        """),
    Attempt("proc_mem_of_the_worker", """\
        def grade(s, i):
            fd = os.open('/proc/%d/mem' % os.getppid(), os.O_RDWR)
            return 1.0
        """),
    # sockets, by module and by libc
    Attempt("tcp_connect_by_socket_module", """\
        def grade(s, i):
            so = print.__self__.__import__('socket')
            conn = so.socket()
            conn.settimeout(1)
            conn.connect(('127.0.0.1', $port))
            return 1.0
        """),
    Attempt("udp_send_by_socket_module", """\
        def grade(s, i):
            so = print.__self__.__import__('socket')
            so.socket(so.AF_INET, so.SOCK_DGRAM).sendto(b'leak', ('127.0.0.1', $udp_port))
            return 1.0
        """),
    Attempt("abstract_unix_socket", """\
        def grade(s, i):
            so = print.__self__.__import__('socket')
            so.socket(so.AF_UNIX, so.SOCK_STREAM).connect($abstract)
            return 1.0
        """),
    Attempt("tcp_connect_by_libc", """\
        class Addr(ctypes.Structure):
            _fields_ = [('family', ctypes.c_ushort), ('port', ctypes.c_ubyte * 2),
                        ('addr', ctypes.c_ubyte * 4), ('zero', ctypes.c_ubyte * 8)]
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.socket(2, 1, 0)
            if fd < 0:
                raise PermissionError(ctypes.get_errno(), 'socket')
            addr = Addr(2, ($port >> 8, $port & 255), (127, 0, 0, 1))
            if libc.connect(fd, ctypes.byref(addr), 16) != 0:
                raise PermissionError(ctypes.get_errno(), 'connect')
            return 1.0
        """),
    # processes
    Attempt("subprocess_run", """\
        def grade(s, i):
            sp = print.__self__.__import__('subprocess')
            sp.run(['/bin/touch', $drop + '/by-subprocess'])
            return 1.0
        """),
    Attempt("os_system", """\
        def grade(s, i):
            if os.system('/bin/touch ' + $drop + '/by-system') != 0:
                raise PermissionError('os.system failed')
            return 1.0
        """),
    Attempt("os_fork", """\
        def grade(s, i):
            if os.fork() == 0:
                open($drop + '/by-fork', 'w')
                os._exit(0)
            return 1.0
        """, ("PermissionError", "BlockingIOError")),
    Attempt("exec_a_shell", """\
        def grade(s, i):
            os.execv('/bin/sh', ['/bin/sh', '-c', 'touch ' + $drop + '/by-exec'])
        """),
    Attempt("start_a_thread", """\
        def grade(s, i):
            threading = print.__self__.__import__('threading')
            t = threading.Thread(target=lambda: None)
            t.start()
            return 1.0
        """, ("PermissionError", "RuntimeError")),
    # ctypes straight to the kernel
    Attempt("libc_open_of_the_secret", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.open($secret.encode(), 0)
            if fd < 0:
                raise PermissionError(ctypes.get_errno(), 'open')
            raise ValueError(os.read(fd, 100))
        """),
    Attempt("ptrace_the_worker", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(16, os.getppid(), None, None) != 0:
                raise PermissionError(ctypes.get_errno(), 'ptrace')
            return 1.0
        """),
    Attempt("unshare_a_user_namespace", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x10000000 | 0x40000000) != 0:
                raise PermissionError(ctypes.get_errno(), 'unshare')
            return 1.0
        """),
    Attempt("io_uring_setup", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            params = (ctypes.c_ubyte * 120)()
            if libc.syscall(425, 8, params) < 0:
                raise PermissionError(ctypes.get_errno(), 'io_uring_setup')
            return 1.0
        """),
    Attempt("pidfd_getfd_of_the_workers_reply_pipe", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            pidfd = libc.syscall(434, os.getppid(), 0)
            if pidfd < 0:
                raise PermissionError(ctypes.get_errno(), 'pidfd_open')
            for fd in range(64):
                if libc.syscall(438, pidfd, fd, 0) >= 0:
                    return 1.0
            raise PermissionError(ctypes.get_errno(), 'pidfd_getfd')
        """),
    Attempt("become_root_again", """\
        def grade(s, i):
            os.setuid(0)
            return 1.0
        """),
    Attempt("system_v_shared_memory", """\
        def grade(s, i):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.shmget(0x52465400, 4096, 0o1666) < 0:
                raise PermissionError(ctypes.get_errno(), 'shmget')
            return 1.0
        """),
    Attempt("renice_the_worker", """\
        def grade(s, i):
            os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)
            return 1.0
        """),
    # signals
    Attempt("kill_the_worker", """\
        def grade(s, i):
            os.kill(os.getppid(), 9)
            return 1.0
        """),
    Attempt("kill_the_process_group", """\
        def grade(s, i):
            os.kill(0, 9)
            return 1.0
        """),
    Attempt("signal_the_grader_service", """\
        def grade(s, i):
            os.kill($service_pid, 10)
            return 1.0
        """),
    # memory, time, output size
    Attempt("allocate_8_gib", """\
        def grade(s, i):
            block = bytearray(8 * 1024 ** 3)
            return 1.0
        """, ("MemoryError",)),
    Attempt("write_a_file_past_the_size_limit", """\
        def grade(s, i):
            with open('big.bin', 'wb') as f:
                for _ in range(64):
                    f.write(b'x' * (1 << 20))
            return 1.0
        """, ("OSError", "File too large")),
]


@pytest.fixture
def listeners(targets: Targets) -> dict[str, object]:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    abstract = f"\0rft-escape-{os.getpid()}-{time.monotonic_ns()}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(abstract)
    unix.listen(4)
    targets.sockets += [tcp, udp, unix]
    return {"tcp": tcp, "udp": udp, "unix": unix, "port": tcp.getsockname()[1],
            "udp_port": udp.getsockname()[1], "abstract": abstract}


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda a: a.name)
def test_escape_attempt_is_blocked(run, targets: Targets, listeners: dict, attempt: Attempt
                                   ) -> None:
    import rft_grader

    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: received.append(1))
    try:
        worker, outcome = run(
            attempt.body, secret=str(targets.secret), drop=str(targets.writable),
            own_source=rft_grader.__file__, service_pid=os.getpid(),
            port=listeners["port"], udp_port=listeners["udp_port"],
            abstract=listeners["abstract"])
        assert_refused(outcome, targets, *attempt.errors)
        # Whatever the attempt tried, the worker is still there and grades the next sample.
        assert worker.grade({"output_text": "again"}, {}).error == "runtime"
        assert worker.starts == 1
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == []
    assert list(targets.writable.iterdir()) == []
    assert targets.secret.read_text() == targets.secret_text
    _no_connection(listeners["tcp"])
    _no_connection(listeners["unix"])
    _no_datagram(listeners["udp"])


def test_table_has_at_least_twenty_attempts() -> None:
    assert len(ATTEMPTS) >= 20


# --- what the sample process is given ----------------------------------------------------

def test_no_descriptor_is_inherited_but_stdio_and_the_result_pipe(run) -> None:
    # fds 0-2 are /dev/null; exactly one more (the sample's result pipe) is open.
    _, outcome = run("""\
        def grade(s, i):
            null = os.stat('/dev/null').st_rdev
            for fd in (0, 1, 2):
                if os.fstat(fd).st_rdev != null:
                    raise ValueError('fd %d is not /dev/null' % fd)
            others = []
            for fd in range(3, 1024):
                try:
                    others.append(os.fstat(fd).st_mode)
                except OSError:
                    pass
            if len(others) != 1 or not (others[0] & 0o170000 == 0o010000):
                raise ValueError(others)
            return float(len(others))
        """)
    assert outcome.score == 1.0, outcome


def test_the_environment_is_empty_of_the_services_variables(run, monkeypatch) -> None:
    monkeypatch.setenv("RFT_SECRET_TOKEN", "do-not-leak")
    _, outcome = run("""\
        def grade(s, i):
            if os.environ:
                raise ValueError(dict(os.environ))
            return 1.0
        """)
    assert outcome.score == 1.0, outcome


@needs_root
def test_the_sample_process_is_not_root(run) -> None:
    _, outcome = run("""\
        def grade(s, i):
            return float(os.getuid() * 100000 + os.getgid())
        """)
    assert outcome.score == 65534 * 100000 + 65534


def test_each_sample_starts_in_an_empty_directory_of_its_own(run) -> None:
    worker, first = run("""\
        def grade(s, i):
            found = len(os.listdir('.'))
            open('mine.txt', 'w').write(s['output_text'])
            try:
                os.listdir('..')
            except PermissionError:
                return float(found)
            return 99.0
        """)
    assert first.score == 0.0
    # The next sample sees nothing the first one wrote, and cannot look beside its directory.
    assert worker.grade({"output_text": "b"}, {}).score == 0.0


def test_sleeping_past_the_wall_clock_is_a_timeout_and_the_worker_survives(run) -> None:
    started = time.monotonic()
    worker, outcome = run("""\
        def grade(s, i):
            if s['output_text'] == 'sleep':
                print.__self__.__import__('time').sleep(60)
            return 1.0
        """, sample={"output_text": "sleep"})
    assert outcome.error == "timeout"
    assert time.monotonic() - started < LIMITS.wall_time_s + client.REPLY_GRACE_S
    assert worker.grade({"output_text": "x"}, {}).score == 1.0 and worker.starts == 1


def test_an_oversized_error_message_is_cut(run) -> None:
    _, outcome = run("""\
        def grade(s, i):
            raise ValueError('x' * 10_000_000)
        """)
    assert outcome.error == "runtime" and len(outcome.detail or "") < 3000


def test_an_oversized_result_on_the_result_pipe_is_refused(run) -> None:
    _, outcome = run("""\
        def grade(s, i):
            fd = [fd for fd in range(3, 64) if _is_pipe(fd)][0]
            os.write(fd, b'\\x00\\x10\\x00\\x00' + b'x' * (1 << 20))
            return 1.0
        def _is_pipe(fd):
            try:
                return os.fstat(fd).st_mode & 0o170000 == 0o010000
            except OSError:
                return False
        """)
    assert outcome.score is None and outcome.error == "crashed"


# --- the layers themselves --------------------------------------------------------------------

def test_worker_reports_every_layer_this_kernel_supports(run, mode: str) -> None:
    worker, outcome = run("def grade(s, i):\n    return 1.0\n")
    assert outcome.score == 1.0
    expected = {"landlock_fs", "rlimits", "seccomp"}
    if KERNEL.landlock_network:
        expected.add("landlock_tcp")
    if KERNEL.landlock_scope:
        expected.add("landlock_scope")
    if os.geteuid() == 0:
        expected.add("uid")
    if mode == "hooked":
        expected.add("audit_hook")
    assert set(worker.layers) == expected


def test_without_landlock_the_worker_fails_closed(monkeypatch) -> None:
    # The worker confines itself with confinement.landlock_abi(); a kernel without Landlock
    # is simulated by a worker whose confinement module answers 0.
    worker_dir = Path(tempfile.mkdtemp(prefix="rft-nolandlock-"))
    try:
        for name in ("worker.py", "confinement.py"):
            shutil.copy(Path(client.WORKER_PATH).with_name(name), worker_dir / name)
        conf = worker_dir / "confinement.py"
        conf.write_text(conf.read_text() + "\n\ndef landlock_abi():\n"
                        "    return 0, 'simulated: no Landlock'\n")
        for path in (worker_dir, *worker_dir.iterdir()):
            path.chmod(path.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        monkeypatch.setattr(client, "WORKER_PATH", worker_dir / "worker.py")
        source = "def grade(s, i):\n    return 1.0\n"
        with SandboxWorker(source, LIMITS) as refused:
            outcome = refused.grade({"output_text": "x"}, {})
        assert outcome.error == "unavailable" and outcome.score is None
        assert "Landlock is not available" in (outcome.detail or "")
        opted_out = SandboxLimits(**{**LIMITS.__dict__, "require_landlock": False})
        with SandboxWorker(source, opted_out) as allowed:
            assert allowed.grade({"output_text": "x"}, {}).score == 1.0
            assert "landlock_fs" not in allowed.layers and "seccomp" in allowed.layers
    finally:
        shutil.rmtree(worker_dir, ignore_errors=True)



def test_probe_prints_what_this_kernel_supports() -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "rft_grader.sandbox.confinement"],
                          capture_output=True, text=True, check=True, timeout=60)
    printed = json.loads(done.stdout)
    assert printed["landlock_abi"] == KERNEL.landlock_abi >= 1
    assert printed["seccomp_api"] == KERNEL.seccomp_api >= 1
    assert printed["release"] == KERNEL.release
    assert all(Path(root).is_dir() for root in printed["readable_roots"])


# --- through POST /v1/graders:run's core -----------------------------------------------------

def _run_request(source: str):
    import asyncio

    from rft_grader.openai_endpoints import run_endpoint
    from rft_schemas import GraderRunRequest

    request = GraderRunRequest.model_validate({
        "grader": {"type": "python", "name": "p", "source": source},
        "item": {"answer": "x"}, "model_sample": "x"})
    return asyncio.run(run_endpoint(request))


def test_the_issues_escape_is_refused_before_it_runs() -> None:
    from rft_grader.build import GraderConfigError

    source = ("def grade(s, i):\n    os = print.__self__.__import__('os')\n"
              "    return float(len(open('/etc/passwd').read()))\n")
    with pytest.raises(GraderConfigError) as caught:
        _run_request(source)
    assert {i.code for i in caught.value.issues} == {"sandbox_escape"}


def test_an_escape_validation_cannot_see_is_stopped_in_the_sandbox(targets: Targets) -> None:
    # Spelled so that no static check sees it: the grader runs, and the read fails (the table
    # above shows the kernel refusing such reads with the audit hook off).
    source = (f"def grade(s, i):\n    b = getattr(print, '__se' + 'lf__')\n"
              f"    imp = getattr(b, '__imp' + 'ort__')\n"
              f"    return float(len(imp('io').open({str(targets.secret)!r}).read()))\n")
    response = _run_request(source)
    body = response.model_dump_json()
    assert response.reward == 0.0
    assert response.metadata.errors.python_grader_runtime_error
    assert "PermissionError" in (response.metadata.errors.python_grader_runtime_error_details
                                 or "")
    assert targets.secret_text not in body
