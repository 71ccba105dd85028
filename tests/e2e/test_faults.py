"""Faults a user would notice: an answer cut off mid-stream, an unexpected error, Discord rate-limiting the bot."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ServiceUnavailable
from bot.speech.tts import SpeechEngine
from bot.store.answers import AnswerStore
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
        assert await built.get(AnswerStore).latest(discord.channel_id, discord.member.id) is None  # not stored
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

        monkeypatch.setattr(built.get(AnswerStore), "memory", broken)
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


async def test_speech_failing_after_the_answer_adds_an_error_and_keeps_the_answer(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_fake.reply("Paris is the capital of France.")
    async with running_bot(discord, openai_fake, tmp_path) as built:

        async def broken(*_: object, **__: object) -> None:
            raise ServiceUnavailable("Speaking the answer failed: the speech service is down.")

        monkeypatch.setattr(built.get(SpeechEngine), "synthesize", broken)
        handle = discord.slash("ask", options={"question": "Capital of France?", "speak": True})
        error = await handle.wait(lambda e: e.kind == "followup" and "speech service is down" in str(e.json))
        assert error.json["flags"] & 64
        assert handle.original is not None and not handle.original.deleted
        assert handle.original.content == "Paris is the capital of France."
        assert not [e for e in handle.responses if e.kind == "delete"]


async def test_a_discord_error_on_the_final_edit_keeps_what_was_shown_and_out_of_memory(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, allowed_errors: AllowedErrors
) -> None:
    allowed_errors.expect(r"unexpected error [0-9a-f]{8} in /ask")
    openai_fake.reply("The first answer, in several parts. " * 4, "The second answer.")
    openai_fake.stream_chunk_chars = 30
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.01}, rest_max_retries=0) as built:
        # Discord fails the last edit, the one that adds the Correct button.
        discord.fail_next(r"/messages/@original$", 500, body_contains="correct:")
        handle = discord.slash("ask", options={"question": "First question?"})
        error = await handle.wait(lambda e: e.kind == "followup" and "error id" in str(e.json))
        assert error.json["flags"] & 64
        assert handle.original is not None and not handle.original.deleted
        assert handle.original.content.startswith("The first answer"), handle.original.content
        stored = await built.get(AnswerStore).get(1)
        assert stored is not None and not stored.delivered
        again = discord.slash("ask", options={"question": "Second question?"})
        await again.wait(final)
        sent = [m["content"] for m in openai_fake.chat_requests[-1]["messages"]]
        assert "First question?" not in sent
