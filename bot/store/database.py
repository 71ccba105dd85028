"""The database connection: an async SQLAlchemy engine; the schema is migrated to the newest revision on open."""

from __future__ import annotations

import asyncio
import importlib
import json
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
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
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
        self._postgresql: PostgresqlPool | None = None
        self._compiled: dict[tuple[sa.ClauseElement, frozenset[str]], _Compiled] = {}  # for the fast paths
        self._texts: dict[str, sa.TextClause] = {}

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
        # transaction statements were an eighth of a busy bot's CPU), and so do writes done in one statement (a rate
        # limit's give-back, bot.limits); other writes keep their transactions (engine.begin()). The statements of
        # every question take the fast paths below (fetch_statement, write).
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT") if backend == "postgresql" else engine
        async with engine.begin() as conn:
            await conn.run_sync(migrate)
        if sqlite_file is not None:
            self._reader = SqliteFile(sqlite_file, writes=False)
            self._writer = SqliteFile(sqlite_file, writes=True)
        if backend == "postgresql":
            self._postgresql = PostgresqlPool(engine, self._pool_size)
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
        dates, booleans as 0/1 on SQLite) on the fast path (`fetch_statement`). For the small reads of every
        question."""
        if self._reader is not None:
            return await self._reader.fetch(sql, params)
        statement = self._texts.get(sql)
        if statement is None:
            statement = self._texts[sql] = text(sql)
        return await self.fetch_statement(statement, params)

    async def fetch_statement(self, statement: sa.ClauseElement, params: dict[str, Any]) -> Sequence[Any]:
        """A read built once in SQLAlchemy (a question's hot reads), its SQL compiled once, on the fast path: on a
        SQLite file, the file's own reader; on PostgreSQL, asyncpg itself (one round trip, no SQLAlchemy on the way).
        Rows by column name, of plain column values: on SQLite, times come back as text (`records.as_time`)."""
        if self._reader is not None:
            return await self._reader.fetch(*self._bound(statement, params, _NAMED_SQLITE))
        if self._postgresql is not None:
            return await self._postgresql.fetch(*self._bound(statement, params, self._postgresql.dialect))
        async with self.reading() as conn:
            return (await conn.execute(cast(sa.Executable, statement), params)).mappings().all()

    async def write(self, *steps: tuple[sa.ClauseElement, Mapping[str, Any]]) -> list[Sequence[Any]]:
        """Statements built once in SQLAlchemy (each with its parameters), run in order in one transaction; each one's
        rows (RETURNING), by column name, of plain column values as in `fetch_statement`. For the writes of every
        answer, on the fast path: on a SQLite file, the whole transaction is one hop to the file's own writer thread
        (the async engine makes five or more per statement: check-out, BEGIN, execute, fetch, COMMIT); on
        PostgreSQL, asyncpg itself (a single statement in one round trip, without BEGIN and COMMIT). Errors are
        SQLAlchemy's (IntegrityError, OperationalError…), as the engine would raise them."""
        if self._writer is not None:
            compiled = [self._bound(statement, params, _NAMED_SQLITE) for statement, params in steps]
            try:
                return await self._writer.write(compiled)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(_sql_of(compiled), None, exc, sqlite3.Error, dialect=_NAMED_SQLITE) from exc
        if self._postgresql is not None:
            dialect = self._postgresql.dialect
            return await self._postgresql.write(
                [self._bound(statement, params, dialect) for statement, params in steps]
            )
        async with self.engine.begin() as conn:
            results: list[Sequence[Any]] = []
            for statement, params in steps:
                result = await conn.execute(cast(sa.Executable, statement), dict(params))
                results.append(result.mappings().all() if result.returns_rows else [])
            return results

    def _bound(self, statement: sa.ClauseElement, params: Mapping[str, Any], dialect: sa.Dialect) -> tuple[str, Any]:
        """The statement's SQL for the fast path's driver (compiled once per statement and set of parameter names),
        and its parameters as SQLAlchemy would bind them (times as text on SQLite, JSON serialised, the columns' own
        types): named for the sqlite3 module, in order for asyncpg."""
        key = (statement, frozenset(params))  # a statement is its own key (by identity)
        known = self._compiled.get(key)
        if known is None:
            compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(params)))
            processors = {
                name: processor
                for name, bind in compiled.binds.items()
                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            }
            known = self._compiled[key] = _Compiled(compiled, processors)
        return known.compiled.string, known.bound(params)

    @property
    def sqlite_reader(self) -> SqliteFile | None:
        """Fast reads of a SQLite file (None on PostgreSQL and in-memory SQLite); see SqliteFile."""
        return self._reader

    @property
    def postgresql_pool(self) -> PostgresqlPool | None:
        """asyncpg's own pool, for fast statements on PostgreSQL (None elsewhere): `fetch_statement`'s and `write`'s."""
        return self._postgresql

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
        if self._postgresql is not None:
            await self._postgresql.close()
            self._postgresql = None
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
class _Compiled:
    compiled: SQLCompiler
    processors: dict[str, Callable[[Any], Any]]

    def bound(self, params: Mapping[str, Any]) -> dict[str, Any] | list[Any]:
        values = dict(self.compiled.construct_params(dict(params)))
        for name, processor in self.processors.items():
            if name in values:
                values[name] = processor(values[name])
        if self.compiled.positiontup is not None:  # asyncpg's $1, $2…
            return [values[name] for name in self.compiled.positiontup]
        return values


def _sql_of(steps: Sequence[tuple[str, Any]]) -> str:
    return "; ".join(sql for sql, _ in steps)


class PostgresqlPool:
    """asyncpg's own pool beside the engine's, connecting as the engine does, for the statements of every question
    (Database.fetch_statement, write): SQLAlchemy's work around each one (check-out, its asyncpg adapter, result
    rows) cost as much CPU as asyncpg's own. JSON comes back decoded, as the engine gives it. Connections are made
    as needed (none at start), up to half the engine's pool."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.dialect = engine.dialect
        args, options = engine.dialect.create_connect_args(engine.url)
        for engine_only in ("async_creator_fn", "prepared_statement_cache_size", "prepared_statement_name_func"):
            options.pop(engine_only, None)
        self._connect: tuple[Sequence[Any], dict[str, Any]] = (args, dict(options))
        self._size = max(2, size // 2)
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _ready(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    args, options = self._connect
                    self._pool = await _asyncpg().create_pool(
                        *args, **options, min_size=0, max_size=self._size, init=_decode_json, reset=_roll_back
                    )
        return self._pool

    async def fetch(self, sql: str, args: list[Any]) -> Sequence[Any]:
        pool = await self._ready()
        try:
            return await pool.fetch(sql, *args)
        except Exception as exc:
            raise _postgresql_error(sql, exc) from exc

    async def write(self, steps: list[tuple[str, Any]]) -> list[Sequence[Any]]:
        pool = await self._ready()
        try:
            async with pool.acquire() as conn:
                if len(steps) == 1:  # one statement commits on its own: one round trip
                    ((sql, args),) = steps
                    return [await conn.fetch(sql, *args)]
                async with conn.transaction():
                    return [await conn.fetch(sql, *args) for sql, args in steps]
        except Exception as exc:
            raise _postgresql_error(_sql_of(steps), exc) from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _asyncpg() -> Any:
    return importlib.import_module("asyncpg")  # the `postgres` extra's: only where PostgreSQL is configured


async def _roll_back(conn: Any) -> None:
    """A connection back in the pool is rolled back if a transaction was left open (a statement cancelled mid-way);
    asyncpg's own reset would add a round trip to every statement, undoing session state these statements never
    set (LISTEN, advisory locks, SET)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def _decode_json(conn: Any) -> None:
    """JSON columns as the engine's connections have them: parameters sent as the text SQLAlchemy serialised,
    values decoded."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=json.loads, schema="pg_catalog", format="text")


def _postgresql_error(sql: str, exc: Exception) -> Exception:
    """asyncpg's error as SQLAlchemy's, where it is the database's (a constraint: IntegrityError)."""
    asyncpg = _asyncpg()
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(sql, None, exc)
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
        return OperationalError(sql, None, exc)
    return exc


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
                _sqlite_pragmas(conn, None)  # as the engine's connections write
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
