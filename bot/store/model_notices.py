"""Which notices about a server's model were sent: each (server, model, kind) once, across restarts and processes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.database import Database
from bot.store.schema import model_notices

NoticeKind = Literal["missing", "shutdown"]


class ModelNoticeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, guild_id: int, model: str, kind: NoticeKind, now: dt.datetime) -> bool:
        """True for the one caller that gets to send this notice; False when it was sent (or is being sent) already."""
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        insert = (
            dialect.insert(model_notices)
            .values(guild_id=guild_id, model=model, kind=kind, sent_at=now)
            .on_conflict_do_nothing()
        )
        async with self._db.engine.begin() as conn:
            return (await conn.execute(insert)).rowcount == 1

    async def release(self, guild_id: int, model: str, kind: NoticeKind) -> None:
        """Forget a notice, so it is sent again next time (the model answered again; or the notice could not be
        posted)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.delete(model_notices).where(
                    model_notices.c.guild_id == guild_id,
                    model_notices.c.model == model,
                    model_notices.c.kind == kind,
                )
            )

    async def sent(self, guild_id: int, kind: NoticeKind) -> list[tuple[str, dt.datetime]]:
        """(model, when) of the notices of this kind recorded for the server."""
        async with self._db.reading() as conn:
            rows = await conn.execute(
                sa.select(model_notices.c.model, model_notices.c.sent_at).where(
                    model_notices.c.guild_id == guild_id, model_notices.c.kind == kind
                )
            )
            return [(r.model, r.sent_at) for r in rows]
