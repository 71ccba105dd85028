"""The driver through hikari's real voice plumbing: `connect()` → gateway op 4 → VOICE_STATE/SERVER_UPDATE → session."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.voice import VoiceSettings, connect
from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI
from tests.fakes.voice import FakeVoiceServer


async def test_bot_joins_undeafened_and_plays_through_hikari(fake: FakeVoiceServer, tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeOpenAI() as openai_fake:
        requests: list[dict[str, Any]] = []

        def on_voice_state_update(d: dict[str, Any]) -> None:
            requests.append(d)
            discord.dispatch_voice_state_update(
                discord.bot_user, int(d["channel_id"]) if d["channel_id"] else None, "gw-session", discord.guild_id
            )
            if d["channel_id"]:
                discord.dispatch_voice_server_update(discord.guild_id, fake.endpoint.removeprefix("ws://"), "tok")

        discord.on_voice_state_update = on_voice_state_update
        async with running_bot(discord, openai_fake, tmp_path) as built:
            session = await connect(
                built.bot, discord.guild_id, discord.voice_channel_id, VoiceSettings(plain_ws_on_loopback=True)
            )
            assert requests[0]["self_deaf"] is False and requests[0]["channel_id"] == str(discord.voice_channel_id)
            assert fake.identifies[0]["session_id"] == "gw-session" and fake.identifies[0]["token"] == "tok"
            assert fake.identifies[0]["user_id"] == str(discord.bot_user.id)
            await session.player.play(bytes(3840 * 3))
            await fake.wait_for(lambda: len(fake.frames) >= 3)
            await built.bot.voice.disconnect(discord.guild_id)
            await asyncio.wait_for(session.join(), 5)
            assert requests[-1]["channel_id"] is None  # left the channel on Discord's side too


async def test_session_invalid_leaves_and_rejoins_through_the_gateway_for_a_new_session_and_server(
    fake: FakeVoiceServer, tmp_path: Path
) -> None:
    async with FakeDiscord() as discord, FakeOpenAI() as openai_fake:
        joins = 0
        requests: list[dict[str, Any]] = []

        def on_voice_state_update(d: dict[str, Any]) -> None:
            # Discord: every join is a new voice session and a new voice server token.
            nonlocal joins
            requests.append(d)
            channel = int(d["channel_id"]) if d["channel_id"] else None
            joins += 1 if channel else 0
            discord.dispatch_voice_state_update(discord.bot_user, channel, f"gw-session-{joins}", discord.guild_id)
            if channel:
                endpoint = fake.endpoint.removeprefix("ws://")
                discord.dispatch_voice_server_update(discord.guild_id, endpoint, f"tok-{joins}")

        discord.on_voice_state_update = on_voice_state_update
        async with running_bot(discord, openai_fake, tmp_path) as built:
            session = await connect(
                built.bot,
                discord.guild_id,
                discord.voice_channel_id,
                VoiceSettings(plain_ws_on_loopback=True, reconnect_backoff_s=0.05),
            )
            await fake.close_with(4006)
            await fake.wait_for(lambda: len(fake.selects) == 2)
            channel = str(discord.voice_channel_id)
            assert [r["channel_id"] for r in requests] == [channel, None, channel]
            assert requests[2]["self_deaf"] is False
            assert (fake.identifies[-1]["session_id"], fake.identifies[-1]["token"]) == ("gw-session-2", "tok-2")
            await session.wait_ready()
            assert session.is_alive and not fake.violations
            await session.player.play(bytes(3840 * 3))
            await fake.wait_for(lambda: len(fake.frames) >= 3)
            await built.bot.voice.disconnect(discord.guild_id)
