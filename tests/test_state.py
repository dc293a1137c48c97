"""The durable store: schema scripts, transactions, survival across reopen."""

from __future__ import annotations

import pytest

from daemon.errors import StateError
from daemon.state.sqlite import Store

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"


async def test_data_survives_close_and_reopen(tmp_path):
    """What a committed transaction wrote is there after the store is closed and reopened."""
    store = Store.in_dir(tmp_path)
    await store.open()
    await store.migrate(SCHEMA)
    await store.migrate(SCHEMA)  # idempotent
    await store.run(lambda c: c.execute("INSERT INTO t VALUES ('a', 1)"))
    await store.close()
    again = Store.in_dir(tmp_path)
    await again.open()
    rows = await again.run(lambda c: c.execute("SELECT k, v FROM t").fetchall())
    await again.close()
    assert rows == [("a", 1)]


async def test_a_failing_transaction_leaves_nothing_behind(tmp_path):
    """An exception inside `run` rolls the whole transaction back; sqlite errors become
    StateError."""
    store = Store.in_dir(tmp_path)
    await store.open()
    await store.migrate(SCHEMA)

    def half_then_fail(conn):
        conn.execute("INSERT INTO t VALUES ('a', 1)")
        conn.execute("INSERT INTO t VALUES ('a', 2)")  # primary key violation

    with pytest.raises(StateError):
        await store.run(half_then_fail)
    assert await store.run(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 0
    await store.close()


async def test_migrate_is_one_transaction(tmp_path):
    """`migrate` runs its statements in one transaction: a bad one leaves no table behind."""
    store = Store.in_dir(tmp_path)
    await store.open()
    with pytest.raises(StateError):
        await store.migrate([SCHEMA, "CREATE TABLE broken ("])
    tables = await store.run(lambda c: c.execute("SELECT name FROM sqlite_master").fetchall())
    await store.close()
    assert tables == []
