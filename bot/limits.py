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
from sqlalchemy.ext.asyncio import AsyncConnection

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

    Each user has one row holding the times of the calls still inside the window. A take locks the row (created if
    missing) with one INSERT ... ON CONFLICT DO UPDATE, then writes the new window in the same transaction: two
    processes taking for one user at once take turns. Times are the wall clock (`time.time`; the hosts' clocks must
    agree to well within a window). Rows whose last call has left the window are deleted now and then.
    """

    def __init__(self, db: Database, calls: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._calls = calls
        self._window = window_s
        self._clock = clock
        self._pruned_at: float | None = None

    async def take(self, key: int) -> None:
        async with self._db.engine.begin() as conn:
            hits = await self._locked(conn, key, create=True)
            now = self._clock()
            assert hits is not None
            hits = [h for h in hits if h > now - self._window]
            if len(hits) >= self._calls:
                raise RateLimited(hits[0] + self._window - now)  # rolls back: nothing is written
            hits.append(now)
            await self._write(conn, key, hits)
        await self._prune(now)

    async def give_back(self, key: int) -> None:
        """Returns the latest call taken for `key` (by any process)."""
        async with self._db.engine.begin() as conn:
            hits = await self._locked(conn, key, create=False)
            if hits:
                hits.pop()
                await self._write(conn, key, hits)

    async def _locked(self, conn: AsyncConnection, key: int, *, create: bool) -> list[float] | None:
        """The user's call times, with the row locked until the transaction ends (None: no row, and not created)."""
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock, now: one process at a time
        if create:
            insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            statement = (
                insert(rate_limits)
                .values(user_id=key, hits=[], expires_at=0.0)
                .on_conflict_do_update(index_elements=[rate_limits.c.user_id], set_={"user_id": key})
                .returning(rate_limits.c.hits)
            )
            return [float(h) for h in (await conn.execute(statement)).scalar_one()]
        row = (
            await conn.execute(sa.select(rate_limits.c.hits).where(rate_limits.c.user_id == key).with_for_update())
        ).first()
        return None if row is None else [float(h) for h in row.hits]

    async def _write(self, conn: AsyncConnection, key: int, hits: list[float]) -> None:
        expires = (hits[-1] + self._window) if hits else 0.0
        await conn.execute(
            sa.update(rate_limits).where(rate_limits.c.user_id == key).values(hits=hits, expires_at=expires)
        )

    async def _prune(self, now: float) -> None:
        """At most once a window: forget the users whose calls have all left the window (any process's)."""
        if self._pruned_at is not None and now - self._pruned_at < self._window:
            return
        self._pruned_at = now
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(rate_limits).where(rate_limits.c.expires_at <= now))


def for_database(db: Database, calls: int, window_s: float) -> Limiter:
    """In the database on PostgreSQL (several processes may share it), in memory on SQLite (one process)."""
    if make_url(db.url).get_backend_name() == "postgresql":
        return DatabaseRateLimiter(db, calls, window_s)
    return RateLimiter(calls, window_s)
