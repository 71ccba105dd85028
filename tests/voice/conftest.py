"""Voice test setup: a fake voice server and a VoiceSession connected to it the way hikari would connect it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import hikari
import pytest

from bot.voice.connection import VoiceSession
from bot.voice.settings import VoiceSettings
from tests.fakes.voice import FakeVoiceServer

BOT_ID = 4242
GUILD_ID = 1111
CHANNEL_ID = 2222


class Closed:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, _connection: object) -> None:
        self.calls += 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeVoiceServer]:
    server = FakeVoiceServer(heartbeat_ms=200)
    await server.start()
    yield server
    await server.close()


async def connect(fake: FakeVoiceServer, settings: VoiceSettings | None = None, **extra: Any) -> VoiceSession:
    """What hikari's VoiceComponent.connect_to does once VOICE_STATE/SERVER_UPDATE arrived."""
    return await VoiceSession.initialize(
        channel_id=hikari.Snowflake(CHANNEL_ID),
        endpoint=fake.endpoint,
        guild_id=hikari.Snowflake(GUILD_ID),
        on_close=Closed(),
        owner=cast(Any, object()),
        session_id="voice-session-1",
        shard_id=0,
        token="voice-token",
        user_id=hikari.Snowflake(BOT_ID),
        settings=settings or VoiceSettings(),
        **extra,
    )


@pytest.fixture
async def session(fake: FakeVoiceServer) -> AsyncIterator[VoiceSession]:
    voice = await connect(fake)
    yield voice
    await voice.disconnect()
