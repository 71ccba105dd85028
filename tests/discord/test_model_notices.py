"""Notices to a server's admins about its model: a coming shutdown told once per server and model (across processes),
in the admin channel or where the model was trained, and told again later when posting failed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import attrs
import hikari
import pytest

from bot.discord.model_notices import ModelNotices
from bot.discord.settings import DiscordSettings
from bot.llm.settings import LLMSettings
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.model_notices import ModelNoticeStore
from tests.store.test_jobs import new, remote

SHUTS = dt.datetime(2027, 1, 14, 12, tzinfo=dt.UTC)  # gpt-4o and its fine-tunes, by the built-in list
FINE_TUNE = "ft:gpt-4o-2024-08-06:acme:helper:1"


class Channels:
    """What the notices use of hikari's REST client: posting a message, which may fail as Discord's API can."""

    def __init__(self) -> None:
        self.posted: list[tuple[int, str]] = []
        self.down = False

    async def create_message(self, channel: int, content: str, **mentions: bool) -> None:
        assert mentions == {"role_mentions": False, "user_mentions": False}  # a notice pings nobody
        if self.down:
            raise hikari.HTTPError("Discord is down")
        self.posted.append((channel, content))

    async def fetch_guild(self, guild: int) -> Any:
        """Where a notice's language comes from: these servers prefer US English."""
        return Guild(int(guild), hikari.Locale.EN_US)


@attrs.frozen
class Guild:
    id: int
    preferred_locale: hikari.Locale


def notices(db: Database, channels: Channels, *, days_before: int, admin_channels: dict[str, int]) -> ModelNotices:
    rest: Any = channels
    return ModelNotices(
        rest,
        ModelNoticeStore(db),
        JobStore(db),
        GuildSettingsStore(db),
        discord=DiscordSettings(admin_channels=admin_channels),
        llm=LLMSettings(default_model="gpt-4.1-nano"),
        guild_ids=lambda: [5, 6, 7],
        clock=lambda: SHUTS - dt.timedelta(days=days_before),
    )


async def _uses_fine_tune_trained_in(db: Database, guild: int, channel: int) -> None:
    jobs = JobStore(db)
    job = await jobs.add(attrs.evolve(new(guild=guild, remote=f"ftjob-{guild}"), channel_id=channel))
    await jobs.update_from_remote(job.id, remote("succeeded", FINE_TUNE))
    await GuildSettingsStore(db).set_active_model(guild, FINE_TUNE, by_user=1)


async def test_a_coming_shutdown_is_told_once_where_the_admins_read(db: Database) -> None:
    await _uses_fine_tune_trained_in(db, 5, channel=50)
    await _uses_fine_tune_trained_in(db, 6, channel=60)
    channels = Channels()
    first = notices(db, channels, days_before=3, admin_channels={"6": 66})
    assert await first.warn_shutdowns() == 2
    assert sorted(channel for channel, _ in channels.posted) == [50, 66]  # server 7 is on a model that stays
    (text,) = [text for channel, text in channels.posted if channel == 50]
    assert f"`{FINE_TUNE}` (it is built on `gpt-4o-2024-08-06`) shuts down on 2027-01-14, in 3 days" in text
    # Another process, or this one a few hours later: nobody is told twice.
    assert await notices(db, channels, days_before=2, admin_channels={"6": 66}).warn_shutdowns() == 0
    assert len(channels.posted) == 2


async def test_too_early_no_channel_or_a_failed_post_tells_nobody_yet(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await GuildSettingsStore(db).set_active_model(5, "gpt-4o", by_user=1)
    channels = Channels()
    assert await notices(db, channels, days_before=40, admin_channels={"5": 55}).warn_shutdowns() == 0  # too early
    with caplog.at_level(logging.WARNING, logger="bot.discord.model_notices"):
        assert await notices(db, channels, days_before=3, admin_channels={}).warn_shutdowns() == 0
    assert "no admin channel for the shutdown notice about gpt-4o" in caplog.text
    channels.down = True
    assert await notices(db, channels, days_before=3, admin_channels={"5": 55}).warn_shutdowns() == 0
    channels.down = False
    assert await notices(db, channels, days_before=3, admin_channels={"5": 55}).warn_shutdowns() == 1
    assert [channel for channel, _ in channels.posted] == [55]
