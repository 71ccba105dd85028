"""`[discord]` settings: out of the box the bot answers mentions and DMs, and Manage Server or the "Bot Admin" role
make an admin; a channel written by name, a REST address that is not one, or zero shards are named at start-up."""

from __future__ import annotations

import pytest

from bot.config_tables import SettingsProblems, build_settings
from bot.discord.settings import DiscordSettings


def test_out_of_the_box_the_bot_answers_dms_and_mentions_only_and_talks_to_discord_itself() -> None:
    settings = DiscordSettings()
    assert settings.answer_in_dms and not settings.answer_in_threads
    assert (settings.chat_channels, settings.thread_channels, settings.command_guilds) == ([], [], [])
    assert settings.admin_roles == ["Bot Admin"] and settings.manage_guild_is_admin
    assert (settings.rest_url, settings.shard_count, settings.shard_ids, settings.dm_review_guild) == (
        None,
        None,
        None,
        None,
    )


def test_ids_are_numbers_and_addresses_and_counts_are_checked_at_start_up() -> None:
    with pytest.raises(SettingsProblems) as raised:
        build_settings(
            DiscordSettings, {"chat_channels": ["general"], "rest_url": "discord.com", "shard_count": 0}, "discord"
        )
    assert raised.value.problems == [
        "discord.chat_channels[0]: expected an integer, got 'general'",
        "discord.rest_url: rest_url must start with http:// or https://, got 'discord.com'",
        "discord.shard_count: shard_count must be greater than 0, got 0",
    ]
    local = build_settings(DiscordSettings, {"rest_url": "http://127.0.0.1:9000/api/v10"}, "discord")
    assert local.rest_url == "http://127.0.0.1:9000/api/v10"
