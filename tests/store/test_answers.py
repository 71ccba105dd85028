from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import attrs
import sqlalchemy as sa

from bot.store.answers import AnswerStore, ImageRef, Memory, NewAnswer, PrivateAsker, Turn
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.schema import answers

ROOT = Path(__file__).resolve().parent.parent.parent


def _new(question: str, conversation: str = "c1", user: int = 1, channel: int = 10) -> NewAnswer:
    return NewAnswer(
        guild_id=5,
        channel_id=channel,
        user_id=user,
        conversation_id=conversation,
        source="slash",
        model="m",
        question=question,
        answer=f"answer to {question}",
    )


async def test_answer_round_trips_with_discord_sized_ids(db: Database) -> None:
    store = AnswerStore(db)
    big = 1_234_567_890_123_456_789
    saved = await store.add(
        NewAnswer(
            guild_id=big,
            channel_id=big + 1,
            user_id=big + 2,
            conversation_id="c",
            source="message",
            model="ft:gpt:x",
            question="q",
            answer="a",
            prompt_tokens=12,
            completion_tokens=3,
        )
    )
    await store.set_message_ids(saved.id, [big + 3, big + 4])
    loaded = await store.get(saved.id)
    assert loaded is not None
    assert (loaded.guild_id, loaded.channel_id, loaded.user_id) == (big, big + 1, big + 2)
    assert loaded.message_ids == [big + 3, big + 4]
    assert loaded.prompt_tokens == 12 and loaded.created_at.tzinfo is not None


async def test_memory_is_the_current_conversation_oldest_first(db: Database) -> None:
    store = AnswerStore(db)
    await store.add(_new("old topic", "c0"))
    for q in ("one", "two", "three"):
        await store.add(_new(q, "c1"))
    await store.add(_new("other user", "c1", user=2))
    await store.add(_new("other channel", "c1", channel=11))
    turns = (await store.memory(10, 1, limit=10, max_age=dt.timedelta(hours=1))).turns
    assert [t.question for t in turns] == ["one", "two", "three"]
    assert [t.question for t in (await store.memory(10, 1, limit=2, max_age=dt.timedelta(hours=1))).turns] == [
        "two",
        "three",
    ]


async def test_memory_forgets_old_turns_and_survives_reopening(db: Database, tmp_path: Path) -> None:
    store = AnswerStore(db)
    first = await store.add(_new("long ago"))
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.update(answers)
            .where(answers.c.id == first.id)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
        )
    await store.add(_new("recent"))
    await db.close()
    await db.open()  # a restart keeps the memory
    turns = (await store.memory(10, 1, limit=10, max_age=dt.timedelta(hours=1))).turns
    assert [t.question for t in turns] == ["recent"]


async def test_recent_for_user_filters_by_guild_and_text(db: Database) -> None:
    store = AnswerStore(db)
    await store.add(_new("How do I bake bread?"))
    await store.add(_new("What is 100% rye?"))
    found = await store.recent_for_user(5, 1, search="100%")
    assert [a.question for a in found] == ["What is 100% rye?"]
    assert await store.recent_for_user(6, 1) == []
    assert [a.question for a in await store.recent_for_user(5, 1)] == ["What is 100% rye?", "How do I bake bread?"]


