"""The threads the bot opened: a message in one continues its conversation; another channel is none of them."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.threads import BotThread, ThreadStore


async def test_a_thread_the_bot_opened_is_found_with_its_conversation_until_removed(db: Database) -> None:
    threads = ThreadStore(db)
    opened = BotThread(thread_id=900, guild_id=5, parent_channel_id=10, conversation_id="conv-1")
    await threads.add(opened, started_by=1)
    assert await threads.get(900) == opened
    assert await threads.get(10) is None  # the channel it was opened in is no thread of the bot
    await threads.remove(900)
    assert await threads.get(900) is None


async def test_a_thread_recorded_twice_keeps_its_first_conversation(db: Database) -> None:
    threads = ThreadStore(db)
    await threads.add(BotThread(900, 5, 10, "conv-1"), started_by=1)
    await threads.add(BotThread(900, 5, 10, "conv-2"), started_by=2)  # e.g. two shards saw the same event
    found = await threads.get(900)
    assert found is not None and found.conversation_id == "conv-1"
