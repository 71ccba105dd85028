"""/ask through the fake Discord and the fake OpenAI, as a user sees it."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


async def test_ask_streams_the_answer_by_editing_and_ends_with_the_models_text(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    answer = "Paris is the capital of France. " * 6
    openai_fake.reply(answer.strip())
    openai_fake.stream_chunk_chars = 10
    openai_fake.chunk_delay_s = 0.02
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.1}):
        handle = discord.slash("ask", options={"question": "What is the capital of France?"})
        callback = await handle.wait_callback()
        assert callback.type == 5  # deferred first
        await handle.wait(lambda e: e.kind == "edit" and "Correct" in str(e.json.get("components")))
        edits = [e for e in handle.responses if e.kind == "edit"]
        assert len(edits) >= 2
        assert handle.content == answer.strip()
        assert any(c.startswith("correct:") for c in handle.original.custom_ids)  # type: ignore[union-attr]
