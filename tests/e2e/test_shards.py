"""Two bot processes, one shard each, on one PostgreSQL: every guild is served by the process holding its shard."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import hikari
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import BuiltBot
from bot.discord.model_notices import ModelNotices
from bot.finetuning.watcher import JobWatcher
from bot.llm.answering import Answerer
from bot.llm.retirements import shutdown_of
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.schema import answers, training_jobs
from tests.e2e.test_training import sft_lines, summary
from tests.fakes.discord import Event, FakeDiscord, Request, shard_of
from tests.fakes.harness import running_shards
from tests.fakes.openai import FakeOpenAI

# Several processes need a database server: CI starts one (.ci/run); locally `export TEST_DATABASE_URL=...`.
pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="two bot processes share PostgreSQL (TEST_DATABASE_URL)"
)


def drop_everything(conn: Connection) -> None:
    reflected = sa.MetaData()
    reflected.reflect(conn)
    reflected.drop_all(conn)


@pytest.fixture
async def empty_postgres() -> AsyncIterator[str]:
    """This worker's PostgreSQL database with no tables: the two processes create the schema as they start."""
    url = os.environ["TEST_DATABASE_URL"]
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(drop_everything)
    await engine.dispose()
    yield url


@pytest.fixture
async def shards(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, empty_postgres: str
) -> AsyncIterator[list[BuiltBot]]:
    """Process 0 runs shard 0 of 2 (the main guild, and DMs), process 1 runs shard 1 (the other guild). Discord
    allows one IDENTIFY per window (max_concurrency 1), so the two must take turns."""
    discord.shard_count, discord.max_concurrency, discord.identify_window_s = 2, 1, 0.3
    assert [shard_of(g, 2) for g in discord.guild_ids] == [0, 1]
    llm = {"edit_interval_s": 0.05, "default_model": "gpt-4o-mini", "models": ["gpt-4o-mini", "gpt-4.1-mini"]}
    async with running_shards(discord, openai_fake, tmp_path, empty_postgres, llm=llm) as bots:
        yield bots


def received_by(bots: list[BuiltBot]) -> list[list[int]]:
    """Ids of the interactions and members' messages each process's hikari received, from now on."""
    seen: list[list[int]] = [[] for _ in bots]
    for i, built in enumerate(bots):

        async def interaction(event: hikari.InteractionCreateEvent, into: list[int] = seen[i]) -> None:
            into.append(int(event.interaction.id))

        async def message(event: hikari.MessageCreateEvent, into: list[int] = seen[i]) -> None:
            if event.is_human:
                into.append(int(event.message_id))

        built.bot.subscribe(hikari.InteractionCreateEvent, interaction)
        built.bot.subscribe(hikari.MessageCreateEvent, message)
    return seen


def final(e: Event) -> bool:
    return e.kind == "edit" and "Answer to:" in (e.json.get("content") or "")


async def test_two_processes_take_turns_to_identify_and_each_holds_its_shard(
    discord: FakeDiscord, shards: list[BuiltBot]
) -> None:
    assert sorted((shard, count) for shard, count, _ in discord.identified) == [(0, 2), (1, 2)]
    assert discord.identify_refusals == []  # the second waited for the first one's window instead of being refused
    first, second = sorted(t for _, _, t in discord.identified)
    assert second - first >= discord.identify_window_s
    assert [sorted(b.bot.shards) for b in shards] == [[0], [1]]
    assert [b.bot.cache.get_guild(discord.guild_id) is not None for b in shards] == [True, False]
    assert [b.bot.cache.get_guild(discord.other_guild_id) is not None for b in shards] == [False, True]


async def test_ask_in_guilds_of_both_shards_and_in_a_dm_is_answered_once_by_the_process_holding_it(
    discord: FakeDiscord, shards: list[BuiltBot], empty_postgres: str
) -> None:
    seen = received_by(shards)
    here = discord.slash("ask", options={"question": "on shard zero?"})
    there = discord.slash(
        "ask",
        options={"question": "on shard one?"},
        guild_id=discord.other_guild_id,
        channel_id=discord.other_guild_channel_id,
    )
    dm = discord.post_message("in a DM?", guild_id=None)  # DMs arrive on shard 0
    for handle in (here, there):
        await handle.wait(final)
        assert [e.kind for e in handle.responses].count("callback") == 1
    assert here.content == "Answer to: on shard zero?" and there.content == "Answer to: on shard one?"
    dm_channel = int(dm["channel_id"])
    replies = await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm_channel) if m.custom_ids])
    assert [m.content for m in replies] == ["Answer to: in a DM?"]
    assert seen == [[here.id, int(dm["id"])], [there.id]]
    engine = create_async_engine(empty_postgres)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(answers.c.guild_id, answers.c.question))).all()
    finally:
        await engine.dispose()
    assert sorted(rows, key=str) == sorted(
        [(discord.guild_id, "on shard zero?"), (discord.other_guild_id, "on shard one?"), (None, "in a DM?")], key=str
    )


