"""Per-guild settings: which model answers in a guild."""

from __future__ import annotations

import sqlalchemy as sa

from bot.store.answers import utcnow
from bot.store.database import Database
from bot.store.schema import guild_settings


class GuildSettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def active_model(self, guild_id: int | None) -> str | None:
        """The model chosen for this guild, or None to use the configured default (always None for DMs)."""
        if guild_id is None:
            return None
        async with self._db.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(guild_settings.c.active_model).where(guild_settings.c.guild_id == guild_id)
                )
            ).scalar_one_or_none()

    async def set_active_model(self, guild_id: int, model: str | None, by_user: int) -> None:
        values = {"active_model": model, "updated_by": by_user, "updated_at": utcnow()}
        async with self._db.engine.begin() as conn:
            updated = await conn.execute(
                sa.update(guild_settings).where(guild_settings.c.guild_id == guild_id).values(**values)
            )
            if updated.rowcount == 0:
                await conn.execute(sa.insert(guild_settings).values(guild_id=guild_id, **values))
