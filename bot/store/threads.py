"""Threads the bot opened for a conversation; a message in one of them continues that conversation."""

from __future__ import annotations

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.database import Database
from bot.store.records import utcnow
from bot.store.schema import bot_threads


@attrs.frozen
class BotThread:
    thread_id: int
    guild_id: int
    parent_channel_id: int
    conversation_id: str


class ThreadStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, thread: BotThread, started_by: int) -> None:
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(bot_threads).values(**attrs.asdict(thread), started_by=started_by, created_at=utcnow())
        async with self._db.engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_nothing(index_elements=[bot_threads.c.thread_id]))

    async def remove(self, thread_id: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(bot_threads).where(bot_threads.c.thread_id == thread_id))

    async def get(self, thread_id: int) -> BotThread | None:
        """The bot's thread with this id, or None (any other channel or thread)."""
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        bot_threads.c.thread_id,
                        bot_threads.c.guild_id,
                        bot_threads.c.parent_channel_id,
                        bot_threads.c.conversation_id,
                    ).where(bot_threads.c.thread_id == thread_id)
                )
            ).first()
        if row is None:
            return None
        return BotThread(int(row.thread_id), int(row.guild_id), int(row.parent_channel_id), str(row.conversation_id))
