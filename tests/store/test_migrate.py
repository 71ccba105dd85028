"""Schema migrations: new databases, databases made before Alembic (schema_version 1 and 0), several processes at once.

The pre-Alembic databases are built here with the SQL that those builds ran (not from bot/store/schema.py, which
moves on), on SQLite always and on PostgreSQL when TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import sys
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.llm.references import References
from bot.llm.settings import LLMSettings
from bot.store.answers import AnswerStore
from bot.store.correction_search import CorrectionSearch
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.migrate import alembic_config, head_revision
from bot.store.schema import corrections, described_here, metadata
from tests.store.conftest import BACKENDS

# What teachbot's create_all made before Alembic, per dialect ({serial} etc. differ between SQLite and PostgreSQL).
TYPES = {
    "sqlite": {"serial": "INTEGER", "bigserial": "BIGINT", "ts": "DATETIME"},
    "postgresql": {"serial": "SERIAL", "bigserial": "BIGSERIAL", "ts": "TIMESTAMP WITH TIME ZONE"},
}
ANSWERS_TABLES = [
    "CREATE TABLE answers (id {serial} NOT NULL, guild_id BIGINT, channel_id BIGINT NOT NULL, user_id BIGINT NOT NULL,"
    " conversation_id VARCHAR(32) NOT NULL, source VARCHAR(16) NOT NULL, model VARCHAR(200) NOT NULL,"
    " question TEXT NOT NULL, answer TEXT NOT NULL, transcript TEXT, message_ids JSON NOT NULL, prompt_tokens INTEGER,"
    " completion_tokens INTEGER, created_at {ts} NOT NULL, PRIMARY KEY (id))",
    "CREATE INDEX ix_answers_memory ON answers (channel_id, user_id, id)",
    "CREATE INDEX ix_answers_guild_user ON answers (guild_id, user_id, id)",
    "CREATE TABLE guild_settings (guild_id {bigserial} NOT NULL, active_model VARCHAR(200), {previous_model}"
    " updated_by BIGINT, updated_at {ts}, PRIMARY KEY (guild_id))",
    "CREATE TABLE schema_version (id {serial} NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (id))",
    "CREATE TABLE corrections (id {serial} NOT NULL, answer_id INTEGER NOT NULL, guild_id BIGINT,"
    " channel_id BIGINT NOT NULL, author_id BIGINT NOT NULL, question TEXT NOT NULL, original_answer TEXT NOT NULL,"
    " corrected_answer TEXT NOT NULL, note TEXT, transcript TEXT, corrected_transcript TEXT,"
    " model VARCHAR(200) NOT NULL, status VARCHAR(16) NOT NULL, reviewer_id BIGINT, reviewed_at {ts},"
    " created_at {ts} NOT NULL, updated_at {ts} NOT NULL, PRIMARY KEY (id),"
    " FOREIGN KEY(answer_id) REFERENCES answers (id))",
    "CREATE INDEX ix_corrections_author_answer ON corrections (answer_id, author_id, status)",
    "CREATE INDEX ix_corrections_queue ON corrections (guild_id, status, id)",
]
TRAINING_TABLES = [
    "CREATE TABLE training_jobs (id {serial} NOT NULL, guild_id BIGINT NOT NULL, channel_id BIGINT NOT NULL,"
    " requester_id BIGINT NOT NULL, backend VARCHAR(32) NOT NULL, remote_id VARCHAR(200) NOT NULL,"
    " base_model VARCHAR(200) NOT NULL, method VARCHAR(8) NOT NULL, suffix VARCHAR(64),"
    " dataset_sha256 VARCHAR(64) NOT NULL, dataset_examples INTEGER NOT NULL, status VARCHAR(32) NOT NULL,"
    " fine_tuned_model VARCHAR(300), error TEXT, steps_done INTEGER, total_steps INTEGER, last_event_id VARCHAR(200),"
    " created_at {ts} NOT NULL, updated_at {ts} NOT NULL, finished_at {ts}, notified_at {ts}, PRIMARY KEY (id),"
    " UNIQUE (remote_id))",
    "CREATE INDEX ix_training_jobs_guild ON training_jobs (guild_id, id)",
    "CREATE TABLE job_events (job_id INTEGER NOT NULL, event_id VARCHAR(200) NOT NULL, created_at {ts} NOT NULL,"
    " level VARCHAR(16) NOT NULL, message TEXT NOT NULL, kind VARCHAR(16) NOT NULL, step INTEGER, total_steps INTEGER,"
    " train_loss FLOAT, valid_loss FLOAT, PRIMARY KEY (job_id, event_id),"
    " FOREIGN KEY(job_id) REFERENCES training_jobs (id))",
]
ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def drop_everything(conn: Connection) -> None:
    reflected = sa.MetaData()
    reflected.reflect(conn)
    reflected.drop_all(conn)


@pytest.fixture(params=BACKENDS)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all (not even alembic_version)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"
        return
    url = os.environ["TEST_DATABASE_URL"]
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(drop_everything)
    try:
        yield url
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(drop_everything)
        await engine.dispose()


async def execute(url: str, *statements: str, **params: Any) -> None:
    """Run SQL written for both dialects: {serial}, {bigserial}, {ts} and `params` are filled in; `:t` binds NOW."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            types = TYPES[conn.dialect.name]
            for statement in statements:
                sql = sa.text(statement.format(**types, **params))
                if ":t" in statement:  # written through SQLAlchemy's DateTime, as the old builds wrote it
                    sql = sql.bindparams(sa.bindparam("t", NOW, type_=sa.DateTime(timezone=True)))
                await conn.execute(sql)
    finally:
        await engine.dispose()


