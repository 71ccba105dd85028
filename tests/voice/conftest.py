"""Voice test setup: a fake voice server and a VoiceSession connected to it the way hikari would connect it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast
from unittest import mock

import hikari
import pytest

from bot.voice.connection import VoiceSession
from bot.voice.settings import VoiceSettings
from tests.fakes.voice import FakeVoiceServer

BOT_ID = 4242
GUILD_ID = 1111
CHANNEL_ID = 2222
# Recovery waits in tests: short, so a reconnect test takes a fraction of a second.
FAST = VoiceSettings(reconnect_backoff_s=0.05)


class Closed:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, _connection: object) -> None:
        self.calls += 1


def state_event(session_id: str, channel_id: int | None) -> hikari.VoiceStateUpdateEvent:
    """The bot's own VOICE_STATE_UPDATE as hikari forwards it to the connection."""
    event = mock.Mock(spec=hikari.VoiceStateUpdateEvent)
    event.state.user_id = hikari.Snowflake(BOT_ID)
    event.state.session_id = session_id
    event.state.channel_id = None if channel_id is None else hikari.Snowflake(channel_id)
    return event


def server_event(endpoint: str, token: str) -> hikari.VoiceServerUpdateEvent:
    event = mock.Mock(spec=hikari.VoiceServerUpdateEvent)
    event.endpoint, event.token = endpoint, token
    return event


class MainGateway:
    """Discord's main gateway as the connection sees it through hikari: leaving and joining again (what 4006 needs)
    gives a new voice session id and a new voice server token."""

    def __init__(self, fake: FakeVoiceServer) -> None:
        self.fake = fake
        self.voice: VoiceSession | None = None
        self.rejoins: list[int] = []

    async def rejoin(self, channel_id: int) -> None:
        assert self.voice is not None
        self.rejoins.append(channel_id)
        n = len(self.rejoins) + 1
        await self.voice.notify(state_event(f"voice-session-{n}", None))
        await self.voice.notify(state_event(f"voice-session-{n}", channel_id))
        await self.voice.notify(server_event(self.fake.endpoint, f"voice-token-{n}"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeVoiceServer]:
    server = FakeVoiceServer(heartbeat_ms=200, channel_id=CHANNEL_ID)
    await server.start()
    yield server
    await server.close()


async def connect(
    fake: FakeVoiceServer, settings: VoiceSettings | None = None, gateway: MainGateway | None = None, **extra: Any
) -> VoiceSession:
    """What hikari's VoiceComponent.connect_to does once VOICE_STATE/SERVER_UPDATE arrived."""
    gateway = gateway or MainGateway(fake)
    voice = await VoiceSession.initialize(
        channel_id=hikari.Snowflake(CHANNEL_ID),
        endpoint=fake.endpoint,
        guild_id=hikari.Snowflake(GUILD_ID),
        on_close=Closed(),
        owner=cast(Any, object()),
        session_id="voice-session-1",
        shard_id=0,
        token="voice-token",
        user_id=hikari.Snowflake(BOT_ID),
        settings=settings or FAST,
        rejoin=gateway.rejoin,
        **extra,
    )
    gateway.voice = voice
    return voice


@pytest.fixture
async def session(fake: FakeVoiceServer) -> AsyncIterator[VoiceSession]:
    voice = await connect(fake)
    yield voice
    await voice.disconnect()
