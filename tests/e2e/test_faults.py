"""Faults a user would notice: an answer cut off mid-stream, an unexpected error, Discord rate-limiting the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AllowedErrors
from tests.fakes.discord import Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


async def test_an_answer_cut_off_mid_stream_keeps_what_was_shown_and_says_so(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("The first part arrives. " * 10)
    openai_fake.stream_chunk_chars = 24
    openai_fake.cut_stream_after = 120
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05, "max_retries": 0}) as built:
        handle = discord.slash("ask", options={"question": "Tell me something long"})
        await handle.wait_until(lambda: "cut off" in handle.content)
        assert handle.content.startswith("The first part arrives.")
        assert "model provider" in handle.content and "Traceback" not in handle.content
        assert await built.services.answers.latest(discord.channel_id, discord.member.id) is None  # not stored
        again = discord.slash("ask", options={"question": "And now?"})
        await again.wait(final)


async def test_an_unexpected_error_shows_only_an_error_id(
    discord: FakeDiscord,
    openai_fake: FakeOpenAI,
    tmp_path: Path,
    allowed_errors: AllowedErrors,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    allowed_errors.expect(r"unexpected error [0-9a-f]{8} in /ask")
    async with running_bot(discord, openai_fake, tmp_path) as built:

        async def broken(*_: object, **__: object) -> None:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(built.services.answers, "memory", broken)
        handle = discord.slash("ask", options={"question": "hello"})
        shown = await handle.wait(lambda e: e.kind == "followup")
        assert "error id `" in shown.json["content"] and "secret internal detail" not in shown.json["content"]
        assert shown.json["flags"] & 64


async def test_discord_rate_limiting_an_edit_does_not_lose_the_answer(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        discord.fail_next(r"/messages/@original$", 429, times=2, retry_after=0.05)
        handle = discord.slash("ask", options={"question": "still answering?"})
        await handle.wait(final)
        assert handle.content == "Answer to: still answering?"
