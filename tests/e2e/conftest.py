"""Fixtures for end-to-end tests: the loopback fakes, started per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    # Tests restart the bot within a second; Discord's 5 s IDENTIFY window (kept by default, and tested in
    # tests/fakes/test_discord.py and tests/e2e/test_shards.py) would refuse the restart and cost seconds of backoff.
    async with FakeDiscord(identify_window_s=0.2) as fake:
        yield fake


@pytest.fixture
async def openai_fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake
