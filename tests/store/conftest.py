"""A fresh database per test: SQLite always; PostgreSQL too when TEST_DATABASE_URL names one (CI starts one)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from bot.store.answers import Answer, AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
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


async def stored_answer(
    db: Database,
    question: str = "Capital of Australia?",
    *,
    answer: str = "Sydney.",
    guild: int | None = 5,
    user: int = 1,
    private: bool = False,
) -> Answer:
    """An answer the bot gave `user` to a /ask in channel 10 of `guild` (None: a DM), stored as the bot stores it."""
    return await AnswerStore(db).add(
        NewAnswer(
            guild_id=guild,
            channel_id=10,
            user_id=user,
            conversation_id="c",
            source="slash",
            model="m",
            question=question,
            answer=answer,
            private=private,
        )
    )


async def approved(
    db: Database,
    question: str,
    fixed: str,
    *,
    guild: int = 5,
    user: int = 1,
    private: bool = False,
    review: Literal["approved", "rejected"] | None = "approved",
) -> int:
    """A correction made the way the bot makes one: `user`'s answer to `question`, their fix of it, and an admin's
    `review` (None: not reviewed yet, pending); its id."""
    answer = await stored_answer(db, question, answer="I don't know.", guild=guild, user=user, private=private)
    store = CorrectionStore(db)
    saved = (await store.submit(answer, user, fixed)).correction
    return saved.id if review is None else (await store.review(saved.id, 99, review)).id