async def build_pre_alembic(url: str, version: int) -> None:
    """A database as the builds before Alembic left it. Version 0 predates previous_model and the training tables."""
    if version == 1:
        await execute(url, *ANSWERS_TABLES, *TRAINING_TABLES, previous_model="previous_model VARCHAR(200),")
    else:
        await execute(url, *ANSWERS_TABLES, previous_model="")
    await execute(
        url,
        f"INSERT INTO schema_version (id, version) VALUES (1, {version})",
        "INSERT INTO answers (guild_id, channel_id, user_id, conversation_id, source, model, question, answer,"
        " message_ids, created_at) VALUES (5, 10, 1, 'c', 'slash', 'm', 'Capital of Australia?', 'Sydney.', '[]', :t)",
        "INSERT INTO guild_settings (guild_id, active_model) VALUES (5, 'ft:old')",
    )


async def add_correction(url: str, author: int, status: str, text: str) -> None:
    await execute(
        url,
        "INSERT INTO corrections (answer_id, guild_id, channel_id, author_id, question, original_answer,"
        " corrected_answer, model, status, created_at, updated_at)"
        " VALUES (1, 5, 10, {author}, 'Capital of Australia?', 'Sydney.', '{text}', 'm', '{status}', :t, :t)",
        author=author,
        text=text,
        status=status,
    )


async def schema_state(database: Database) -> tuple[str | None, list[Any], list[tuple[int, int]]]:
    """Alembic's revision, what differs between the database and bot/store/schema.py, and schema_version's rows."""
    async with database.engine.connect() as conn:
        revision = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"include_object": described_here}), metadata
            )
        )
        legacy = [tuple(row) for row in (await conn.execute(sa.text("SELECT id, version FROM schema_version"))).all()]
    return revision, diff, legacy  # type: ignore[return-value]


async def test_a_new_database_is_created_at_the_newest_revision_exactly_as_schema_py_says(empty_url: str) -> None:
    database = Database(empty_url)
    await database.open()
    try:
        assert await schema_state(database) == (head_revision(), [], [(1, 1)])
    finally:
        await database.close()
    await database.open()  # a restart finds nothing to do
    try:
        assert await schema_state(database) == (head_revision(), [], [(1, 1)])
    finally:
        await database.close()


async def test_a_database_from_before_migrations_keeps_its_data_and_duplicate_pending_corrections_are_resolved(
    empty_url: str,
) -> None:
    await build_pre_alembic(empty_url, version=1)
    await add_correction(empty_url, 7, "pending", "Canberra")
    await add_correction(empty_url, 7, "approved", "Canberra.")
    await add_correction(empty_url, 7, "pending", "Canberra, since 1913.")  # a duplicate from a racing submit
    await add_correction(empty_url, 8, "pending", "Canberra!")
    database = Database(empty_url)
    await database.open()
    try:
        assert await schema_state(database) == (head_revision(), [], [(1, 1)])
        answer = await AnswerStore(database).get(1)
        assert answer is not None and answer.question == "Capital of Australia?" and answer.created_at == NOW
        assert await GuildSettingsStore(database).active_model(5) == "ft:old"
        async with database.engine.begin() as conn:
            rows = (await conn.execute(sa.select(corrections).order_by(corrections.c.id))).all()
            assert [(r.author_id, r.status, r.corrected_answer) for r in rows] == [
                (7, "approved", "Canberra."),
                (7, "pending", "Canberra, since 1913."),  # the newest pending one of author 7 is kept
                (8, "pending", "Canberra!"),
            ]
            # Revision 0003: each correction knows who asked; a public answer's correction is not private.
            assert {(r.asker_id, r.private) for r in rows} == {(answer.user_id, False)}
        with pytest.raises(sa.exc.IntegrityError):
            await add_correction(empty_url, 8, "pending", "Canberra?")  # the database itself now refuses it
    finally:
        await database.close()