async def test_a_model_switch_in_one_process_is_what_the_other_process_answers_that_guild_with(
    discord: FakeDiscord, openai_fake: FakeOpenAI, shards: list[BuiltBot]
) -> None:
    switch = discord.slash(
        "model", subcommand="use", options={"name": "gpt-4.1-mini"}, user=discord.admin, guild_id=discord.other_guild_id
    )
    await switch.wait(lambda e: "now uses" in str(e.json))
    # The guild's model is read from the database on every question (no per-process cache to go stale): the
    # process that did not switch it answers with the new model too, e.g. when its job watcher tests a model there.
    assert await shards[0].get(Answerer).model_for(discord.other_guild_id) == "gpt-4.1-mini"
    assert await shards[0].get(Answerer).model_for(discord.guild_id) == "gpt-4o-mini"
    asked = discord.slash("ask", options={"question": "which model?"}, guild_id=discord.other_guild_id)
    await asked.wait(final)
    assert openai_fake.chat_requests[-1]["model"] == "gpt-4.1-mini"


async def test_voice_states_reach_only_the_process_holding_the_guild_and_it_alone_can_join(
    discord: FakeDiscord, shards: list[BuiltBot]
) -> None:
    holder, other = shards[1], shards[0]
    with holder.bot.stream(hikari.VoiceStateUpdateEvent, timeout=5) as stream:
        discord.dispatch_voice_state_update(
            discord.member, discord.other_guild_voice_channel_id, "user-session", discord.other_guild_id
        )
        event = await anext(stream)
    assert event.state.channel_id == discord.other_guild_voice_channel_id
    assert holder.bot.cache.get_voice_state(discord.other_guild_id, discord.member.id) is not None
    assert other.bot.cache.get_voice_state(discord.other_guild_id, discord.member.id) is None
    joined: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    discord.on_voice_state_update = joined.set_result
    await holder.bot.update_voice_state(discord.other_guild_id, discord.other_guild_voice_channel_id)
    async with asyncio.timeout(5):
        assert (await joined)["guild_id"] == str(discord.other_guild_id)
    assert discord.misrouted_voice_updates == []
    with pytest.raises(RuntimeError, match="isn't covered by any of the shards"):
        await other.bot.update_voice_state(discord.other_guild_id, discord.other_guild_voice_channel_id)


async def _train(discord: FakeDiscord, openai_fake: FakeOpenAI) -> str:
    """An admin starts a training job in the main guild (shard 0's); its id at the provider."""
    data = discord.attachment("faq.jsonl", sft_lines(10), "application/jsonl")
    started = discord.slash("train", options={"data": data}, user=discord.admin)
    card = await summary(started)
    confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
    await confirm.wait(lambda e: e.kind == "edit")
    (remote,) = openai_fake.jobs
    return remote


def notices(discord: FakeDiscord) -> list[str]:
    return [m.content for m in discord.bot_messages_in(discord.channel_id) if "job #1 failed" in m.content]


async def test_a_job_that_ends_is_announced_once_though_both_processes_see_it_end_together(
    discord: FakeDiscord, openai_fake: FakeOpenAI, shards: list[BuiltBot]
) -> None:
    remote = await _train(discord, openai_fake)
    for built in shards:  # the test runs the rounds itself, both at once
        await built.get(JobWatcher).stop()
    openai_fake.advance(remote, "failed", error="The training file has too few examples.")
    posts: list[Request] = []
    posted, second, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow_discord(request: Request) -> None:  # Discord takes its time over the notice
        if request.method == "POST" and "job #1 failed" in str(request.json):
            posts.append(request)
            (second if posted.is_set() else posted).set()
            await release.wait()

    discord.rest_gate = slow_discord
    rounds = [asyncio.create_task(b.get(JobWatcher).run_once()) for b in shards]
    await asyncio.wait_for(posted.wait(), 10)
    # While one process's notice is on its way, the other process's round ends without posting one (or, were the
    # job not claimed, it would post a second: the wait below would end on that post).
    second_post = asyncio.create_task(second.wait())
    await asyncio.wait([*rounds, second_post], return_when=asyncio.FIRST_COMPLETED, timeout=10)
    release.set()
    await asyncio.gather(*rounds)
    second_post.cancel()
    assert len(posts) == 1
    assert len(notices(discord)) == 1 and "too few examples" in notices(discord)[0]


