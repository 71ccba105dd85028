"""Times read back from either database are in UTC with their zone, so they compare and show the same everywhere."""

from __future__ import annotations

import datetime as dt

import attrs
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.records import as_utc, from_row
from bot.store.schema import bot_threads


@attrs.frozen
class Started:
    thread_id: int
    created_at: dt.datetime


async def test_a_row_s_times_come_back_zone_aware_in_utc(db: Database) -> None:
    written = dt.datetime(2027, 1, 14, 12, 30, tzinfo=dt.UTC)
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.insert(bot_threads).values(
                thread_id=900, guild_id=5, parent_channel_id=10, conversation_id="c", started_by=1, created_at=written
            )
        )
    async with db.reading() as conn:
        row = (await conn.execute(sa.select(bot_threads.c.thread_id, bot_threads.c.created_at))).one()
    assert from_row(Started, row) == Started(900, written)
    assert from_row(Started, row, thread_id=1).thread_id == 1
    assert as_utc(dt.datetime(2027, 1, 14, 12, 30)) == written
