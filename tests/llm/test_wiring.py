"""The model side's wiring: the endpoint's client waits and retries as configured and is closed with the bot, one
member's calls are limited per window, and the answerer is there for commands."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from bot.errors import RateLimited
from bot.limits import Limiter
from bot.llm.answering import Answerer, MissingModelNotices
from bot.llm.knowledge import ChannelAccess
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageSettings
from bot.llm.wiring import install
from bot.metrics import Metrics
from bot.store.wiring import install as install_store
from bot.wiring import Wiring
from tests.test_wiring import Registry


async def test_the_client_follows_the_settings_and_closes_with_the_bot(tmp_path: Path) -> None:
    registry = Registry()
    wiring = Wiring(registry)
    install_store(wiring, f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3", pool_size=2)
    wiring.add(LLMSettings, LLMSettings(request_timeout_s=12.0, max_retries=4, embeddings="off"))
    wiring.add(Metrics, Metrics())
    wiring.add(UsageSettings, UsageSettings())
    wiring.add(ChannelAccess, object())  # type: ignore[type-abstract]  # Discord's side, not reached here
    wiring.add(MissingModelNotices, object())  # type: ignore[type-abstract]
    install(wiring, api_key="sk-test", base_url="http://127.0.0.1:9/v1", model_calls=3, window_s=60.0)
    client = wiring.get(openai.AsyncOpenAI)
    assert (client.api_key, str(client.base_url)) == ("sk-test", "http://127.0.0.1:9/v1/")
    assert (client.timeout, client.max_retries) == (12.0, 4)
    assert registry.values[Answerer] is wiring.get(Answerer)
    limiter = wiring.get(Limiter)
    await wiring.open()
    try:
        for _ in range(3):
            await limiter.take(7)
        with pytest.raises(RateLimited):
            await limiter.take(7)  # the fourth call in the window waits
        await limiter.take(8)  # another member is not held back
    finally:
        await wiring.close()
    assert client.is_closed()
