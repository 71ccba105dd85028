"""Taking turns to IDENTIFY: shard processes starting together on one PostgreSQL wait for each other, by bucket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.database import Database

_log = logging.getLogger(__name__)

# Discord allows one IDENTIFY per rate-limit bucket (shard_id % max_concurrency) every 5 seconds; one more is answered
# with Invalid Session, and the shard backs off and tries again (discord-api-docs, topics/gateway "Rate Limiting").
IDENTIFY_WINDOW_S = 5.0
# First key of pg_advisory_xact_lock(int, int): this lock's own family ("teachbot identify"); the second is the bucket.
_LOCK_FAMILY = 0x7EAC_1D00


def buckets(shard_ids: Sequence[int] | None, max_concurrency: int) -> list[int]:
    """The rate-limit buckets these shards identify in (every bucket when the process runs every shard)."""
    if shard_ids is None:
        return list(range(max_concurrency))
    return sorted({shard_id % max_concurrency for shard_id in shard_ids})


class IdentifyTurns:
    """While this process's shards identify, it holds a PostgreSQL advisory lock per bucket they use; another process
    starting at the same time waits for it, and gets its turn once Discord's identify window has passed. hikari
    already paces the shards of one process. On SQLite there is one process, so nothing is locked.

    The locks are transaction locks on a connection of their own: closing it (or the process dying) lets them go."""

    def __init__(self, database: Database, *, window_s: float = IDENTIFY_WINDOW_S) -> None:
        self._db = database
        self._window_s = window_s
        self._held: AsyncConnection | None = None
        self._release: asyncio.Task[None] | None = None

    @property
    def needed(self) -> bool:
        """Whether other processes may share the database (and so Discord's identify limit) with this one."""
        return self._db.engine.dialect.name == "postgresql"

    @property
    def holding(self) -> bool:
        return self._held is not None

    async def take(self, shard_ids: Sequence[int] | None, max_concurrency: int) -> None:
        """Wait until no other process identifies in these shards' buckets, then hold them until `release`."""
        if not self.needed or self._held is not None:
            return
        keys = buckets(shard_ids, max(1, max_concurrency))
        conn = await self._db.engine.connect()
        try:
            await conn.begin()
            for bucket in keys:  # always in ascending order, so two processes cannot each hold what the other waits on
                lock = {"family": _LOCK_FAMILY, "bucket": bucket}
                taken = (
                    await conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:family, :bucket)"), lock)
                ).scalar()
                if not taken:
                    _log.info("another process is identifying shards in bucket %d; waiting for its turn to end", bucket)
                    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:family, :bucket)"), lock)
        except BaseException:
            await conn.close()
            raise
        self._held = conn

    def release_after_window(self) -> None:
        """This process's shards have identified: hand the turn on once Discord's window has passed."""
        if self._held is not None and self._release is None:
            self._release = asyncio.get_running_loop().create_task(self._release_later())

    async def _release_later(self) -> None:
        await asyncio.sleep(self._window_s)
        await self.release()

    async def release(self) -> None:
        conn, self._held = self._held, None
        if conn is not None:
            await conn.close()  # rolls the transaction back, and with it the locks

    async def close(self) -> None:
        if self._release is not None:
            self._release.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._release
            self._release = None
        await self.release()
