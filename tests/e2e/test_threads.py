"""Threads: /ask thread:true (or a thread channel) opens a thread on the answer; every message in it continues the
conversation, whoever writes it, without a mention; its answers have working Correct buttons."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord import Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


async def test_a_thread_opened_by_ask_continues_the_conversation_for_everyone_in_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = {
        "command_guilds": [discord.guild_id],
        "answer_in_threads": True,
        "thread_channels": [discord.chat_channel_id],
    }
    async with running_bot(discord, openai_fake, tmp_path, discord=settings):
        asked = discord.slash("ask", options={"question": "My name is Zed.", "thread": True})
        await asked.wait(final)
        assert asked.original is not None
        thread = await discord.wait_for(lambda: discord.threads.get(asked.original.id) if asked.original else None)
        assert thread["name"] == "My name is Zed." and int(thread["parent_id"]) == discord.channel_id
        thread_id = int(thread["id"])

        # Someone else, in the thread, without mentioning the bot: answered there, with the thread's memory.
        discord.post_message("What is his name?", channel_id=thread_id, author=discord.admin)
        replies = await discord.wait_for(lambda: [m for m in discord.bot_messages_in(thread_id) if m.custom_ids])
        assert replies[0].content == "Answer to: What is his name?"
        sent = [m["content"] for m in openai_fake.chat_requests[-1]["messages"]]
        assert sent[1:] == ["My name is Zed.", "Answer to: My name is Zed.", "What is his name?"]

        # The Correct button of an answer in the thread opens the correction form.
        opened = discord.click(replies[0], replies[0].custom_ids[0], user=discord.admin)
        await opened.wait_callback()
        assert opened.modal is not None
        fields = {f["custom_id"]: f.get("value") for f in opened.modal["fields"]}
        assert fields["original"] == "Answer to: What is his name?"

        # Chatter outside the thread is not answered; /ask in a thread channel opens a thread by itself.
        discord.post_message("just chatting", author=discord.admin)
        in_channel = discord.slash("ask", options={"question": "Threads here?"}, channel_id=discord.chat_channel_id)
        await in_channel.wait(final)
        assert await discord.wait_for(
            lambda: asked.original and in_channel.original and in_channel.original.id in discord.threads
        )
        assert len(openai_fake.chat_requests) == 3
        assert not discord.bot_messages_in(discord.channel_id)[1:]  # only /ask's answer in the channel
