"""The database connection: a SQLite file made where configured, in WAL mode with foreign keys enforced; reads that
see what another process committed at once; a read-only fast path on SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bot.store.answers import AnswerStore, NewAnswer
from bot.store.database import Database
from bot.store.records import utcnow
from bot.store.schema import answers, bot_threads
from bot.store.threads import BotThread, ThreadStore
from bot.store.usage import UsageRow, UsageStore
from tests.test_limits import POSTGRES, over_a_counted_wire


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


async def test_a_write_of_several_statements_is_one_transaction_whose_values_read_back_as_written(db: Database) -> None:
    """Database.write (each answer's writes; on a SQLite file, its own writer thread): the statements commit together
    or not at all, and what they bind (times, JSON, booleans) reads back through the engine as SQLAlchemy wrote it."""
    store = AnswerStore(db)
    new = NewAnswer(1, 2, 3, "c", "slash", "m", "Where is the spawn?", "At 0, 0.", private=True)
    stored = await store.add(new, message_ids=[11, 12])
    assert await store.get(stored.id) == stored
    assert (stored.message_ids, stored.private, stored.delivered) == ([11, 12], True, True)

    insert = sa.insert(answers)
    row = attrs.asdict(new) | {"message_ids": [], "images": None, "created_at": utcnow(), "delivered": True}
    with pytest.raises(IntegrityError):  # the second statement takes the id the first took: refused
        await db.write((insert, row | {"id": 9000}), (insert, row | {"id": 9000}))
    assert await store.get(9000) is None  # and the first was rolled back with it
    (returned,) = await db.write((sa.insert(answers).returning(answers.c.id), row | {"id": 9001}))
    assert [r["id"] for r in returned] == [9001]
    again = await store.get(9001)
    assert again is not None and again.created_at == row["created_at"] and again.message_ids == []


async def test_the_sqlite_files_writer_waits_for_a_write_the_engine_holds(tmp_path: Path) -> None:
    """Two writers on one SQLite file (the engine's connections and the file's own writer): the writer's transaction
    waits for the engine's to end, then commits; nothing fails with "database is locked"."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
    await db.open()
    try:
        assert db.sqlite_writer is not None
        threads = ThreadStore(db)
        insert = sa.insert(bot_threads)
        row = {"guild_id": 10, "parent_channel_id": 5, "started_by": 1, "created_at": utcnow()}
        async with db.engine.begin() as conn:
            await conn.execute(insert, row | {"thread_id": 1, "conversation_id": "a"})
            writing = asyncio.create_task(db.write((insert, row | {"thread_id": 2, "conversation_id": "b"})))
            await conn.execute(sa.text("SELECT 1"))  # the writer's turn comes while this transaction holds the lock
        await writing
        assert [await threads.get(1), await threads.get(2)] == [BotThread(1, 10, 5, "a"), BotThread(2, 10, 5, "b")]
    finally:
        await db.close()


@pytest.mark.parametrize("backend", POSTGRES)
async def test_on_postgresql_each_answer_s_writes_are_one_round_trip_each(backend: str, tmp_path: Path) -> None:
    """The answer stored, then its model call recorded with its counters (and the server's budget read back): one
    round trip each, with no BEGIN and COMMIT around them."""
    async with over_a_counted_wire(backend, tmp_path) as (wire, db):
        answers, usage = AnswerStore(db), UsageStore(db)
        new = NewAnswer(1, 2, 3, "c", "slash", "m", "Where is the spawn?", "At 0, 0.")
        call = UsageRow(1, 3, "m", "answer", 120, 30, 0, 0.01, utcnow())
        await answers.add(new)  # each statement is prepared once per connection
        await usage.record(call)
        trips = wire.round_trips
        stored = await answers.add(new)
        assert wire.round_trips - trips == 1
        trips = wire.round_trips
        spent = await usage.record(call)
        assert wire.round_trips - trips == 1
        assert (spent.server_tokens, spent.member_tokens) == (300, 300)
        assert await answers.get(stored.id) == stored
