"""One small SQL interface over SQLite (the embedded default) and PostgreSQL (a cluster's store).

The stores that must outlive a process (the sanitizer's kept prompts, the generator's jobs) are
written once against :class:`SQLStore`: statements use ``?`` placeholders and the SQL both
engines share (``INSERT ... ON CONFLICT DO NOTHING``, no engine-specific types). A path or a
``sqlite:///`` URL opens SQLite; a ``postgresql://`` URL opens PostgreSQL through psycopg 3
(extra ``rft-runtime[postgres]``), so several replicas on several machines share one store.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

Row = tuple[Any, ...]
Params = Sequence[Any]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class SQLStoreError(RuntimeError):
    pass


class StoreUnavailable(SQLStoreError):
    """The database cannot be reached now (a restart, a network cut): retry later; the store
    reconnects on its next use."""


class Transaction(Protocol):
    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement; the rows it returns (none for a write)."""
        ...

    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...


class SQLStore(Protocol):
    engine: str

    def transaction(self) -> Any:
        """A context manager yielding a :class:`Transaction`; commits on exit, rolls back on
        an exception. Writers are serialised: on SQLite by its write lock (taken first), on
        PostgreSQL by row locks, so a store is safe to share between threads and processes."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[Row]: ...

    def create_schema(self, ddl: str) -> None: ...

    def close(self) -> None: ...


T = TypeVar("T")

IN_LIST_MAX = 500
"""Values in one ``IN (...)`` list: well under SQLite's oldest limit of 999 bound parameters."""


def in_lists(values: Sequence[T]) -> Iterator[tuple[str, Sequence[T]]]:
    """``values`` in chunks one ``IN (...)`` list takes, each with its placeholders
    (``"?, ?, ?"``), so a lookup of any number of ids is a statement per chunk, not per id."""
    for start in range(0, len(values), IN_LIST_MAX):
        chunk = values[start : start + IN_LIST_MAX]
        yield ", ".join("?" * len(chunk)), chunk


def open_sql_store(target: str | Path, durable: bool = True) -> SQLStore:
    """A store from a file path, a ``sqlite:///path`` URL or a ``postgresql://`` URL.

    ``durable`` asks SQLite to sync every commit (``synchronous=FULL``); off, a commit survives a
    process crash but not a power loss. PostgreSQL is as durable as its server is configured.
    """
    text = str(target)
    if text.startswith(POSTGRES_SCHEMES):
        return PostgresStore(text)
    if "://" in text and not text.startswith("sqlite:///"):
        raise SQLStoreError(f"unsupported store URL {text!r}: use a path, sqlite:///path or postgresql://")
    return SQLiteStore(Path(text.removeprefix("sqlite:///")), durable=durable)


def _statements(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


class _SQLiteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._db.executemany(sql, rows)


class SQLiteStore:
    """One SQLite file (WAL) shared by every process on a machine."""

    engine = "sqlite"

    def __init__(self, path: Path, durable: bool = True, timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Callers use worker threads (asyncio.to_thread); the lock serialises them.
        self._db = sqlite3.connect(
            path, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        _switch_to_wal(self._db, timeout_s)
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock, _busy_as_unavailable(self.path):
            # IMMEDIATE takes the write lock first: between two processes, each transaction's
            # insert-or-ignore and the reads after it see one consistent table.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock, _busy_as_unavailable(self.path):
            return self._db.execute(sql, params).fetchall()

    def create_schema(self, ddl: str) -> None:
        with self._lock:
            for statement in _statements(ddl):
                self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _switch_to_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Put the file in WAL mode. SQLite answers "locked" at once, without waiting out the busy
    timeout, when another process switches a new file at the same moment (replicas starting
    together: 16 to 23 of 300 trials of four starting at once, here), so the switch is retried
    until the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # primary result codes: another writer holds the file


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)


@contextmanager
def _busy_as_unavailable(path: Path) -> Iterator[None]:
    """A file another process kept locked past the timeout is StoreUnavailable (retry later),
    like a PostgreSQL that cannot be reached; any other SQLite error is raised as it is."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise StoreUnavailable(f"SQLite file {path} is locked: {exc}") from exc
        raise


_PLACEHOLDER = re.compile(r"\?")


def _to_pyformat(sql: str) -> str:
    # The shared SQL has no literal '?' or '%'; refuse rather than mistranslate one.
    if "%" in sql:
        raise SQLStoreError(f"a literal % in shared SQL is not supported: {sql!r}")
    return _PLACEHOLDER.sub("%s", sql)


class _PostgresTransaction:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> list[Row]:
        self._cursor.execute(_to_pyformat(sql), tuple(params))
        return list(self._cursor.fetchall()) if self._cursor.description else []

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            self._cursor.executemany(_to_pyformat(sql), [tuple(r) for r in rows])


class PostgresStore:
    """A PostgreSQL database shared by every replica, through one psycopg connection."""

    engine = "postgresql"

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        try:
            import psycopg  # noqa: F401 - checked here, used in _connection
        except ModuleNotFoundError:
            raise SQLStoreError(
                "a postgresql:// store needs psycopg: pip install 'rft-runtime[postgres]'"
            ) from None
        self.url = url
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._db: Any = None
        with self._lock:
            self._connection()

    def _connection(self) -> Any:
        """The open connection, reconnecting after a failure (called under the lock)."""
        import psycopg

        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = psycopg.connect(
                    self.url, autocommit=True, connect_timeout=self._connect_timeout_s
                )
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"cannot reach PostgreSQL at {_redacted(self.url)}: {exc}"
                ) from exc
        return self._db

    @contextmanager
    def _unavailable_as_error(self) -> Iterator[None]:
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL at {_redacted(self.url)}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock, self._unavailable_as_error():
            db = self._connection()
            with db.transaction(), db.cursor() as cursor:
                yield _PostgresTransaction(cursor)

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with self._lock, self._unavailable_as_error(), self._connection().cursor() as cursor:
            cursor.execute(_to_pyformat(sql), tuple(params))
            return list(cursor.fetchall())

    def create_schema(self, ddl: str) -> None:
        # Replicas start together: the advisory lock makes their CREATE ... IF NOT EXISTS
        # one after the other (PostgreSQL's catalog can refuse two at once).
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(hashtext(current_database()))")
            for statement in _statements(ddl):
                tx.execute(statement)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)
