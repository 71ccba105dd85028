"""Start the real bot (bot.app.build) against the loopback fakes, and stop it cleanly.

async with FakeDiscord() as discord, FakeOpenAI() as openai_fake:
    async with running_bot(discord, openai_fake, tmp_path) as built:
        handle = discord.slash("ask", options={"question": "hi"})

`running_shards(...)` starts several bots at once, each running its own shards, on one (PostgreSQL) database: the
processes of a sharded deployment, in one test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import attrs
import hikari

from bot.app import BuiltBot, build
from bot.config import Config, Secrets, Settings
from bot.llm.retirements import Clock, utc_now
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from tests.assets import whisper_base_dir
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI


def make_config(discord: FakeDiscord, openai_fake: FakeOpenAI, data_dir: Path, /, **sections: dict[str, Any]) -> Config:
    """Default settings with `sections` overriding fields per section, e.g. llm={"edit_interval_s": 0.05}."""
    settings = Settings()
    # Test defaults: a database in the test's folder, offline speech (Whisper base from PyPI, espeak-ng),
    # commands in the fake guild. Sections given by the test are applied on top.
    defaults: dict[str, dict[str, Any]] = {
        "storage": {"url": f"sqlite+aiosqlite:///{data_dir}/bot.sqlite3"},
        "speech": {"whisper_model": str(whisper_base_dir()), "engine": "espeak"},
        "training": {"work_dir": str(data_dir / "training")},
        "discord": {"command_guilds": [discord.guild_id]},
        # Streaming edits a tenth of a second apart (the throttle itself is unit-tested in tests/discord).
        "llm": {"edit_interval_s": 0.1},
        # The health endpoint on a free port: several bots run at once (tests side by side, two-process tests).
        "health": {"port": 0},
    }
    changes: dict[str, Any] = {}
    for name in defaults.keys() | sections.keys():
        fields = defaults.get(name, {}) | sections.get(name, {})
        changes[name] = attrs.evolve(getattr(settings, name), **fields)
    settings = attrs.evolve(settings, **changes)
    secrets = Secrets(
        discord_token=discord.token,
        openai_api_key=openai_fake.api_key,
        openai_base_url=openai_fake.base_url,
        database_url=None,
    )
    return Config(settings=settings, secrets=secrets)


@contextlib.asynccontextmanager
async def running_bot(
    discord: FakeDiscord,
    openai_fake: FakeOpenAI,
    data_dir: Path,
    /,
    *,
    config: Config | None = None,
    rest_max_retries: int = 3,
    clock: Clock = utc_now,
    **sections: dict[str, Any],
) -> AsyncIterator[BuiltBot]:
    """The bot, started and answering (commands synced), for the duration of the block. `rest_max_retries`: how
    often hikari retries a Discord 5xx (with seconds of backoff) before the bot sees the error."""
    config = config or make_config(discord, openai_fake, data_dir, **sections)
    built = build(config, rest_url=discord.rest_url, rest_max_retries=rest_max_retries, clock=clock)
    await built.bot.start(check_for_updates=False, shard_ids=None, shard_count=1)
    try:
        async with asyncio.timeout(30):
            await built.ready.wait()
        yield built
    finally:
        await built.bot.close()


@contextlib.asynccontextmanager
async def running_shards(
    discord: FakeDiscord,
    openai_fake: FakeOpenAI,
    data_dir: Path,
    database_url: str,
    /,
    *,
    shard_groups: tuple[list[int], ...] = ([0], [1]),
    shard_count: int = 2,
    clock: Clock = utc_now,
    **sections: dict[str, Any],
) -> AsyncIterator[list[BuiltBot]]:
    """One bot per shard group (each as its own process would be: own services, own hikari), started together on
    `database_url`, answering in both fake guilds. They take turns to IDENTIFY within the fake's identify window."""
    bots: list[BuiltBot] = []
    for i, shard_ids in enumerate(shard_groups):
        discord_section = {
            "command_guilds": list(discord.guild_ids),
            "shard_count": shard_count,
            "shard_ids": shard_ids,
        } | sections.get("discord", {})
        own = sections | {"training": {"work_dir": str(data_dir / f"training-{i}")} | sections.get("training", {})}
        config = make_config(discord, openai_fake, data_dir, **(own | {"discord": discord_section}))
        config = attrs.evolve(config, secrets=attrs.evolve(config.secrets, database_url=database_url))
        bots.append(build(config, rest_url=discord.rest_url, identify_window_s=discord.identify_window_s, clock=clock))
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(
                *(
                    built.bot.start(check_for_updates=False, shard_ids=ids, shard_count=shard_count)
                    for built, ids in zip(bots, shard_groups, strict=True)
                )
            )
            await asyncio.gather(*(built.ready.wait() for built in bots))
        yield bots
    finally:
        for built in bots:
            with contextlib.suppress(hikari.ComponentStateConflictError):  # one that never started
                await built.bot.close()


async def approve_corrections(built: BuiltBot, discord: FakeDiscord, facts: Iterable[tuple[str, str, str]]) -> None:
    """Each (question, wrong answer, right answer) stored as the member's answer, corrected by them and approved by
    the admin, as the form and the review do (those are tested in tests/e2e/test_corrections.py)."""
    for question, wrong, right in facts:
        answer = await built.get(AnswerStore).add(
            NewAnswer(discord.guild_id, discord.channel_id, discord.member.id, "c", "slash", "m", question, wrong)
        )
        saved = await built.get(CorrectionStore).submit(answer, discord.member.id, right)
        await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")
