"""The kernel's side of the python grader sandbox: Landlock, seccomp, uid, and a probe of both.

Imported by the sandbox worker (``python -I worker.py``, so only the standard library, the
``landlock`` package and ``pyseccomp``) and by the grader service and its tests for the probe.
``python -m rft_grader.sandbox.confinement`` prints what this kernel supports.

Every function here only ever takes permissions away; each one that cannot do what it is asked
raises :class:`ConfinementError`, and the worker refuses to run grader code after one.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import sysconfig
from dataclasses import asdict, dataclass

import landlock
import pyseccomp
from landlock.plumbing import (
    PR_SET_NO_NEW_PRIVS,
    FSAccess,
    PathBeneathAttr,
    RulesetAttr,
    get_add_rule,
    get_create_ruleset,
    get_prctl,
    get_restrict_self,
)

# Landlock ABI numbers (include/uapi/linux/landlock.h): what each version added that we use.
LANDLOCK_ABI_REFER = 2          # FSAccess.REFER
LANDLOCK_ABI_TRUNCATE = 3       # FSAccess.TRUNCATE
LANDLOCK_ABI_NET = 4            # handled_access_net: TCP bind and connect
LANDLOCK_ABI_IOCTL = 5          # FSAccess.IOCTL_DEV
LANDLOCK_ABI_SCOPE = 6          # scoped: abstract unix sockets and signals out of the domain
ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

READ = FSAccess.READ_FILE | FSAccess.READ_DIR
# The sample's own directory: everything but executing, devices, sockets, fifos and links.
WRITE = (READ | FSAccess.WRITE_FILE | FSAccess.REMOVE_DIR | FSAccess.REMOVE_FILE
         | FSAccess.MAKE_DIR | FSAccess.MAKE_REG)

# Shared libraries an extension module may dlopen once confined (ld.so falls back to these
# when /etc/ld.so.cache is unreadable). Nothing under them is a secret.
LIBRARY_DIRS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")

# Denied to the whole worker (EPERM): what no grader and no part of the worker needs, and what
# would widen the kernel's surface or reach outside (exec, other processes' memory, mounts and
# namespaces, keys, BPF, io_uring, which bypasses seccomp for the operations it submits).
DENIED_SYSCALLS = (
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "kcmp", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "keyctl",
    "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "mknod", "mknodat", "syslog",
    "vhangup", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "fanotify_init",
    "personality", "uselib", "setuid", "setgid", "setreuid", "setregid", "setresuid",
    "setresgid", "setfsuid", "setfsgid", "setgroups", "capset",
    # No sockets at all: the worker talks over inherited pipes only.
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # No System V or POSIX message queues, semaphores or shared memory: channels to other
    # processes of the same uid that no path rule covers.
    "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl",
    "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
)
# Added for the process that runs grader code: no new processes or threads, no signals to any
# process but itself, no limits changed on another process.
DENIED_TO_GRADER_CODE = ("clone", "fork", "vfork", "tkill", "rt_sigqueueinfo",
                         "rt_tgsigqueueinfo", "pidfd_send_signal", "pidfd_open", "setsid",
                         "setpgid")
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
TIOCSTI = 0x5412


class ConfinementError(RuntimeError):
    """A layer of the sandbox could not be applied: no grader code may run."""


@dataclass(frozen=True)
class KernelSupport:
    release: str
    landlock_abi: int          # 0: none
    landlock_detail: str       # why not, when 0
    seccomp_api: int           # libseccomp's API level for this kernel; 0: no seccomp filters
    user_namespaces: bool      # unprivileged unshare(CLONE_NEWUSER) works (not used: see docs)

    @property
    def landlock_network(self) -> bool:
        return self.landlock_abi >= LANDLOCK_ABI_NET

    @property
    def landlock_scope(self) -> bool:
        return self.landlock_abi >= LANDLOCK_ABI_SCOPE


def landlock_abi() -> tuple[int, str]:
    try:
        ctypes.set_errno(0)
        return int(landlock.landlock_abi_version()), ""
    except OSError as exc:
        return 0, " ".join(str(exc).split()) or errno.errorcode.get(exc.errno or 0, "error")


def probe() -> KernelSupport:
    abi, detail = landlock_abi()
    try:
        seccomp_api = int(pyseccomp.get_api())
    except (OSError, AttributeError):
        seccomp_api = 0
    return KernelSupport(release=platform.release(), landlock_abi=abi, landlock_detail=detail,
                         seccomp_api=seccomp_api, user_namespaces=_user_namespaces_work())


def _user_namespaces_work() -> bool:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            libc = ctypes.CDLL(None, use_errno=True)
            code = 0 if libc.unshare(0x10000000) == 0 else 1  # CLONE_NEWUSER
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def readable_roots() -> tuple[str, ...]:
    # The interpreter's library and site-packages, and the system's shared libraries: editable
    # installs on sys.path (this repository's own source trees) are not a grader's to read.
    roots = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(LIBRARY_DIRS)
    return tuple(sorted({os.path.realpath(r) for r in roots if r and os.path.isdir(r)}))


def open_roots(paths: tuple[str, ...]) -> list[int]:
    """O_PATH descriptors of ``paths``, opened while they can be (before the uid drop: an
    interpreter under /root is not reachable by path for ``nobody``)."""
    return [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in paths]


class _RulesetAttrV6(RulesetAttr):  # type: ignore[misc]
    # struct landlock_ruleset_attr grew these fields in ABI 4 and 6; the kernel takes a larger
    # struct as long as the fields it does not know are zero.
    _fields_ = [("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


def _handled_fs(abi: int) -> int:
    access = int(FSAccess.EXECUTE | FSAccess.WRITE_FILE | FSAccess.READ_FILE | FSAccess.READ_DIR
                 | FSAccess.REMOVE_DIR | FSAccess.REMOVE_FILE | FSAccess.MAKE_CHAR
                 | FSAccess.MAKE_DIR | FSAccess.MAKE_REG | FSAccess.MAKE_SOCK
                 | FSAccess.MAKE_FIFO | FSAccess.MAKE_BLOCK | FSAccess.MAKE_SYM)
    if abi >= LANDLOCK_ABI_REFER:
        access |= FSAccess.REFER
    if abi >= LANDLOCK_ABI_TRUNCATE:
        access |= FSAccess.TRUNCATE
    if abi >= LANDLOCK_ABI_IOCTL:
        access |= FSAccess.IOCTL_DEV
    return access


def restrict_landlock(abi: int, read_fds: list[int], write_fd: int) -> list[str]:
    """Enter a Landlock domain: read under ``read_fds``, read and write under ``write_fd``,
    nothing else of the file system; no TCP bind or connect (ABI 4+); no signals or abstract
    unix sockets out of the domain (ABI 6+). Returns the layers applied."""
    if abi < 1:
        raise ConfinementError("Landlock is not available")
    handled = _handled_fs(abi)
    attr = _RulesetAttrV6(handled)
    layers = ["landlock_fs"]
    if abi >= LANDLOCK_ABI_NET:
        attr.handled_access_net = ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP
        layers.append("landlock_tcp")
    if abi >= LANDLOCK_ABI_SCOPE:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        layers.append("landlock_scope")
    try:
        ctypes.set_errno(0)
        ruleset = get_create_ruleset()(ctypes.byref(attr), ctypes.sizeof(attr), 0)
        try:
            for fd, access in [*((fd, READ) for fd in read_fds), (write_fd, WRITE)]:
                rule = PathBeneathAttr(int(access) & handled, fd)
                ctypes.set_errno(0)
                get_add_rule()(ruleset, 1, ctypes.byref(rule), 0)  # LANDLOCK_RULE_PATH_BENEATH
            set_no_new_privs()
            ctypes.set_errno(0)
            get_restrict_self()(ruleset, 0)
        finally:
            os.close(ruleset)
    except OSError as exc:
        raise ConfinementError(f"Landlock could not be applied: {exc}") from exc
    return layers


def set_no_new_privs() -> None:
    ctypes.set_errno(0)
    get_prctl()(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def drop_uid(uid: int, gid: int) -> bool:
    """Become ``uid``/``gid`` with no supplementary groups when running as root; True if done."""
    if os.getuid() != 0 and os.geteuid() != 0:
        return False
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise ConfinementError(f"could not become uid {uid}: {exc}") from exc
    if 0 in (os.getuid(), os.geteuid(), os.getgid(), os.getegid()):
        raise ConfinementError(f"still root after the switch to uid {uid}")
    return True


def _deny(flt: pyseccomp.SyscallFilter, name: str, *args: pyseccomp.Arg,
          err: int = errno.EPERM) -> None:
    try:
        number = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
    except (OSError, ValueError):
        return
    if number < 0:  # no such system call on this architecture
        return
    flt.add_rule(pyseccomp.ERRNO(err), number, *args)


def apply_worker_seccomp() -> None:
    """The filter of the whole worker: :data:`DENIED_SYSCALLS`, namespace flags on clone, and
    clone3 (whose flags a filter cannot read) answered ENOSYS so libc falls back to clone."""
    try:
        flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            _deny(flt, name)
        for flag in NAMESPACE_FLAGS:
            _deny(flt, "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
        _deny(flt, "clone3", err=errno.ENOSYS)
        _deny(flt, "ioctl", pyseccomp.Arg(1, pyseccomp.EQ, TIOCSTI))
        flt.load()
    except OSError as exc:
        raise ConfinementError(f"seccomp filter could not be loaded: {exc}") from exc


def apply_grader_seccomp() -> None:
    """Stacked on the worker's filter in the process that runs grader code."""
    pid = os.getpid()
    try:
        flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        for name in DENIED_TO_GRADER_CODE:
            _deny(flt, name)
        _deny(flt, "kill", pyseccomp.Arg(0, pyseccomp.NE, pid))
        _deny(flt, "tgkill", pyseccomp.Arg(0, pyseccomp.NE, pid))
        _deny(flt, "prlimit64", pyseccomp.Arg(0, pyseccomp.NE, 0))
        # Priorities and CPU placement of itself only (who/pid 0), not of the worker.
        _deny(flt, "setpriority", pyseccomp.Arg(1, pyseccomp.NE, 0))
        _deny(flt, "ioprio_set", pyseccomp.Arg(1, pyseccomp.NE, 0))
        for name in ("sched_setaffinity", "sched_setscheduler", "sched_setparam",
                     "sched_setattr"):
            _deny(flt, name, pyseccomp.Arg(0, pyseccomp.NE, 0))
        flt.load()
    except OSError as exc:
        raise ConfinementError(f"seccomp filter could not be loaded: {exc}") from exc


def main() -> None:
    print(json.dumps({**asdict(probe()), "readable_roots": readable_roots()}, indent=2))


if __name__ == "__main__":
    main()
