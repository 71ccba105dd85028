"""The database connection: an async SQLAlchemy engine; the schema is migrated to the newest revision on open."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import attrs
import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlalchemy.sql.compiler import SQLCompiler

from bot.store.migrate import migrate

_log = logging.getLogger(__name__)
_NAMED_SQLITE = sqlite.dialect(paramstyle="named")  # SQL for the sqlite3 module's :name parameters


class Database:
    """Owns the engine. `open()` creates or migrates the schema (bot.store.migrate); `close()` disposes of the pool."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._reader: SqliteFile | None = None
        self._writer: SqliteFile | None = None
        self._reads: AsyncEngine | None = None
        self._compiled: dict[tuple[sa.ClauseElement, frozenset[str]], _SqliteSql] = {}  # for the SQLite file's own

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
            kwargs["pool_reset_on_return"] = None  # _sqlite_reset: a rollback only where a transaction is open
        else:
            kwargs |= {"pool_size": self._pool_size, "max_overflow": 10}
        engine = create_async_engine(url, **kwargs)
        if backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "reset", _sqlite_reset)
        self._engine = engine
        # Reads on PostgreSQL run without BEGIN and ROLLBACK around each one (three round trips become one, and the
        # transaction statements were an eighth of a busy bot's CPU), and so do writes done in one statement (the rate
        # limit's decision, bot.limits); other writes keep their transactions (engine.begin()).
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if backend == "postgresql" else engine
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        if sqlite_file is not None:
            self._reader = SqliteFile(sqlite_file, writes=False)
            self._writer = SqliteFile(sqlite_file, writes=True)
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
        return await self._reader.fetch(*self._sqlite(statement, params))

    async def write(self, *steps: tuple[sa.ClauseElement, Mapping[str, Any]]) -> list[Sequence[Any]]:
        """Statements built once in SQLAlchemy (each with its parameters), run in order in one transaction; each one's
        rows (RETURNING), by column name, of plain column values as in `fetch_statement`. On a SQLite file, the whole
        transaction is one hop to the file's own writer thread, where the async engine makes five or more per
        statement (check-out, BEGIN, execute, fetch, COMMIT): for the writes of every answer."""
        if self._writer is None:
            async with self.engine.begin() as conn:
                results: list[Sequence[Any]] = []
                for statement, params in steps:
                    result = await conn.execute(cast(sa.Executable, statement), dict(params))
                    results.append(result.mappings().all() if result.returns_rows else [])
                return results
        compiled = [self._sqlite(statement, params) for statement, params in steps]
        try:
            return await self._writer.write(compiled)
        except sqlite3.Error as exc:  # raised as the engine would have: SQLAlchemy's IntegrityError, OperationalError…
            raise DBAPIError.instance(
                "; ".join(sql for sql, _ in compiled), None, exc, sqlite3.Error, dialect=_NAMED_SQLITE
            ) from exc

    def _sqlite(self, statement: sa.ClauseElement, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The statement's SQL for the sqlite3 module (compiled once per statement and set of parameter names), and
        its parameters as SQLAlchemy would bind them (times as text, JSON serialised, the columns' own types)."""
        key = (statement, frozenset(params))  # a statement is its own key (by identity)
        known = self._compiled.get(key)
        if known is None:
            compiled = cast(SQLCompiler, statement.compile(dialect=_NAMED_SQLITE, column_keys=list(params)))
            processors = {
                name: processor
                for name, bind in compiled.binds.items()
                if (processor := bind.type.dialect_impl(_NAMED_SQLITE).bind_processor(_NAMED_SQLITE)) is not None
            }
            known = self._compiled[key] = _SqliteSql(compiled, processors)
        return known.compiled.string, known.bound(params)

    @property
    def sqlite_reader(self) -> SqliteFile | None:
        """Fast reads of a SQLite file (None on PostgreSQL and in-memory SQLite); see SqliteFile."""
        return self._reader

    @property
    def sqlite_writer(self) -> SqliteFile | None:
        """Fast writes to a SQLite file (None on PostgreSQL and in-memory SQLite): `write`'s."""
        return self._writer

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
        for own in (self._reader, self._writer):
            if own is not None:
                await asyncio.get_running_loop().run_in_executor(None, own.close)
        self._reader = self._writer = None
        self._reads = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection back in the pool is rolled back only if a transaction is still open on it. The pool's own reset
    rolled back every time, even after the commit that ended each write (`engine.begin()`): a trip to the
    connection's thread for nothing, twice per answer."""
    if not state.asyncio_safe or state.transaction_was_reset:
        return
    driver = getattr(dbapi_connection, "driver_connection", None)
    if getattr(driver, "in_transaction", True):
        dbapi_connection.rollback()


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


@attrs.frozen
class _SqliteSql:
    compiled: SQLCompiler
    processors: dict[str, Callable[[Any], Any]]

    def bound(self, params: Mapping[str, Any]) -> dict[str, Any]:
        values = dict(self.compiled.construct_params(dict(params)))
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        return values


class SqliteFile:
    """A SQLite connection of its own, run whole in one worker thread: one hop off the event loop per query or per
    transaction, where the async engine makes five or more (check-out, execute, fetch, cursor close, reset on
    return), each waiting its turn on a busy machine. For the hot, sub-millisecond statements of every question:
    the reader (`writes=False`, read-only) for correction search and the question's reads, which in WAL mode see
    every committed write at once; the writer for each answer's writes. SQLite itself orders the writer's
    transactions with the engine's (BEGIN IMMEDIATE, waiting up to 30 s for the lock like the engine's connections)."""

    def __init__(self, path: Path, *, writes: bool) -> None:
        self._uri = path.resolve().as_uri() + ("" if writes else "?mode=ro")
        self._writes = writes
        name = "sqlite-write" if writes else "sqlite-read"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch, sql, params)

    async def write(self, steps: list[tuple[str, dict[str, Any]]]) -> list[Sequence[Any]]:
        """The statements, in one transaction (rolled back whole if one fails); each one's rows."""
        if not self._writes:
            raise RuntimeError("this SQLite connection is read-only")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._write, steps)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # isolation_level=None: no implicit BEGIN; the writer's transactions are its own (BEGIN IMMEDIATE).
            conn = sqlite3.connect(self._uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            if self._writes:
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        return self._connection().execute(sql, params).fetchall()

    def _write(self, steps: list[tuple[str, dict[str, Any]]]) -> list[Sequence[Any]]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            results: list[Sequence[Any]] = [conn.execute(sql, params).fetchall() for sql, params in steps]
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return results

    def close(self) -> None:
        def close_connection() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(close_connection).result()
        self._executor.shutdown(wait=True)
