"""Issue 26 through the fake Discord and the fake OpenAI: every model call's reported tokens are counted by server,
member, model and purpose; /usage shows them (a server's to its admins, everyone their own); a server's monthly
budget and members' daily quota refuse questions once used up, and admins are told once at 80 % and at 100 %. On
SQLite, and on PostgreSQL when TEST_DATABASE_URL names one (where several processes share the counters)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import BuiltBot
from bot.llm.usage import ModelPrice, UsageLedger
from bot.metrics import Metrics
from bot.store.model_tests import EvalQuestion, ModelTestStore
from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, User
from tests.fakes.harness import make_config, running_bot
from tests.fakes.openai import FakeOpenAI

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PRICES = {"gpt-6-luna": ModelPrice(input=0.15, output=0.60, cached_input=0.075)}


def _drop_everything(conn: Connection) -> None:
    reflected = sa.MetaData()
    reflected.reflect(conn)
    reflected.drop_all(conn)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None: the test's own SQLite file; else this worker's PostgreSQL database, emptied."""
    if request.param == "sqlite":
        yield None
        return
    url = os.environ["TEST_DATABASE_URL"]
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_drop_everything)
    await engine.dispose()
    yield url


@asynccontextmanager
async def bot_on(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None, /, **sections: Any
) -> AsyncIterator[BuiltBot]:
    config = make_config(discord, openai_fake, tmp_path, **({"usage": {"prices": PRICES}} | sections))
    if database_url is not None:
        config = attrs.evolve(config, secrets=attrs.evolve(config.secrets, database_url=database_url))
    async with running_bot(discord, openai_fake, tmp_path, config=config) as built:
        yield built


def said(e: Event) -> str:
    data = e.json.get("data", e.json) if e.kind == "callback" else e.json
    return str((data or {}).get("content", ""))


async def ask(discord: FakeDiscord, question: str, user: User | None = None) -> InteractionHandle:
    """An answered /ask (a new conversation each time, so each prompt holds only its own question)."""
    handle = discord.slash("ask", options={"question": question, "new_conversation": True}, user=user)
    await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
    return handle


async def refused(discord: FakeDiscord, question: str, user: User | None = None) -> str:
    handle = discord.slash("ask", options={"question": question, "new_conversation": True}, user=user)
    event = await handle.wait(lambda e: e.kind != "callback" and bool(said(e)))
    return said(event)


async def usage(
    discord: FakeDiscord, subcommand: str, user: User | None = None, guild_id: int | None = -1, **options: Any
) -> str:
    handle = discord.slash("usage", subcommand=subcommand, options=options, user=user, guild_id=guild_id)
    event = await handle.wait(lambda e: bool(said(e)))
    assert handle.ephemeral
    return said(event)


def tokens_of(reported: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] = lambda _: True) -> int:
    return sum(u["prompt_tokens"] + u["completion_tokens"] for u in reported if keep(u))


def shown_total(text: str) -> int:
    match = re.search(r"\*\*([\d,]+) tokens\*\*", text)
    assert match is not None, text
    return int(match.group(1).replace(",", ""))


