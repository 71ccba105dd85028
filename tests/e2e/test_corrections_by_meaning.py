"""Issue 24 through the fake Discord: with no embeddings endpoint and nothing configured, a member asking in the other
language gets the community's correction (the shipped local model), and an unrelated question gets none."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_model_testing import library_correction_is_found
from tests.fakes.discord import FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


async def test_by_default_a_question_in_russian_finds_the_correction_written_in_english(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # The harness's defaults name no embeddings: the bot's own default is the local model shipped with it.
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}) as built:
        question, unrelated = "Во сколько открывается библиотека по воскресеньям?", "Расскажи анекдот про пингвинов"
        await library_correction_is_found(built, discord, openai_fake, question, unrelated)
