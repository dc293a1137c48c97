"""The durable store: one SQLite file, used from one dedicated thread.

Each stage owns its tables and creates them itself (`Store.migrate()`, or `create_tables()` inside
its own `Store.run` transaction); the store knows nothing of feeds or documents.  Blocking calls
run on the store's single worker thread, so the event loop never waits on disk and SQLite never
sees two threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from daemon.errors import StateError

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


class Store:
    """A SQLite database at `<state dir>/newsd.sqlite3` (or `:memory:` for tests)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsd-state")
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def in_dir(cls, directory: Path) -> Store:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(directory / "newsd.sqlite3")

    async def open(self) -> None:
        await self._submit(self._connect)

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._submit(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def migrate(self, schema: str | Sequence[str]) -> None:
        """Create the tables of one stage: idempotent `CREATE ... IF NOT EXISTS` statements (one
        script separated by `;`, or a sequence), run one by one in a single transaction."""
        statements = schema.split(";") if isinstance(schema, str) else schema
        await self.run(lambda conn: create_tables(conn, statements))

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` on the store thread inside one transaction; translate sqlite errors."""
        return await self._submit(lambda: self._transaction(fn))

    def enqueue(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """`run(fn)` queued now, before any later call (the thread takes jobs in order), for a
        caller that does not wait for it: await the returned future to learn the outcome."""
        return asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: self._transaction(fn)
        )

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._require()
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = fn(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StateError("sqlite", str(exc)) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError("closed", "the store is not open")
        return self._conn

    async def _submit(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)


def create_tables(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    """Run schema statements one by one inside the caller's transaction (not `executescript`,
    which commits the open transaction on its own)."""
    for statement in statements:
        if statement.strip():
            conn.execute(statement)
