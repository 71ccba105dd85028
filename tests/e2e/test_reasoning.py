"""Reasoning models: their thinking (`<think>` blocks, even with tags split across deltas, and `reasoning_content`)
is never shown inline nor stored; the reply says it is thinking meanwhile, or shows the thinking as a spoiler."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.store.answers import AnswerStore
from tests.fakes.discord import Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import Deltas, FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


THINKING = Deltas(
    [
        {"reasoning_content": "The user asks about France. "},
        {"content": "<th"},
        {"content": "ink>secret plan: "},
        {"content": "recall capitals"},
        {"content": " of Europe</thi"},
        {"content": "nk>The capital "},
        {"content": "is Paris."},
    ]
)


async def test_a_thinking_model_shows_that_it_thinks_and_never_shows_or_stores_the_thoughts(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply(THINKING)
    openai_fake.chunk_delay_s = 0.06
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 0.05}) as built:
        asked = discord.slash("ask", options={"question": "What is the capital of France?"})
        await asked.wait(final)
        shown = [str(e.json.get("content", "")) for e in asked.responses if e.kind == "edit"]
        assert any(s.startswith("🤔 thinking… ") and s.endswith(" s") for s in shown)
        assert not any("secret" in s or "capitals" in s or "think>" in s or "France." in s for s in shown)
        assert asked.content == "The capital is Paris."
        answer_id = int(asked.original.custom_ids[0].split(":")[1]) if asked.original else 0
        stored = await built.get(AnswerStore).get(answer_id)
        assert stored is not None and stored.answer == "The capital is Paris."

        # The next question's memory holds the answer alone.
        follow_up = discord.slash("ask", options={"question": "And of Spain?"})
        await follow_up.wait(final)
        assert "secret" not in str(openai_fake.chat_requests[-1]["messages"])


async def test_a_model_configured_to_show_its_thinking_shows_it_as_a_spoiler_above_the_answer(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply(THINKING)
    openai_fake.chat_models.add("deepseek-r1")  # a server that serves it (OPENAI_BASE_URL)
    llm = {"default_model": "deepseek-r1", "reasoning": {"deepseek-r1": "spoiler"}}
    async with running_bot(discord, openai_fake, tmp_path, llm=llm) as built:
        asked = discord.slash("ask", options={"question": "What is the capital of France?"})
        await asked.wait(final)
        assert asked.content == (
            "||🤔 The user asks about France. secret plan: recall capitals of Europe||\n\nThe capital is Paris."
        )
        answers = await built.get(AnswerStore).recent_for_user(discord.guild_id, discord.member.id)
        assert [a.answer for a in answers] == ["The capital is Paris."]


# A chat template that opens `<think>` in the prompt (DeepSeek-R1, QwQ): the model streams its thoughts, long enough to
# need a second message, and only then `</think>` and the answer.
LONG_THOUGHTS = "recall every capital of Europe, one by one. " * 60


async def test_thinking_opened_in_the_prompt_is_taken_back_once_its_end_shows_and_never_stored(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    thought = asyncio.Event()  # the model pauses after its thoughts until they are on screen
    openai_fake.reply(
        Deltas(
            [
                {"content": "Secret plan: "},
                {"content": LONG_THOUGHTS},
                thought,
                {"content": "</thi"},
                {"content": "nk>The capital "},
                {"content": "is Paris."},
            ]
        )
    )
    # Every delta is shown as it comes (no edit throttle), so what the member saw does not depend on timing.
    async with running_bot(discord, openai_fake, tmp_path, llm={"edit_interval_s": 1e-9}) as built:
        asked = discord.slash("ask", options={"question": "What is the capital of France?"})
        await asked.wait(lambda e: e.kind == "followup" and "capital of Europe" in str(e.json.get("content", "")))
        thought.set()
        await asked.wait(final)
        shown = [str(e.json.get("content", "")) for e in asked.responses if e.kind != "callback"]
        # Nothing said it was thinking until `</think>` came: by then it was shown, over two messages.
        assert any("Secret plan" in s for s in shown) and any(e.kind == "followup" for e in asked.responses)
        assert not any("think>" in s for s in shown)
        # Then taken back: the second message is deleted, the first shows the answer alone.
        assert any(e.kind == "delete" for e in asked.responses)
        (message,) = discord.bot_messages_in(discord.channel_id)
        assert message.content == "The capital is Paris."
        stored = await built.get(AnswerStore).get(int(message.custom_ids[0].split(":")[1]))
        assert stored is not None and stored.answer == "The capital is Paris."

        follow_up = discord.slash("ask", options={"question": "And of Spain?"})
        await follow_up.wait(final)
        sent = str(openai_fake.chat_requests[-1]["messages"])
        assert "The capital is Paris." in sent and "Secret" not in sent and "capital of Europe" not in sent


async def test_a_spoiler_of_thinking_opened_in_the_prompt_holds_it_all_even_its_pipes(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply(Deltas([{"content": "Is it a || b? Or c |"}, {"content": "</think>The capital is Paris."}]))
    openai_fake.chat_models.add("deepseek-r1")  # a server that serves it (OPENAI_BASE_URL)
    llm = {"default_model": "deepseek-r1", "reasoning": {"deepseek-r1": "spoiler"}}
    async with running_bot(discord, openai_fake, tmp_path, llm=llm) as built:
        asked = discord.slash("ask", options={"question": "What is the capital of France?"})
        await asked.wait(final)
        # Escaped as Discord's markdown reads them, the pipes cannot end the spoiler before the answer.
        assert asked.content == "||🤔 Is it a \\|\\| b? Or c \\|||\n\nThe capital is Paris."
        answers = await built.get(AnswerStore).recent_for_user(discord.guild_id, discord.member.id)
        assert [a.answer for a in answers] == ["The capital is Paris."]
