"""Issue 21 through the fake Discord and the fake OpenAI: /model test's cost ceiling. A server runs one test at a time
(a second is refused with a link to the first), the bot runs at most `max_running` at once, and each test's calls are
reserved against the server's budget, shown before the first model call and refused when they do not fit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.app import BuiltBot
from bot.store.model_tests import EvalQuestion, ModelTestStore
from tests.fakes.discord import VIEW_CHANNEL, Event, FakeDiscord, InteractionHandle, said
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

QUESTIONS = [EvalQuestion(f"What is the code name of release {i}?", f"Falcon-{i * 7}.") for i in range(1, 4)]
SECTIONS: dict[str, Any] = {
    "llm": {"models": ["gpt-4o-mini", "good-model", "bad-model"]},
    "testing": {"judge_model": "judge", "progress_interval_s": 0.01},
}
VERDICT = json.dumps({"score": 9, "verdict": "correct", "reason": "compared"})


@pytest.fixture(autouse=True)
def served_models(openai_fake: FakeOpenAI) -> None:
    # The fake answers only models it serves, as OpenAI does: these two stand for a server's own models.
    openai_fake.chat_models |= {"good-model", "bad-model"}


def scored(e: Event) -> bool:
    return bool(e.files)


async def upload_questions(built: BuiltBot, guild_id: int, admin_id: int) -> None:
    await built.get(ModelTestStore).replace_questions(guild_id, QUESTIONS, admin_id)


def start_model_test(discord: FakeDiscord, *, user: Any = None, guild_id: int | None = None) -> InteractionHandle:
    options = {"model": "good-model", "against": "bad-model"}
    who = user or discord.admin
    if guild_id is None:
        return discord.slash("model", subcommand="test", options=options, user=who)
    channel = discord.other_guild_channel_id
    return discord.slash("model", subcommand="test", options=options, user=who, guild_id=guild_id, channel_id=channel)


def sections(**testing: Any) -> dict[str, Any]:
    return SECTIONS | {"testing": SECTIONS["testing"] | testing}


async def test_a_second_model_test_in_a_server_is_refused_while_the_first_runs_and_links_to_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("judge", VERDICT)
    async with running_bot(discord, openai_fake, tmp_path, **sections()) as built:
        await upload_questions(built, discord.guild_id, discord.admin.id)
        release = openai_fake.hold_next_chat()  # the first model call waits: the test stays running
        first = start_model_test(discord)
        await first.wait(lambda e: "model calls" in said(e))
        assert first.original is not None and not first.ephemeral  # in the channel: others can follow the link
        await asyncio.wait_for(openai_fake.chat_started.wait(), 15)  # the first test has asked a model
        asked = len(openai_fake.chat_requests)

        second = start_model_test(discord, user=discord.role_admin)
        refusal = said(await second.wait_callback())
        link = f"https://discord.com/channels/{discord.guild_id}/{discord.channel_id}/{first.original.id}"
        assert "already running" in refusal and link in refusal and second.ephemeral
        assert len(openai_fake.chat_requests) <= asked + 4 * len(QUESTIONS)  # only the first test's own calls

        release.set()
        assert "new 3/3" in said(await first.wait(scored, timeout=30))
        again = start_model_test(discord, user=discord.role_admin)  # the server is free once the first has finished
        assert "new 3/3" in said(await again.wait(scored, timeout=30))
    assert len(openai_fake.chat_requests) == 2 * 4 * len(QUESTIONS)  # two tests ran, the refused one asked nothing


async def test_the_running_test_is_not_linked_for_an_admin_who_cannot_see_its_channel(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("judge", VERDICT)
    discord.deny(discord.other_channel_id, VIEW_CHANNEL, user=discord.role_admin)
    async with running_bot(discord, openai_fake, tmp_path, **sections()) as built:
        await upload_questions(built, discord.guild_id, discord.admin.id)
        release = openai_fake.hold_next_chat()
        options = {"model": "good-model", "against": "bad-model"}
        first = discord.slash(
            "model", subcommand="test", options=options, user=discord.admin, channel_id=discord.other_channel_id
        )
        await first.wait(lambda e: "model calls" in said(e))
        assert first.original is not None

        second = start_model_test(discord, user=discord.role_admin)
        refusal = said(await second.wait_callback())
        assert "already running" in refusal and "in a channel you cannot see" in refusal
        assert str(discord.other_channel_id) not in refusal and str(first.original.id) not in refusal
        release.set()
        await first.wait(scored, timeout=30)


async def test_the_bot_runs_at_most_max_running_tests_at_once_across_servers(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.answer_as("judge", VERDICT)
    both = {"command_guilds": list(discord.guild_ids)}
    async with running_bot(discord, openai_fake, tmp_path, discord=both, **sections(max_running=1)) as built:
        for guild_id in discord.guild_ids:
            await upload_questions(built, guild_id, discord.admin.id)
        release = openai_fake.hold_next_chat()
        first = start_model_test(discord)
        await first.wait(lambda e: "model calls" in said(e))

        elsewhere = start_model_test(discord, guild_id=discord.other_guild_id)
        refusal = said(await elsewhere.wait_callback())
        assert "running 1 model test at the moment, the most it runs at once" in refusal and elsewhere.ephemeral

        release.set()
        await first.wait(scored, timeout=30)
        later = start_model_test(discord, guild_id=discord.other_guild_id)
        assert "new 3/3" in said(await later.wait(scored, timeout=30))


async def test_the_budget_is_shown_before_the_first_model_call_and_a_test_that_does_not_fit_is_refused(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    shown_when_asked: list[bool] = []
    first: InteractionHandle | None = None

    def good(request: dict[str, Any]) -> str:
        assert first is not None
        shown_when_asked.append(any("budget is 20 calls per 24 h" in said(e) for e in first.responses))
        return "Falcon."

    openai_fake.answer_as("good-model", good)
    openai_fake.answer_as("judge", VERDICT)
    async with running_bot(discord, openai_fake, tmp_path, **sections(budget_calls=20)) as built:
        await upload_questions(built, discord.guild_id, discord.admin.id)
        first = start_model_test(discord)
        start = said(await first.wait(lambda e: "model calls" in said(e)))
        assert "up to 12 model calls" in start and "0 used before this test, at least 8 left after it" in start
        await first.wait(scored, timeout=30)
        assert shown_when_asked == [True] * len(QUESTIONS)  # shown before any model was asked
        asked = len(openai_fake.chat_requests)
        assert asked == 12

        second = start_model_test(discord, user=discord.role_admin)
        refusal = said(await second.wait_callback())
        assert "needs up to 12 model calls" in refusal and "used 12 of its 20 model calls per 24 h" in refusal
        assert "It fits again <t:" in refusal and second.ephemeral
        assert len(openai_fake.chat_requests) == asked  # refused before any model call
