"""A fresh database per test: SQLite always; PostgreSQL too when TEST_DATABASE_URL names one (CI starts one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store.database import Database
from bot.store.schema import metadata

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


async def open_database(backend: str, tmp_path: Path) -> Database:
    """A fresh database of `backend`: a new SQLite file, or the worker's PostgreSQL database with empty tables."""
    if backend == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
        await database.open()
        return database
    database = Database(os.environ["TEST_DATABASE_URL"])
    await database.open()
    async with database.engine.begin() as conn:  # start from empty tables
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    return database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(request.param, tmp_path)
    yield database
    await database.close()
