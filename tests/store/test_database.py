"""The database connection: a SQLite file made where configured, in WAL mode with foreign keys enforced; reads that
see what another process committed at once; a read-only fast path on SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.schema import bot_threads
from bot.store.threads import BotThread, ThreadStore


async def test_a_sqlite_file_is_made_in_its_folder_in_wal_mode_with_foreign_keys_on(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/data/new/bot.sqlite3")
    with pytest.raises(RuntimeError, match="database is not open"):
        _ = db.engine
    await db.open()
    try:
        assert (tmp_path / "data" / "new" / "bot.sqlite3").is_file()
        async with db.reading() as conn:
            assert (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await db.close()
    with pytest.raises(RuntimeError, match="database is not open"):
        db.reading()


async def test_the_fast_sqlite_reader_sees_each_commit_at_once_and_cannot_write(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
    await db.open()
    try:
        reader = db.sqlite_reader
        assert reader is not None
        query = "SELECT conversation_id FROM bot_threads WHERE thread_id = :id"
        assert await reader.fetch(query, {"id": 900}) == []
        await ThreadStore(db).add(BotThread(900, 5, 10, "conv-1"), started_by=1)
        assert [row["conversation_id"] for row in await reader.fetch(query, {"id": 900})] == ["conv-1"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.fetch("DELETE FROM bot_threads", {})
    finally:
        await db.close()


async def test_another_process_s_commit_is_read_at_once(db: Database) -> None:
    other = Database(db.url)  # a second bot process on the same database
    await other.open()
    try:
        async with db.reading() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(bot_threads))).scalar_one() == 0
        await ThreadStore(other).add(BotThread(900, 5, 10, "conv-1"), started_by=1)
        assert await ThreadStore(db).get(900) == BotThread(900, 5, 10, "conv-1")
        assert await db.problem(5.0) is None
    finally:
        await other.close()
