"""Issue 24 through the fake Discord: with no embeddings endpoint and nothing configured, a member asking in the other
language gets the community's correction (the shipped local model), and an unrelated question gets none."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_model_testing import approve, final, said
from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


async def test_by_default_a_question_in_russian_finds_the_correction_written_in_english(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # The harness's defaults name no embeddings: the bot's own default is the local model shipped with it.
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}) as built:
        other = await approve(built, discord, "Where do we park bikes?", "Bikes go in the yard behind building B.")
        fixed = await approve(built, discord, "When does the library open on Sundays?", "At 11:00 on Sundays.")
        asked = discord.slash("ask", options={"question": "Во сколько открывается библиотека по воскресеньям?"})
        reply = said(await asked.wait(final))
        system = openai_fake.chat_requests[-1]["messages"][0]["content"]
        assert "At 11:00 on Sundays." in system and "yard behind building B" not in system
        assert f"used corrections #{fixed}" in reply and f"#{other}" not in reply

        unrelated = discord.slash("ask", options={"question": "Расскажи анекдот про пингвинов"})
        assert "used corrections" not in said(await unrelated.wait(final))
        assert "11:00" not in openai_fake.chat_requests[-1]["messages"][0]["content"]
