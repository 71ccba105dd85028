"""Discord's outlets for the packages below it: one notices service both tells servers their model went missing and
that it answers again, knowledge asks Discord's cache who may read a channel, and training jobs are announced in
Discord."""

from __future__ import annotations

from pathlib import Path

import hikari

from bot.discord.knowledge import CachedChannelAccess
from bot.discord.model_notices import ModelNotices
from bot.discord.settings import DiscordSettings
from bot.discord.training import JobAnnouncer
from bot.discord.wiring import install_outlets
from bot.finetuning.watcher import Announcements
from bot.llm.answering import MissingModelNotices
from bot.llm.knowledge import ChannelAccess
from bot.llm.settings import LLMSettings
from bot.store.wiring import install as install_store
from bot.wiring import Wiring
from tests.test_wiring import Registry


async def test_the_packages_below_reach_discord_through_its_outlets(tmp_path: Path) -> None:
    registry = Registry()
    wiring = Wiring(registry)
    install_store(wiring, f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3", pool_size=2)
    wiring.add(DiscordSettings, DiscordSettings())
    wiring.add(LLMSettings, LLMSettings())
    install_outlets(wiring, hikari.GatewayBot("MTAwMA.fake.token", banner=None, logs=None))
    notices = wiring.get(ModelNotices)
    assert wiring.get(MissingModelNotices) is notices  # type: ignore[type-abstract]
    assert isinstance(wiring.get(ChannelAccess), CachedChannelAccess)  # type: ignore[type-abstract]
    assert isinstance(wiring.get(Announcements), JobAnnouncer)  # type: ignore[type-abstract]
    assert registry.values[MissingModelNotices] is notices