async def test_usage_totals_are_the_tokens_the_provider_reported_for_streamed_and_plain_calls(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    openai_fake.cached_prompt_tokens = 5
    openai_fake.chat_models.add("other-model")  # a model the provider serves, as the fake's 404 needs
    openai_fake.answer_as("judge", json.dumps({"score": 9, "verdict": "correct", "reason": "same"}))
    sections: dict[str, Any] = {
        "llm": {"models": ["gpt-6-luna", "other-model"]},
        "testing": {"judge_model": "judge", "progress_interval_s": 0.01},
    }
    async with bot_on(discord, openai_fake, tmp_path, database_url, **sections) as built:
        await ask(discord, "What is the capital of France?")
        await ask(discord, "And what is the capital of Italy, please?", user=discord.admin)
        streamed = list(openai_fake.usage_reported)
        assert len(streamed) == 2  # the streamed answers asked for their usage (stream_options.include_usage)
        # Plain completions: /model test's answers and the judge's grading.
        questions = [EvalQuestion("What is 2 + 2?", "4."), EvalQuestion("What is 3 + 3?", "6.")]
        await built.get(ModelTestStore).replace_questions(discord.guild_id, questions, discord.admin.id)
        test = discord.slash(
            "model", subcommand="test", options={"model": "gpt-6-luna", "against": "other-model"}, user=discord.admin
        )
        start = await test.wait(lambda e: "model calls" in said(e))
        assert "tokens" in said(start)  # what the test may spend is said before it starts
        await test.wait(lambda e: bool(e.files), timeout=30)
        reported = openai_fake.usage_reported
        assert len(reported) == 2 + 4 * len(questions)

        text = await usage(discord, "server", user=discord.admin)
        assert shown_total(text) == tokens_of(reported)
        cached = sum(u["prompt_tokens_details"]["cached_tokens"] for u in reported)
        assert f"cached {cached:,}" in text
        assert "judge" in text and "test" in text and "answer" in text
        assert "cost unknown" in text  # "judge" and "other-model" have no price
        # Each purpose and model is counted apart, to the token.
        totals = await built.get(UsageLedger).store.totals(discord.guild_id, LONG_AGO)
        by_key = {(t.model, t.purpose): t.prompt_tokens + t.completion_tokens for t in totals}
        assert by_key[("judge", "judge")] == tokens_of(reported, lambda u: u["model"] == "judge")
        assert by_key[("gpt-6-luna", "answer")] == tokens_of(streamed)
        assert by_key[("other-model", "test")] == tokens_of(reported, lambda u: u["model"] == "other-model")
        # Prometheus counts them by model and purpose too.
        exposition = built.get(Metrics).exposition().decode()
        judge_prompt = sum(u["prompt_tokens"] for u in reported if u["model"] == "judge")
        assert f'teachbot_model_tokens_total{{kind="prompt",model="judge",purpose="judge"}} {float(judge_prompt)}' in (
            exposition
        )


async def test_a_member_sees_only_their_own_usage(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    async with bot_on(discord, openai_fake, tmp_path, database_url):
        await usage(discord, "budget", user=discord.admin, monthly_tokens=1_000_000)
        await ask(discord, "Short one?")
        mine = tokens_of(openai_fake.usage_reported)
        await ask(discord, "A much longer question from the admin about many different things at once?", discord.admin)
        everyone = tokens_of(openai_fake.usage_reported)
        assert everyone > mine

        own = await usage(discord, "me")
        assert shown_total(own) == mine and "This month" not in own  # not the server's totals either
        assert shown_total(await usage(discord, "me", user=discord.admin)) == everyone - mine
        server = await usage(discord, "server", user=discord.admin)
        assert shown_total(server) == everyone and f"This month: {everyone:,} of 1,000,000 tokens" in server
        member_view = await usage(discord, "server", user=discord.admin, member=discord.member)
        assert shown_total(member_view) == mine


async def test_usage_of_the_server_and_its_budget_are_for_admins_in_a_server_only(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    # Global commands, as a DM can use them.
    async with bot_on(discord, openai_fake, tmp_path, database_url, discord={"command_guilds": []}):
        refusal = await usage(discord, "server")
        assert "Only admins" in refusal and "tokens" not in refusal
        assert "Only admins" in await usage(discord, "server", member=discord.admin)
        assert "Only admins" in await usage(discord, "budget", monthly_tokens=10)
        assert "only works in a server" in await usage(discord, "server", user=discord.admin, guild_id=None)
        assert "only works in a server" in await usage(discord, "budget", user=discord.admin, guild_id=None)
        # The refused budget changed nothing.
        assert "Monthly budget: no limit" in await usage(discord, "budget", user=discord.admin)


async def test_a_budget_crossed_mid_day_refuses_the_next_question_and_tells_admins_once(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    openai_fake.default_reply = "ok"
    question = "How many tokens does this take?"
    async with bot_on(discord, openai_fake, tmp_path, database_url) as built:
        await ask(discord, question)
        one = tokens_of(openai_fake.usage_reported)
        # 1 question is 45 % of the month's budget, 2 are 91 %, 3 are 136 %.
        budget = int(2.2 * one)
        said_budget = await usage(discord, "budget", user=discord.admin, monthly_tokens=budget)
        assert f"{budget:,} tokens" in said_budget

        def notices(level: str) -> list[str]:
            return [m.content for m in discord.bot_messages_in(discord.channel_id) if level in m.content]

        await ask(discord, question)
        await discord.wait_for(lambda: notices("has used 80 %"))
        assert not notices("whole model budget")
        await ask(discord, question, discord.admin)  # crosses 100 %: it was asked within the budget, so answered
        await discord.wait_for(lambda: notices("whole model budget"))
        asked = len(openai_fake.chat_requests)

        refusal = await refused(discord, question)
        assert "used its model budget for this month" in refusal
        assert "used its model budget" in await refused(discord, "Me too?", discord.admin)
        await built.get(ModelTestStore).replace_questions(discord.guild_id, [EvalQuestion("Q?", "A.")], 1)
        test = discord.slash("model", subcommand="test", options={"against": "gpt-6.1-terra"}, user=discord.admin)
        assert "used its model budget" in said(await test.wait(lambda e: bool(said(e))))
        assert len(openai_fake.chat_requests) == asked  # nothing that costs money was started
        assert len(notices("has used 80 %")) == 1 and len(notices("whole model budget")) == 1  # told once each

        # Raising the budget answers again.
        await usage(discord, "budget", user=discord.admin, monthly_tokens=100 * one)
        await ask(discord, question)


async def test_a_members_daily_quota_refuses_only_that_member(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    openai_fake.default_reply = "ok"
    question = "How many tokens does this take?"
    async with bot_on(discord, openai_fake, tmp_path, database_url):
        await ask(discord, question, discord.admin)
        one = tokens_of(openai_fake.usage_reported)
        await usage(discord, "budget", user=discord.admin, member_daily_tokens=one)
        await ask(discord, question)
        asked = len(openai_fake.chat_requests)
        assert "00:00 UTC" in await refused(discord, question)
        assert len(openai_fake.chat_requests) == asked
        assert f"{one:,} of your {one:,} tokens a day" in await usage(discord, "me")
        await ask(discord, question, discord.role_admin)  # another member still has their day's share


def training_lines(n: int) -> bytes:
    return b"".join(
        json.dumps(
            {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"A{i}."}]}
        ).encode()
        + b"\n"
        for i in range(n)
    )


async def test_training_says_its_spend_against_the_budget_counts_it_and_starts_nothing_once_spent(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    async with bot_on(discord, openai_fake, tmp_path, database_url):
        await usage(discord, "budget", user=discord.admin, monthly_tokens=1000)
        data = discord.attachment("faq.jsonl", training_lines(12), "application/jsonl")
        started = discord.slash("train", options={"data": data, "suffix": "faq"}, user=discord.admin)
        await started.wait(lambda e: "train:confirm" in str(e.json.get("components")))
        card = next(m for m in started.messages if any("train:confirm" in c for c in m.custom_ids))
        embeds = json.dumps(card.embeds, ensure_ascii=False)
        billed = int(re.search(r"≈([\d,]+) billed", embeds).group(1).replace(",", ""))  # type: ignore[union-attr]
        assert "This server's budget" in embeds and "1,000 tokens left this month" in embeds
        assert ("go past it" in embeds) == (billed > 1000)
        confirm = discord.click(card, next(c for c in card.custom_ids if "confirm" in c), user=discord.admin)
        await confirm.wait(lambda e: e.kind == "edit")
        assert len(openai_fake.jobs) == 1

        text = await usage(discord, "server", user=discord.admin)
        assert "training" in text and shown_total(text) == billed

        if billed < 1000:  # spend the rest, so the month's budget is used up
            await usage(discord, "budget", user=discord.admin, monthly_tokens=billed)
        again = discord.attachment("faq.jsonl", training_lines(12), "application/jsonl")
        refused_train = discord.slash("train", options={"data": again, "suffix": "faq2"}, user=discord.admin)
        event = await refused_train.wait(lambda e: "budget" in said(e))
        assert "used its model budget for this month" in said(event)
        assert len(openai_fake.jobs) == 1 and not discord.file_downloads[1:]  # nothing new downloaded or started


async def test_an_answer_cut_off_before_its_usage_came_is_still_counted(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, database_url: str | None
) -> None:
    openai_fake.reply("A long answer that the provider stops sending half way through. " * 4)
    openai_fake.cut_stream_after = 40  # the connection drops: no usage chunk, no [DONE]
    async with bot_on(discord, openai_fake, tmp_path, database_url):
        handle = discord.slash("ask", options={"question": "Tell me everything?"})
        await handle.wait(lambda e: "cut off" in said(e))
        assert not openai_fake.usage_reported
        text = await usage(discord, "me")
        assert shown_total(text) > 0 and "answer" in text  # counted at the bot's own estimate