async def test_a_version_0_database_gets_previous_model_and_the_tables_it_never_had(empty_url: str) -> None:
    await build_pre_alembic(empty_url, version=0)
    database = Database(empty_url)
    await database.open()
    try:
        assert await schema_state(database) == (head_revision(), [], [(1, 1)])
        guilds = GuildSettingsStore(database)
        assert await guilds.active_model(5) == "ft:old"
        assert await guilds.set_active_model(5, "ft:new", by_user=1) == "ft:old"
        assert await guilds.previous_model(5) == (True, "ft:old")  # /model rollback works on the old database
    finally:
        await database.close()


async def test_processes_starting_at_once_on_an_empty_database_all_succeed_and_migrate_it_once(
    empty_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    databases = [Database(empty_url) for _ in range(3)]
    with caplog.at_level(logging.INFO, logger="bot.store.migrate"):
        await asyncio.gather(*(d.open() for d in databases))
    try:
        migrated = [r for r in caplog.records if "migrated from revision (empty)" in r.getMessage()]
        assert len(migrated) == 1
        for database in databases:
            assert await schema_state(database) == (head_revision(), [], [(1, 1)])
    finally:
        for database in databases:
            await database.close()


@pytest.fixture(params=BACKENDS)
async def brand_new_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database that has never been used: a SQLite file (in a folder) that does not exist yet, or a PostgreSQL
    database created for this test on the test server, and dropped after it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/new-folder/bot.sqlite3"
        return
    import asyncpg  # only where PostgreSQL is tested

    given = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"{given.database}_new_{secrets.token_hex(4)}"
    server = await asyncpg.connect(
        host=given.host, port=given.port, user=given.username, password=given.password, database=given.database
    )
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
        try:
            yield given.set(database=name).render_as_string(hide_password=False)
        finally:
            await server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await server.close()


async def test_processes_starting_at_once_on_a_brand_new_database_create_the_schema_once(
    brand_new_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    databases = [Database(brand_new_url) for _ in range(4)]
    try:
        with caplog.at_level(logging.INFO, logger="bot.store.migrate"):
            await asyncio.gather(*(d.open() for d in databases))  # each open raises if its migration failed
        migrated = [r for r in caplog.records if "migrated from revision (empty)" in r.getMessage()]
        assert len(migrated) == 1  # the others waited on the lock, then found the schema made
        for database in databases:
            assert await schema_state(database) == (head_revision(), [], [(1, 1)])
    finally:
        for database in databases:
            await database.close()


async def test_the_alembic_command_adopts_and_upgrades_like_the_bot(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/dev.sqlite3"
    await build_pre_alembic(url, version=0)
    env = os.environ | {"DATABASE_URL": url}
    for args in (["upgrade", "head"], ["check"]):  # check: schema.py has no change that lacks a migration
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alembic", *args, cwd=ROOT, env=env, stdout=PIPE, stderr=STDOUT
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, output.decode()
    database = Database(url)
    await database.open()
    try:
        assert await schema_state(database) == (head_revision(), [], [(1, 1)])
        assert await GuildSettingsStore(database).active_model(5) == "ft:old"
    finally:
        await database.close()


async def test_corrections_made_before_language_aware_search_are_found_by_other_word_forms_after_it(
    empty_url: str,
) -> None:
    # A database at revision 0007: its corrections were indexed by English stems of their question only.
    engine = create_async_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0007"))
    finally:
        await engine.dispose()
    await execute(
        empty_url,
        "INSERT INTO answers (guild_id, channel_id, user_id, conversation_id, source, model, question, answer,"
        " message_ids, created_at) VALUES (5, 10, 1, 'c', 'slash', 'm', 'Какие правила сервера?', 'Никаких.', '[]',"
        " :t)",
        *(
            "INSERT INTO corrections (answer_id, guild_id, channel_id, author_id, private, question, original_answer,"
            f" corrected_answer, model, status, created_at, updated_at) VALUES (1, 5, 10, 7, {{false}}, '{q}',"
            f" 'Никаких.', '{a}', 'm', 'approved', :t, :t)"
            for q, a in [
                ("Какие правила сервера?", "Правила закреплены в канале #rules."),
                ("Как создать клан?", "Командой /clan create."),
            ]
        ),
        false="false" if empty_url.startswith("postgresql") else "0",
    )
    database = Database(empty_url)
    await database.open()  # migrates to the newest revision, which indexes them again
    try:
        assert (await schema_state(database))[:2] == (head_revision(), [])
        references = References(CorrectionSearch(database), GuildSettingsStore(database), LLMSettings())
        found = await references.relevant(5, "Расскажи о правилах сервера", user_id=2)
        assert [f.corrected_answer for f in found] == ["Правила закреплены в канале #rules."]
        found = await references.relevant(5, "можно ли создавать кланы?", user_id=2)
        assert [f.corrected_answer for f in found] == ["Командой /clan create."]
    finally:
        await database.close()
