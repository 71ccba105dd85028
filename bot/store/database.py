"""The database connection: an async SQLAlchemy engine; the schema is migrated to the newest revision on open."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.migrate import migrate

_log = logging.getLogger(__name__)
_NAMED_SQLITE = sqlite.dialect(paramstyle="named")  # SQL for the sqlite3 module's :name parameters


class Database:
    """Owns the engine. `open()` creates or migrates the schema (bot.store.migrate); `close()` disposes of the pool."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._reader: SqliteReader | None = None
        self._reads: AsyncEngine | None = None
        self._compiled: dict[sa.ClauseElement, tuple[str, dict[str, Any]]] = {}  # fetch_statement's SQLite SQL

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("database is not open")
        return self._engine

    async def open(self) -> None:
        url = make_url(self.url)
        backend = url.get_backend_name()
        sqlite_file = Path(url.database) if backend == "sqlite" and url.database not in (None, ":memory:") else None
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            if sqlite_file is not None:
                sqlite_file.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs |= {"pool_size": self._pool_size, "max_overflow": 10}
        engine = create_async_engine(url, **kwargs)
        if backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self._engine = engine
        # Reads on PostgreSQL run without BEGIN and ROLLBACK around each one (three round trips become one, and the
        # transaction statements were an eighth of a busy bot's CPU), and so do writes done in one statement (the rate
        # limit's decision, bot.limits); other writes keep their transactions (engine.begin()).
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if backend == "postgresql" else engine
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        if sqlite_file is not None:
            self._reader = SqliteReader(sqlite_file)
        _log.info("database ready (%s)", url.render_as_string(hide_password=True))

    def reading(self) -> AsyncConnection:
        """A connection for reads (`async with db.reading() as conn`); each statement sees what is committed."""
        return self.autocommit()

    def autocommit(self) -> AsyncConnection:
        """A connection on which each statement commits on its own on PostgreSQL, with no BEGIN and COMMIT around it
        (one round trip): for reads, and for writes done in one statement. On SQLite, the engine's usual connection,
        whose transaction the caller commits."""
        if self._reads is None:
            raise RuntimeError("database is not open")
        return self._reads.connect()

    async def fetch(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        """The rows (by column name) of a read-only query (plain SQL, `:name` parameters, plain column types: no
        dates, booleans as 0/1 on SQLite): on a SQLite file by its own reader (one hop off the loop), else by the
        engine. For the small reads of every question."""
        if self._reader is not None:
            return await self._reader.fetch(sql, params)
        async with self.reading() as conn:
            return (await conn.execute(text(sql), params)).mappings().all()

    async def fetch_statement(self, statement: sa.ClauseElement, params: dict[str, Any]) -> Sequence[Any]:
        """`fetch` for a read built once in SQLAlchemy (a question's hot reads): on a SQLite file, its SQL, compiled
        once, runs on the file's own reader. Rows by column name, of plain column values: on SQLite, times come back
        as text (`records.as_time`)."""
        if self._reader is None:
            async with self.reading() as conn:
                return (await conn.execute(cast(sa.Executable, statement), params)).mappings().all()
        known = self._compiled.get(statement)  # a statement is its own key (by identity)
        if known is None:
            compiled = statement.compile(dialect=_NAMED_SQLITE)
            defaults: dict[str, Any] = {str(k): v for k, v in (compiled.params or {}).items()}
            known = self._compiled[statement] = (compiled.string, defaults)
        sql, defaults = known
        return await self._reader.fetch(sql, defaults | params)

    @property
    def sqlite_reader(self) -> SqliteReader | None:
        """Fast reads of a SQLite file (None on PostgreSQL and in-memory SQLite); see SqliteReader."""
        return self._reader

    async def problem(self, timeout_s: float) -> str | None:
        """None when the database answers `SELECT 1` within `timeout_s`; else why not, in a few words (/readyz)."""
        engine = self._engine
        if engine is None:
            return "the database is not open yet"
        try:
            async with asyncio.timeout(timeout_s):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return f"the database did not answer within {timeout_s:g} s"
        except Exception as exc:  # whatever the driver raises: the probe only reports it
            return f"the database is unreachable ({type(exc).__name__})"
        return None

    async def close(self) -> None:
        if self._reader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._reader.close)
            self._reader = None
        self._reads = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_wal(cursor: Any, attempts: int = 100) -> None:
    """WAL once per database file. Switching needs the file to itself, and SQLite answers "locked" at once, without
    waiting, while another process's connection is switching it too (processes starting together): retry briefly."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode")
            if cursor.fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


class SqliteReader:
    """Read-only queries on a SQLite connection of its own, run whole in one worker thread: one hop off the event loop
    per query, where the async engine makes five (check-out, execute, fetch, cursor close, reset on return), each
    waiting its turn on a busy machine. For the hot, sub-millisecond reads of every question (correction search);
    in WAL mode it sees every committed write at once."""

    def __init__(self, path: Path) -> None:
        self._uri = path.resolve().as_uri() + "?mode=ro"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")
        self._conn: sqlite3.Connection | None = None

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch, sql, params)

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        if self._conn is None:
            self._conn = sqlite3.connect(self._uri, uri=True, timeout=30, check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
        return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(close_connection).result()
        self._executor.shutdown(wait=True)
