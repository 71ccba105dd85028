"""Alembic's entry point. The bot passes its open connection (bot.store.migrate); the `alembic` command makes one.

Developers: `.venv/bin/alembic upgrade head` / `.venv/bin/alembic revision --autogenerate -m "..."` from the project
folder use DATABASE_URL, else config.toml's [storage] url, and take the same lock as the bot.
"""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.schema import described_here, metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, include_object=described_here)
    with context.begin_transaction():
        context.run_migrations()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    config_path = Path(os.environ.get("TEACHBOT_CONFIG", "") or "config.toml")
    with open(config_path, "rb") as f:
        return str(tomllib.load(f)["storage"]["url"])


async def _run_from_command_line() -> None:
    from bot.store.migrate import adopt_pre_alembic, lock

    engine = create_async_engine(_database_url())
    try:
        async with engine.begin() as conn:

            def run(sync: Connection) -> None:
                lock(sync)
                adopt_pre_alembic(sync)
                _configure_and_run(sync)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
given = context.config.attributes.get("connection")
if given is not None:
    _configure_and_run(given)
else:
    asyncio.run(_run_from_command_line())