async def test_guild_model_choice_persists(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    assert await guilds.active_model(5) is None
    await guilds.set_active_model(5, "ft:gpt-4o-mini:org:x:1", by_user=1)
    await guilds.set_active_model(5, "ft:gpt-4o-mini:org:x:2", by_user=1)
    assert await guilds.active_model(5) == "ft:gpt-4o-mini:org:x:2"
    assert await guilds.active_model(None) is None


async def test_model_switch_remembers_the_previous_model_for_rollback(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    assert await guilds.previous_model(5) == (False, None)
    assert await guilds.set_active_model(5, "ft:a", by_user=1) is None
    assert await guilds.set_active_model(5, "ft:b", by_user=1) == "ft:a"
    assert await guilds.active_model(5) == "ft:b"
    assert await guilds.previous_model(5) == (True, "ft:a")


async def test_two_first_model_switches_at_once_make_one_row(db: Database) -> None:
    # Two connections pools, as two processes would have, switching many guilds at once.
    other = Database(db.url)
    await other.open()
    try:
        stores = [GuildSettingsStore(db), GuildSettingsStore(other)]
        guilds = range(100, 130)
        replaced = await asyncio.gather(
            *(stores[i % 2].set_active_model(g, f"ft:{i}", by_user=i) for g in guilds for i in range(4))
        )
        # Every switch succeeded, and in each guild exactly one saw no previous model.
        assert len(replaced) == 4 * len(guilds) and replaced.count(None) == len(guilds)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT count(*) FROM guild_settings"))).scalar_one()
        assert rows == len(guilds)
    finally:
        await other.close()


async def test_an_undelivered_answer_is_kept_but_left_out_of_memory(db: Database) -> None:
    store = AnswerStore(db)
    first = await store.add(_new("one"))
    second = await store.add(_new("two"))
    await store.mark_undelivered(second.id)
    assert [t.question for t in (await store.memory(10, 1, limit=5, max_age=dt.timedelta(hours=1))).turns] == ["one"]
    kept = await store.get(second.id)
    assert kept is not None and not kept.delivered and first.delivered


async def test_a_database_from_before_personas_is_upgraded_and_old_answers_have_no_persona(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.sqlite3"
    old = Database(url)
    await old.open()
    before = await AnswerStore(old).add(NewAnswer(1, 2, 3, "c", "slash", "m", "q", "a"))
    await old.close()
    # Back to the revision before personas and pictures, as a database of that build would be.
    env = os.environ | {"DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alembic", "downgrade", "0004", cwd=ROOT, env=env, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    upgraded = Database(url)
    await upgraded.open()
    try:
        store = AnswerStore(upgraded)
        kept = await store.get(before.id)
        assert kept is not None and kept.system_prompt is None and kept.images == ()
        ref = ImageRef("https://cdn.example/a.png", 9, "ab" * 32)
        new = await store.add(
            NewAnswer(1, 2, 3, "c", "slash", "m", "q2", "a2", system_prompt="Be brief.", images=(ref,))
        )
        again = await store.get(new.id)
        assert again is not None and again.system_prompt == "Be brief." and again.images == (ref,)
        assert [t.question for t in await store.conversation("c", limit=5)] == ["q", "q2"]
    finally:
        await upgraded.close()


def _private(question: str, conversation: str = "c1", user: int = 1, channel: int = 10) -> NewAnswer:
    return attrs.evolve(_new(question, conversation, user, channel), private=True)


async def test_a_private_turn_is_memory_only_for_its_askers_later_private_turns_there(db: Database) -> None:
    store = AnswerStore(db)

    async def remembered(channel: int, user: int, *, private: bool = False) -> list[str]:
        memory = await store.memory(channel, user, limit=10, max_age=dt.timedelta(hours=1), private=private)
        return [t.question for t in memory.turns]

    await store.add(_new("public one"))
    await store.add(_private("secret two"))
    await store.add(_private("someone else's secret", user=2))
    await store.add(_private("secret elsewhere", channel=11))

    assert await remembered(10, 1) == ["public one"]
    assert await remembered(10, 1, private=True) == ["public one", "secret two"]
    assert await remembered(10, 2) == []
    assert await remembered(10, 2, private=True) == ["someone else's secret"]
    assert await remembered(11, 1) == []


async def test_a_public_turn_after_a_private_one_goes_on_with_the_conversation_without_it(db: Database) -> None:
    store = AnswerStore(db)
    hour = dt.timedelta(hours=1)
    await store.add(_private("secret", "c"))
    public = await store.memory(10, 1, limit=10, max_age=hour)
    assert public == Memory("c", [])
    await store.add(_new("public", "c"))
    # So the asker's next private turn still has its private context, and the public turn too.
    private = await store.memory(10, 1, limit=10, max_age=hour, private=True)
    assert private.conversation_id == "c" and [t.question for t in private.turns] == ["secret", "public"]
    assert await store.memory(10, 1, limit=10, max_age=hour, private=False) == Memory(
        "c", [Turn("public", "answer to public", "c")]
    )


async def test_dm_turns_are_memory_for_private_turns_only(db: Database) -> None:
    store = AnswerStore(db)
    await store.add(attrs.evolve(_new("in a DM"), guild_id=None))
    assert (await store.memory(10, 1, limit=10, max_age=dt.timedelta(hours=1))).turns == []
    dm = await store.memory(10, 1, limit=10, max_age=dt.timedelta(hours=1), private=True)
    assert [t.question for t in dm.turns] == ["in a DM"]


async def test_a_conversation_shared_by_a_thread_holds_public_turns_only(db: Database) -> None:
    store = AnswerStore(db)
    await store.add(_private("secret", "c"))
    await store.add(_new("public", "c"))
    await store.add(_new("in the thread", "c", user=2, channel=20))
    await store.add(_private("a private ask in the thread", "c", user=2, channel=20))
    shared = await store.conversation("c", limit=10)
    assert [t.question for t in shared] == ["public", "in the thread"]
    # A private turn there also remembers its own asker's private turns in that place, and nobody else's.
    own = await store.conversation("c", limit=10, private_asker=PrivateAsker(20, 2))
    assert [t.question for t in own] == ["public", "in the thread", "a private ask in the thread"]
    other = await store.conversation("c", limit=10, private_asker=PrivateAsker(20, 1))
    assert [t.question for t in other] == ["public", "in the thread"]


async def test_an_answer_is_found_by_any_of_its_messages_in_its_channel(db: Database) -> None:
    store = AnswerStore(db)
    big = 1_234_567_890_123_456_789
    long_answer = await store.add(NewAnswer(5, 20, 1, "c1", "slash", "m", "Long?", "…"), message_ids=[big, big + 1])
    await store.add(NewAnswer(5, 20, 1, "c1", "slash", "m", "Other?", "…"), message_ids=[big + 10])
    first = await store.shown_as(20, big)
    assert first is not None and first.id == long_answer.id
    last = await store.shown_as(20, big + 1)
    assert last is not None and last.id == long_answer.id
    assert await store.shown_as(21, big) is None, "only in its own channel"
    assert await store.shown_as(20, big // 10) is None, "a prefix of an id is not the id"
