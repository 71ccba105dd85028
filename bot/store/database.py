"""The database connection: an async SQLAlchemy engine, schema creation and upgrades on start."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.store.schema import metadata, schema_version

_log = logging.getLogger(__name__)

# Each upgrade takes the schema from version i to i+1; create_all makes new tables, upgrades alter existing ones.
Upgrade = Callable[[AsyncConnection], Awaitable[None]]


async def _add_previous_model(conn: AsyncConnection) -> None:
    columns = await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("guild_settings")})
    if "previous_model" not in columns:
        await conn.execute(sa.text("ALTER TABLE guild_settings ADD COLUMN previous_model VARCHAR(200)"))


async def _add_privacy_columns(conn: AsyncConnection) -> None:
    """Answers remember whether they were private and delivered; one pending correction per (answer, author)."""
    answer_columns = await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("answers")})
    false, true = ("false", "true") if conn.dialect.name == "postgresql" else ("0", "1")
    if "private" not in answer_columns:
        await conn.execute(sa.text(f"ALTER TABLE answers ADD COLUMN private BOOLEAN NOT NULL DEFAULT {false}"))
    if "delivered" not in answer_columns:
        await conn.execute(sa.text(f"ALTER TABLE answers ADD COLUMN delivered BOOLEAN NOT NULL DEFAULT {true}"))
    columns = await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("corrections")})
    if "asker_id" not in columns:
        await conn.execute(sa.text("ALTER TABLE corrections ADD COLUMN asker_id BIGINT"))
        await conn.execute(
            sa.text("UPDATE corrections SET asker_id = (SELECT user_id FROM answers WHERE answers.id = answer_id)")
        )
    if "private" not in columns:
        await conn.execute(sa.text(f"ALTER TABLE corrections ADD COLUMN private BOOLEAN NOT NULL DEFAULT {false}"))
        await conn.execute(sa.text("UPDATE corrections SET private = (guild_id IS NULL)"))
    # Duplicated pending corrections (from concurrent submissions before this index): keep the newest of each.
    await conn.execute(
        sa.text(
            "DELETE FROM corrections WHERE status = 'pending' AND id NOT IN "
            "(SELECT max(id) FROM corrections WHERE status = 'pending' GROUP BY answer_id, author_id)"
        )
    )
    await conn.execute(
        sa.text(
            "CREATE UNIQUE INDEX IF NOT EXISTS uq_corrections_pending ON corrections (answer_id, author_id) "
            "WHERE status = 'pending'"
        )
    )


async def _add_notice_attempts(conn: AsyncConnection) -> None:
    columns = await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("training_jobs")})
    if "notice_attempts" not in columns:
        await conn.execute(sa.text("ALTER TABLE training_jobs ADD COLUMN notice_attempts INTEGER NOT NULL DEFAULT 0"))
    if "notice_given_up_at" not in columns:
        await conn.execute(sa.text("ALTER TABLE training_jobs ADD COLUMN notice_given_up_at TIMESTAMP WITH TIME ZONE"))


async def _columns(conn: AsyncConnection, table: str) -> set[str]:
    return await conn.run_sync(lambda sync: {c["name"] for c in sa.inspect(sync).get_columns(table)})


async def _add_persona_and_image_columns(conn: AsyncConnection) -> None:
    """Answers and corrections record the persona and pictures the model was given; threads look up conversations."""
    for table in ("answers", "corrections"):
        columns = await _columns(conn, table)
        if "system_prompt" not in columns:
            await conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN system_prompt TEXT"))
        if "images" not in columns:
            await conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN images JSON"))
    await conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_answers_conversation ON answers (conversation_id, id)"))


UPGRADES: list[Upgrade] = [
    _add_previous_model,
    _add_privacy_columns,
    _add_notice_attempts,
    _add_persona_and_image_columns,
]
SCHEMA_VERSION = len(UPGRADES)


class Database:
    """Owns the engine. `open()` creates or upgrades the schema; `close()` disposes of the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("database is not open")
        return self._engine

    async def open(self) -> None:
        url = make_url(self.url)
        kwargs: dict[str, Any] = {}
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)
        if url.get_backend_name() == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self._engine = engine
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await _upgrade(conn)
        _log.info("database ready (%s)", url.render_as_string(hide_password=True))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def _upgrade(conn: AsyncConnection) -> None:
    row = (await conn.execute(sa.select(schema_version.c.version).where(schema_version.c.id == 1))).first()
    if row is None:
        # A fresh database was just created at the newest shape.
        await conn.execute(sa.insert(schema_version).values(id=1, version=SCHEMA_VERSION))
        return
    version = int(row.version)
    for step in UPGRADES[version:]:
        await step(conn)
    if version != SCHEMA_VERSION:
        _log.info("database schema upgraded from version %d to %d", version, SCHEMA_VERSION)
        await conn.execute(sa.update(schema_version).where(schema_version.c.id == 1).values(version=SCHEMA_VERSION))
