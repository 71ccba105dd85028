"""A model the server no longer has (here: a LoRA adapter vLLM lost) is replaced by the fallback, and tried later."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from bot.limits import RateLimiter
from bot.llm.answering import Answerer, Question
from bot.llm.chat import ChatModel, ModelNotFound
from bot.llm.outages import ModelOutages
from bot.llm.settings import LLMSettings
from bot.store.answers import AnswerStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.fakes.vllm import FakeVLLM

GUILD = 1


class Notices:
    def __init__(self) -> None:
        self.missing_models: list[tuple[int, str, str]] = []
        self.back: list[tuple[int, str]] = []

    async def missing(self, guild_id: int, model: str, fallback: str) -> None:
        self.missing_models.append((guild_id, model, fallback))

    async def answering_again(self, guild_id: int, model: str) -> None:
        self.back.append((guild_id, model))


class SetClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # any instant: only its passing matters

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
    await db.open()
    yield db
    await db.close()


async def ask(answerer: Answerer, text: str, guild_id: int | None = GUILD) -> tuple[str, str, str | None]:
    reply = await answerer.begin(Question(guild_id, 2, 3, text, "slash"))
    async for _ in reply:
        pass
    return reply.text, reply.model, reply.replaced


async def test_an_adapter_vllm_lost_is_replaced_by_the_base_model_told_once_and_retried_later(
    database: Database,
) -> None:
    async with FakeVLLM("tiny-base") as vllm:
        client = openai.AsyncOpenAI(api_key="none", base_url=vllm.base_url, max_retries=0)
        guilds = GuildSettingsStore(database)
        await guilds.set_active_model(GUILD, "guild-adapter", 9)  # trained, then vLLM restarted without it
        clock, notices = SetClock(), Notices()
        settings = LLMSettings(default_model="tiny-base", model_retry_s=600)
        answerer = Answerer(
            ChatModel(client, max_tokens=50, temperature=None),
            AnswerStore(database),
            guilds,
            RateLimiter(100, 60),
            settings,
            outages=ModelOutages(settings.model_retry_s, clock),
            notices=notices,
        )
        assert await ask(answerer, "one") == ("[tiny-base] answer", "tiny-base", "guild-adapter")
        assert await ask(answerer, "two") == ("[tiny-base] answer", "tiny-base", "guild-adapter")
        assert vllm.chat_models == ["guild-adapter", "tiny-base", "tiny-base"]  # asked once, not on every question
        assert notices.missing_models == [(GUILD, "guild-adapter", "tiny-base")]

        vllm.adapters["guild-adapter"] = "/adapters/guild"  # re-registered
        clock.now += dt.timedelta(seconds=601)
        assert await ask(answerer, "three") == ("[guild-adapter] answer", "guild-adapter", None)
        assert notices.back == [(GUILD, "guild-adapter")]

        # With nothing to fall back to (the default is missing too), the member gets the bot's own short message.
        vllm.restart()
        clock.now += dt.timedelta(seconds=601)
        settings_without = LLMSettings(default_model="gone")
        lone = Answerer(
            ChatModel(client, max_tokens=50, temperature=None),
            AnswerStore(database),
            guilds,
            RateLimiter(100, 60),
            settings_without,
        )
        with pytest.raises(ModelNotFound) as refused:
            await ask(lone, "four", guild_id=None)
        assert "does not exist" not in refused.value.message and "An admin can switch models" in refused.value.message
        await client.close()
