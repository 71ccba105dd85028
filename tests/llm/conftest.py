"""The store's fresh database per test (SQLite, and PostgreSQL when TEST_DATABASE_URL names one) for tests here, and
a fake model server with the client the bot makes for it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import openai
import pytest

from bot.llm.wiring import model_client
from tests.fakes.openai import FakeOpenAI
from tests.store.conftest import db

__all__ = ["db", "endpoint"]


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        client = model_client(fake.api_key, fake.base_url, timeout_s=30, max_retries=0)  # as the bot makes it
        await stack.enter_async_context(client)
        yield fake, client
