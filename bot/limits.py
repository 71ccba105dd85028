"""Per-user rate limits on model calls: a sliding window of `calls` per `window_s` seconds per user.

One bot process (the SQLite default) keeps the window in memory (RateLimiter). Several processes on one PostgreSQL
database share it in the database (DatabaseRateLimiter), so a user who is answered by two shard processes still gets
`calls` per window in all. `for_database` picks the one that fits the database.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from bot.errors import RateLimited
from bot.store.database import Database
from bot.store.schema import rate_limits


class Limiter(Protocol):
    """`take` raises RateLimited when the key has no call left in the window, `give_back` returns the latest one."""

    async def take(self, key: int) -> None: ...
    async def give_back(self, key: int) -> None: ...


class RateLimiter:
    """Allows `calls` per `window_s` seconds per key, in this process's memory."""

    def __init__(self, calls: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._calls = calls
        self._window = window_s
        self._clock = clock
        self._history: dict[int, deque[float]] = {}

    async def take(self, key: int) -> None:
        now = self._clock()
        history = self._history.setdefault(key, deque())
        while history and history[0] <= now - self._window:
            history.popleft()
        if len(history) >= self._calls:
            raise RateLimited(history[0] + self._window - now)
        history.append(now)
        if len(self._history) > 10_000:  # forget idle users so memory stays bounded
            for stale in [k for k, h in self._history.items() if not h or h[-1] <= now - self._window]:
                del self._history[stale]

    async def give_back(self, key: int) -> None:
        """Returns the latest call taken for `key`, for a call that was started and then abandoned unused (a voice
        answer begun during a pause that turned out not to be the end of the question)."""
        history = self._history.get(key)
        if history:
            history.pop()


class DatabaseRateLimiter:
    """The same limit kept in the database, shared by every process using it.

    Each user has one row holding the times of the calls still inside the window, in the order taken. A take is one
    INSERT ... ON CONFLICT DO UPDATE of that row: it creates or locks the row (two processes taking for one user at
    once take turns), keeps the calls still in the window and adds this one, but only WHERE fewer than `calls` were
    left; no row returned means the call is refused. On PostgreSQL that statement runs on its own (autocommit, no
    BEGIN or COMMIT): the decision before the acknowledgement is one round trip. The same statement reads the row's
    calls for a refusal's retry-after (as they were when it began: when the calls that filled the window were taken
    at that moment, the retry-after is the whole window), and at most once a window per process it also deletes the
    rows of other users whose calls have all left the window, skipping rows another process holds locked. On SQLite
    (tested, not used in production) those three are statements of one BEGIN IMMEDIATE transaction. Times are the
    wall clock (`time.time`; the hosts' clocks must agree to well within a window).
    """

    def __init__(self, db: Database, calls: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._window = window_s
        self._clock = clock
        self._pruned_at: float | None = None
        self._sql = _Statements(make_url(db.url).get_backend_name(), calls)

    async def take(self, key: int) -> None:
        now = self._clock()
        prune = self._pruned_at is None or now - self._pruned_at >= self._window
        if prune:
            self._pruned_at = now
        statements = self._sql
        params = {"key": key, "now": now, "start": now - self._window, "expires": now + self._window}
        if statements.postgresql:
            ((row,),) = await self._db.write((statements.take_pruning if prune else statements.take, params))
            taken, hits = row["taken"], row["hits"]
        else:
            async with self._db.engine.begin() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock, now: one process at a time
                taken = (await conn.execute(statements.upsert, params)).first() is not None
                hits = None if taken else (await conn.execute(statements.hits, params)).scalar_one_or_none()
                if prune:
                    await conn.execute(statements.prune, params)
        if not taken:
            in_window = [float(h) for h in hits or () if float(h) > now - self._window]
            raise RateLimited(in_window[0] + self._window - now if in_window else self._window)

    async def give_back(self, key: int) -> None:
        """Returns the latest call taken for `key` (by any process), in one statement. The row's expiry stays: it may
        outlive its calls by up to a window before it is deleted."""
        statements = self._sql
        async with self._db.autocommit() as conn:
            await conn.execute(statements.give_back, {"key": key})
            await conn.commit()  # nothing to commit on PostgreSQL (autocommit); SQLite's transaction


class _Statements:
    """The limiter's statements in one database's SQL, with the parameters key, now, start (now minus the window)
    and expires (now plus the window). The calls are a JSON array: only its few operations differ by database."""

    def __init__(self, backend: str, calls: int) -> None:
        self.postgresql = backend == "postgresql"
        key = sa.bindparam("key", type_=rate_limits.c.user_id.type)
        now = sa.bindparam("now", type_=sa.Float)
        start = sa.bindparam("start", type_=sa.Float)
        expires = sa.bindparam("expires", type_=sa.Float)
        hits = rate_limits.c.hits
        insert: Any = postgresql.insert if self.postgresql else sqlite.insert
        statement = insert(rate_limits).values(user_id=key, hits=self._array(now), expires_at=expires)
        kept = self._in_window(hits, start)
        upsert = statement.on_conflict_do_update(
            index_elements=[rate_limits.c.user_id],
            set_={"hits": self._appended(kept, now), "expires_at": statement.excluded.expires_at},
            where=self._length(kept) < calls,
        ).returning(rate_limits.c.user_id)
        read = sa.select(hits).where(rate_limits.c.user_id == key)
        expired = rate_limits.alias("expired")
        prune = sa.delete(rate_limits).where(
            rate_limits.c.user_id.in_(
                sa.select(expired.c.user_id)
                .where(expired.c.expires_at <= now, expired.c.user_id != key)
                .with_for_update(skip_locked=True)  # a row being taken is not expired: never wait for one
            )
        )
        self.upsert: sa.Executable = upsert
        self.hits: sa.Executable = read
        self.prune: sa.Executable = prune
        self.give_back: sa.Executable = (
            sa.update(rate_limits).where(rate_limits.c.user_id == key).values(hits=self._without_last(hits))
        )
        # PostgreSQL: one statement, the upsert and the prune as CTEs and the row read beside them (as it was when
        # the statement began: a statement's parts all read the same snapshot).
        taken = upsert.cte("taken")
        take = sa.select(sa.exists(taken.select()).label("taken"), read.scalar_subquery().label("hits"))
        self.take: sa.ClauseElement = take
        self.take_pruning: sa.ClauseElement = take.add_cte(prune.cte("pruned"))

    def _array(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """A JSON array of one number."""
        if self.postgresql:
            return sa.func.json_build_array(value, type_=sa.JSON)
        return sa.func.json_array(value, type_=sa.JSON)

    def _in_window(self, hits: sa.ColumnElement[Any], start: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """The calls in `hits` made after `start`, in order (jsonb on PostgreSQL)."""
        if self.postgresql:
            return sa.func.jsonb_path_query_array(
                sa.cast(hits, postgresql.JSONB),
                sa.literal_column("'$[*] ? (@ > $start)'"),
                sa.func.jsonb_build_object("start", start),
                type_=postgresql.JSONB,
            )
        each = sa.func.json_each(hits).table_valued("value")
        return sa.select(sa.func.json_group_array(each.c.value)).where(each.c.value > start).scalar_subquery()

    def _length(self, array: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
        return (sa.func.jsonb_array_length if self.postgresql else sa.func.json_array_length)(array, type_=sa.Integer)

    def _appended(self, array: sa.ColumnElement[Any], value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        if self.postgresql:
            return sa.cast(array.op("||")(sa.func.to_jsonb(value)), sa.JSON)
        return sa.func.json_insert(array, "$[#]", value, type_=sa.JSON)

    def _without_last(self, array: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        if self.postgresql:
            return sa.cast(sa.cast(array, postgresql.JSONB).op("-")(-1), sa.JSON)
        return sa.func.json_remove(array, "$[#-1]", type_=sa.JSON)


def for_database(db: Database, calls: int, window_s: float) -> Limiter:
    """In the database on PostgreSQL (several processes may share it), in memory on SQLite (one process)."""
    if make_url(db.url).get_backend_name() == "postgresql":
        return DatabaseRateLimiter(db, calls, window_s)
    return RateLimiter(calls, window_s)
