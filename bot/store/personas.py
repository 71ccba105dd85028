"""Personas: the system prompt set for a server or for one of its channels (a channel's wins over the server's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.database import Database
from bot.store.records import utcnow
from bot.store.schema import personas

SERVER = 0  # the channel id under which a server-wide persona is stored
Scope = Literal["channel", "server", "default"]


@attrs.frozen
class Persona:
    prompt: str
    scope: Scope
    channel_id: int | None = None  # for a channel's persona


@attrs.frozen
class PersonaLookup:
    """Where a persona is looked for: the channels first to last, then the server's (`SERVER`); in SQL,
    `channel_id IN (<in_list>)` with `params` c0, c1, …"""

    wanted: tuple[int, ...]

    @classmethod
    def of(cls, channel_ids: Sequence[int]) -> PersonaLookup:
        return cls((*channel_ids, SERVER))

    @property
    def in_list(self) -> str:
        return ", ".join(f":c{i}" for i in range(len(self.wanted)))

    @property
    def params(self) -> dict[str, Any]:
        return {f"c{i}": c for i, c in enumerate(self.wanted)}

    def first(self, found: dict[int, str]) -> Persona | None:
        """Of the prompts `found` by channel id, the one of the first place looked in that has one."""
        for channel_id in self.wanted:
            if channel_id in found:
                scope: Scope = "server" if channel_id == SERVER else "channel"
                return Persona(found[channel_id], scope, None if channel_id == SERVER else channel_id)
        return None


class PersonaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, guild_id: int, channel_id: int | None, prompt: str, by_user: int) -> None:
        """Set the channel's persona (or the server's, for channel_id None), replacing any earlier one."""
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        values = {"prompt": prompt, "updated_by": by_user, "updated_at": utcnow()}
        insert = dialect.insert(personas).values(guild_id=guild_id, channel_id=channel_id or SERVER, **values)
        upsert = insert.on_conflict_do_update(index_elements=[personas.c.guild_id, personas.c.channel_id], set_=values)
        async with self._db.engine.begin() as conn:
            await conn.execute(upsert)

    async def reset(self, guild_id: int, channel_id: int | None) -> bool:
        """Remove the channel's (or server's) persona; False when there was none."""
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.delete(personas).where(
                    personas.c.guild_id == guild_id, personas.c.channel_id == (channel_id or SERVER)
                )
            )
        return bool(result.rowcount)

    async def find(self, guild_id: int | None, channel_ids: Sequence[int]) -> Persona | None:
        """The persona that applies in the first of `channel_ids` that has one, else the server's; None for neither
        (and in DMs)."""
        if guild_id is None:
            return None
        where = PersonaLookup.of(channel_ids)
        rows = await self._db.fetch(
            f"SELECT channel_id, prompt FROM personas WHERE guild_id = :g AND channel_id IN ({where.in_list})",
            {"g": guild_id} | where.params,
        )
        return where.first({int(r["channel_id"]): str(r["prompt"]) for r in rows})
