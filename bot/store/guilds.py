"""Per-guild settings: which model answers in a guild, and whether its approved corrections are given to it."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.database import Database
from bot.store.personas import Persona, PersonaLookup
from bot.store.records import utcnow
from bot.store.schema import guild_settings


@attrs.frozen
class QuestionSettings:
    """What answering a question in a server needs of its settings, read at once."""

    active_model: str | None  # None: the configured default
    use_corrections: bool | None  # None: never chosen, the configured default
    persona: Persona | None  # the channel's (the first of those asked for that has one), else the server's
    has_knowledge: bool  # whether the server has any knowledge source


class GuildSettingsStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def active_model(self, guild_id: int | None) -> str | None:
        """The model chosen for this guild, or None to use the configured default (always None for DMs)."""
        if guild_id is None:
            return None
        rows = await self._db.fetch("SELECT active_model FROM guild_settings WHERE guild_id = :g", {"g": guild_id})
        return None if not rows or rows[0]["active_model"] is None else str(rows[0]["active_model"])

    async def for_question(self, guild_id: int | None, channel_ids: Sequence[int]) -> QuestionSettings:
        """The server's model, corrections switch, persona for the first of `channel_ids` that has one, and whether it
        has knowledge sources, in one read (four small reads before every answer were a tenth of its CPU)."""
        if guild_id is None:  # DMs: the configured defaults
            return QuestionSettings(None, None, None, False)
        where = PersonaLookup.of(channel_ids)
        rows = await self._db.fetch(
            "SELECT s.active_model, s.use_corrections, "
            "(SELECT 1 FROM knowledge_sources WHERE guild_id = q.g LIMIT 1) AS has_knowledge, p.channel_id, p.prompt "
            "FROM (SELECT CAST(:g AS BIGINT) AS g) AS q "
            "LEFT JOIN guild_settings AS s ON s.guild_id = q.g "
            f"LEFT JOIN personas AS p ON p.guild_id = q.g AND p.channel_id IN ({where.in_list})",
            {"g": guild_id} | where.params,
        )
        first = rows[0]
        found = {int(r["channel_id"]): str(r["prompt"]) for r in rows if r["channel_id"] is not None}
        return QuestionSettings(
            None if first["active_model"] is None else str(first["active_model"]),
            None if first["use_corrections"] is None else bool(first["use_corrections"]),
            where.first(found),
            first["has_knowledge"] is not None,
        )

    async def active_models(self) -> list[tuple[int, str]]:
        """(guild id, model) of every server that chose a model of its own."""
        async with self._db.reading() as conn:
            rows = await conn.execute(
                sa.select(guild_settings.c.guild_id, guild_settings.c.active_model).where(
                    guild_settings.c.active_model.is_not(None)
                )
            )
            return [(int(r.guild_id), str(r.active_model)) for r in rows]

    async def set_active_model(self, guild_id: int, model: str | None, by_user: int) -> str | None:
        """Switch the guild's model (None: back to the default); returns the model it replaced.

        One upsert, so two first switches at once cannot both insert (and the later one wins)."""
        now = utcnow()
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(guild_settings).values(
            guild_id=guild_id, active_model=model, previous_model=None, updated_by=by_user, updated_at=now
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[guild_settings.c.guild_id],
            # In SET, the table's columns are the row before the update: its active model becomes the previous one.
            set_={
                "active_model": insert.excluded.active_model,
                "previous_model": guild_settings.c.active_model,
                "updated_by": insert.excluded.updated_by,
                "updated_at": insert.excluded.updated_at,
            },
        ).returning(guild_settings.c.previous_model)
        async with self._db.engine.begin() as conn:
            return (await conn.execute(upsert)).scalar_one()

    async def previous_model(self, guild_id: int) -> tuple[bool, str | None]:
        """(whether there is anything to roll back to, the model before the current one — None is the default)."""
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(guild_settings.c.previous_model, guild_settings.c.updated_at).where(
                        guild_settings.c.guild_id == guild_id
                    )
                )
            ).first()
        # updated_at is set by model switches only (a row may exist just for the corrections switch).
        return (row is not None and row.updated_at is not None, row.previous_model if row else None)

    async def use_corrections(self, guild_id: int) -> bool | None:
        """Whether the guild gives approved corrections to the model (None: never chosen, the configured default)."""
        rows = await self._db.fetch("SELECT use_corrections FROM guild_settings WHERE guild_id = :g", {"g": guild_id})
        return None if not rows or rows[0]["use_corrections"] is None else bool(rows[0]["use_corrections"])

    async def set_use_corrections(self, guild_id: int, on: bool) -> None:
        """Turn corrections on or off for the guild; its model choice (and so /model rollback) is left as it is."""
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(guild_settings).values(guild_id=guild_id, use_corrections=on)
        upsert = insert.on_conflict_do_update(
            index_elements=[guild_settings.c.guild_id],
            set_={"use_corrections": insert.excluded.use_corrections},
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(upsert)