async def test_a_users_rate_limit_holds_across_both_processes(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, empty_postgres: str
) -> None:
    discord.shard_count, discord.max_concurrency, discord.identify_window_s = 2, 1, 0.3
    limits = {"model_calls": 2, "window_s": 600.0}
    async with running_shards(discord, openai_fake, tmp_path, empty_postgres, limits=limits):
        for question in ("one?", "two?"):
            await discord.slash("ask", options={"question": question}).wait(final)  # process 0
        elsewhere = discord.slash(
            "ask",
            options={"question": "three?"},
            guild_id=discord.other_guild_id,
            channel_id=discord.other_guild_channel_id,
        )  # process 1: the same member, the same limit
        refused = await elsewhere.wait_callback()
        assert "asking too fast" in str(refused.json) and elsewhere.ephemeral
        assert [r["messages"][-1]["content"] for r in openai_fake.chat_requests] == ["one?", "two?"]


async def test_the_job_of_a_process_that_died_is_announced_by_the_other_once_its_lease_runs_out(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, empty_postgres: str
) -> None:
    discord.shard_count, discord.max_concurrency, discord.identify_window_s = 2, 1, 0.3
    training = {"watch_interval_s": 0.2, "watch_lease_s": 1.5}
    async with running_shards(discord, openai_fake, tmp_path, empty_postgres, training=training) as bots:
        remote = await _train(discord, openai_fake)
        engine = create_async_engine(empty_postgres)
        try:
            holder = None
            while holder is None:  # the watchers' own rounds (every 0.2 s) claim the new job
                async with engine.connect() as conn:
                    holder = (await conn.execute(sa.select(training_jobs.c.claimed_by))).scalar_one()
                await asyncio.sleep(0.05)  # polling the database for the claim, with the test's own timeout
        finally:
            await engine.dispose()
        dead = next(b for b in bots if b.get(JobWatcher).identity == holder)
        survivor = next(b for b in bots if b is not dead)

        async def dies(_: str) -> int:  # a killed process runs no shutdown: its claims stay until the lease ends
            return 0

        dead.get(JobStore).release_claims = dies  # type: ignore[method-assign]
        await dead.get(JobWatcher).stop()
        openai_fake.advance(remote, "failed", error="Out of GPU memory.")
        await survivor.get(JobWatcher).run_once()
        assert notices(discord) == []  # the dead process's lease still runs
        notice = await discord.wait_for(lambda: notices(discord))  # the survivor's rounds, once the lease is out
        assert len(notice) == 1 and "Out of GPU memory" in notice[0]


async def test_a_coming_shutdown_is_told_once_though_both_processes_look_at_once(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, empty_postgres: str
) -> None:
    llm = LLMSettings()
    tuned = "ft:gpt-4.1-mini-2025-04-14:fake-org:faq:abc123"
    shutdown = shutdown_of(tuned, llm.shutdowns)
    assert shutdown is not None
    day = dt.datetime.combine(shutdown.date, dt.time(12), dt.UTC) - dt.timedelta(days=1)
    discord.shard_count, discord.max_concurrency, discord.identify_window_s = 2, 1, 0.3
    admin = {"admin_channels": {str(discord.other_guild_id): discord.other_guild_channel_id}}
    async with running_shards(discord, openai_fake, tmp_path, empty_postgres, clock=lambda: day, discord=admin) as bots:
        for built in bots:  # their own first look (at start) is over: only the two looks below can tell
            await built.get(ModelNotices).stop()
        await bots[0].get(GuildSettingsStore).set_active_model(discord.other_guild_id, tuned, discord.admin.id)
        told = await asyncio.gather(*(built.get(ModelNotices).warn_shutdowns() for built in bots))
        assert sorted(told) == [0, 1]
    notices = [m for m in discord.bot_messages_in(discord.other_guild_channel_id) if "shuts down" in m.content]
    assert len(notices) == 1 and tuned in notices[0].content
