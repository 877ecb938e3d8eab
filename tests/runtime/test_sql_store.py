"""One SQL interface, two engines: the same statements behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from rft_runtime.postgres_local import LocalPostgres
from rft_runtime.processes import free_port, stop_process
from rft_runtime.sql import (
    IN_LIST_MAX,
    SQLiteStore,
    SQLStoreError,
    StoreUnavailable,
    in_lists,
    open_sql_store,
)

DDL = """
CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_n ON items (n)
"""


def test_insert_or_ignore_returns_only_the_new_rows(sql_store_url: str) -> None:
    store = open_sql_store(sql_store_url)
    store.create_schema(DDL)
    with store.transaction() as tx:
        first = tx.execute("INSERT INTO items VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id",
                           ("a", 1))
        again = tx.execute("INSERT INTO items VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING id",
                           ("a", 2))
    assert first == [("a",)] and again == []
    assert store.query("SELECT id, n FROM items") == [("a", 1)]


def test_a_failed_transaction_leaves_nothing_behind(sql_store_url: str) -> None:
    store = open_sql_store(sql_store_url)
    store.create_schema(DDL)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.executemany("INSERT INTO items VALUES (?, ?)", [("a", 1), ("b", 2)])
        raise RuntimeError("the process fails mid-transaction")
    assert store.query("SELECT COUNT(*) FROM items") == [(0,)]


def test_replicas_starting_together_create_the_schema_once(sql_store_url: str) -> None:
    errors: list[BaseException] = []

    def start_replica() -> None:
        try:
            open_sql_store(sql_store_url).create_schema(DDL)
        except BaseException as exc:
            errors.append(exc)

    replicas = [threading.Thread(target=start_replica) for _ in range(4)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(timeout=60)
    assert errors == []
    assert open_sql_store(sql_store_url).query("SELECT COUNT(*) FROM items") == [(0,)]


def test_an_unreachable_postgres_names_the_server_but_not_the_password() -> None:
    url = f"postgresql://rft:s3cret@127.0.0.1:{free_port()}/rft"
    with pytest.raises(SQLStoreError, match="cannot reach PostgreSQL") as error:
        open_sql_store(url)
    assert "s3cret" not in str(error.value) and "rft:***@127.0.0.1" in str(error.value)


def test_a_store_url_of_another_kind_is_refused() -> None:
    with pytest.raises(SQLStoreError, match="unsupported store URL"):
        open_sql_store("mysql://db/rft")


def test_a_postgres_outage_is_reported_as_unavailable_and_the_store_reconnects(
    tmp_path: Path,
) -> None:
    with LocalPostgres(log_path=tmp_path / "pg.log") as server:
        store = open_sql_store(server.create_database("outage"))
        store.create_schema(DDL)
        stop_process(server.process, 10.0, first_signal=signal.SIGINT)  # the server goes away
        with pytest.raises(StoreUnavailable), store.transaction() as tx:
            tx.execute("INSERT INTO items VALUES (?, ?)", ("a", 1))
        server.restart()
        with store.transaction() as tx:  # the same store object, a new connection
            tx.execute("INSERT INTO items VALUES (?, ?)", ("a", 1))
        assert store.query("SELECT id FROM items") == [("a",)]


def test_a_sqlite_file_locked_by_another_process_is_unavailable_other_errors_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.sqlite"
    store = SQLiteStore(path, timeout_s=0.1)
    store.create_schema(DDL)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
    try:
        with pytest.raises(StoreUnavailable, match="locked"), store.transaction() as tx:
            tx.execute("INSERT INTO items VALUES (?, ?)", ("a", 1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store.query("SELECT * FROM missing")
    with store.transaction() as tx:  # the lock is gone: the store works again
        tx.execute("INSERT INTO items VALUES (?, ?)", ("a", 1))
    assert store.query("SELECT id FROM items") == [("a",)]


def test_in_lists_cut_any_number_of_values_into_lists_one_statement_takes(tmp_path: Path):
    store = open_sql_store(tmp_path / "s.sqlite")
    store.create_schema(DDL)
    with store.transaction() as tx:
        rows = [(f"i{n}", n) for n in range(1200)]
        tx.executemany("INSERT INTO items (id, n) VALUES (?, ?)", rows)
    wanted = [f"i{n}" for n in range(0, 1300, 2)]  # 650 ids, 50 of them absent
    chunks = list(in_lists(wanted))
    assert [len(ids) for _, ids in chunks] == [IN_LIST_MAX, 650 - IN_LIST_MAX]
    found = []
    for marks, ids in chunks:
        assert marks.count("?") == len(ids)
        found += store.query(f"SELECT n FROM items WHERE id IN ({marks})", ids)
    assert sorted(n for (n,) in found) == list(range(0, 1200, 2))
    assert list(in_lists([])) == []
    store.close()
