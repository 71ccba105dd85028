"""/knowledge through the fakes (issue 27): an admin adds a channel or a file, members' answers cite it, edits and
deletions reach the answers, and nobody is given a passage from a channel they cannot read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import BuiltBot
from bot.discord.knowledge import KnowledgeReader
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from tests.fakes.discord import READ_MESSAGE_HISTORY, VIEW_CHANNEL, FakeDiscord, InteractionHandle
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI
from tests.llm.test_knowledge import text_pdf

KNOWLEDGE = {"knowledge_sources": True}
FAQ = [
    "To get the Verified role, link your GitHub account in the verify channel.",
    "Voice chat opens every Friday at 18:00 UTC in the Lounge.",
    "Правила сервера: запрещены реклама, спам и оскорбления участников.",
]
FILLER = [f"chatter number {i} about lunch and weather" for i in range(230)]  # three pages of history


async def _ask(discord: FakeDiscord, openai_fake: FakeOpenAI, question: str, **kwargs: object) -> tuple[str, str]:
    """The answer shown and the system prompt the model was given."""
    before = len(openai_fake.chat_requests)
    handle = discord.slash("ask", options={"question": question, **kwargs})  # type: ignore[dict-item]
    await handle.wait(lambda e: "correct:" in str(e.json.get("components")))
    sent = openai_fake.chat_requests[before:]
    assert len(sent) == 1
    system = next((m["content"] for m in sent[0]["messages"] if m["role"] == "system"), "")
    return handle.content, system


async def _add_channel(discord: FakeDiscord, channel_id: int, **options: object) -> InteractionHandle:
    handle = discord.slash(
        "knowledge", subcommand="add", options={"channel": channel_id, **options}, user=discord.admin
    )
    await handle.wait_until(lambda: any(mark in handle.content for mark in ("✅", "I need", "I can't")))
    return handle


def _reader(built: BuiltBot) -> KnowledgeReader:
    return built.get(KnowledgeReader)


async def test_a_channel_source_is_cited_and_follows_edits_and_deletions(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    verified, *_ = discord.seed_history(discord.other_channel_id, FAQ + FILLER)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE) as built:
        added = await _add_channel(discord, discord.other_channel_id, label="FAQ")
        assert f"read {len(FAQ) + len(FILLER)} messages" in added.content and added.ephemeral
        assert discord.rate_limited == []  # Discord's buckets were waited out, never overrun

        shown, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert FAQ[0] in system
        link = f"https://discord.com/channels/{discord.guild_id}/{discord.other_channel_id}/{verified.id}"
        assert "📖 sources:" in shown and link in shown and "FAQ" in shown

        reader = _reader(built)
        applied = reader.events_applied
        discord.edit_user_message(verified, "To get the Verified role, ask a moderator in the help channel.")
        async with asyncio.timeout(10):
            await reader.until(lambda: reader.events_applied > applied)
        _, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert "ask a moderator in the help channel" in system and "GitHub" not in system

        applied = reader.events_applied
        discord.delete_user_message(verified)
        async with asyncio.timeout(10):
            await reader.until(lambda: reader.events_applied > applied)
        shown, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert "Verified role" not in system and "📖" not in shown

        # A new message in the source channel is indexed as it arrives.
        applied = reader.events_applied
        discord.post_message(
            "Verified role: now granted by the bot after ten messages.", channel_id=discord.other_channel_id
        )
        async with asyncio.timeout(10):
            await reader.until(lambda: reader.events_applied > applied)
        _, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert "granted by the bot after ten messages" in system


async def test_what_changed_while_the_bot_was_down_is_caught_up_at_start(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    verified, voice, _ = discord.seed_history(discord.other_channel_id, FAQ)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE):
        await _add_channel(discord, discord.other_channel_id)
    discord.edit_user_message(verified, "The Verified role is given by moderators only.", dispatch=False)
    discord.delete_user_message(voice, dispatch=False)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE) as built:
        reader = _reader(built)
        async with asyncio.timeout(10):
            await reader.until(lambda: reader.rechecks >= 1)
        _, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert "given by moderators only" in system and "GitHub" not in system
        _, system = await _ask(discord, openai_fake, "When does voice chat open on Friday?")
        assert "18:00" not in system


async def test_a_member_who_cannot_read_the_source_gets_nothing_from_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    staff = discord.other_channel_id
    discord.deny(staff, VIEW_CHANNEL)  # hidden from @everyone ...
    discord.allow(staff, VIEW_CHANNEL | READ_MESSAGE_HISTORY, user=discord.bot_user)  # ... but the bot reads it
    discord.seed_history(staff, ["The moderator escalation phone number is 555-0199."])
    question = "What is the moderator escalation phone number?"
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE):
        await _add_channel(discord, staff, label="staff")
        # A member who cannot view the channel: nothing, privately or publicly.
        _, system = await _ask(discord, openai_fake, question)
        assert "555-0199" not in system
        _, system = await _ask(discord, openai_fake, question, private=True)
        assert "555-0199" not in system
        # The owner can view it: privately yes, but not in a public answer that members read.
        before = len(openai_fake.chat_requests)
        private = discord.slash("ask", options={"question": question, "private": True}, user=discord.admin)
        await private.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert "555-0199" in str(openai_fake.chat_requests[before]["messages"])
        public = discord.slash("ask", options={"question": question}, user=discord.admin)
        await public.wait(lambda e: "correct:" in str(e.json.get("components")))
        assert "555-0199" not in str(openai_fake.chat_requests[before + 1]["messages"])
        # Nor in a DM, even to someone who can read the channel.
        discord.post_message(question, author=discord.admin, guild_id=None)
        await discord.wait_for(lambda: len(openai_fake.chat_requests) > before + 2)
        assert "555-0199" not in str(openai_fake.chat_requests[before + 2]["messages"])


async def test_files_are_checked_before_download_and_cited_by_section(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    handbook = b"# Handbook\n\nWelcome.\n\n## Refunds\n\nRefunds are paid within 14 days of a written request.\n"
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE | {"knowledge_max_file_mb": 0.001}):
        wrong = discord.attachment("tool.exe", b"MZ" * 10, "application/octet-stream")
        refused = discord.slash("knowledge", subcommand="add", options={"file": wrong}, user=discord.admin)
        await refused.wait_callback()
        assert refused.ephemeral and "not a knowledge file" in refused.content
        big = discord.attachment("big.md", b"# Big\n" + b"x" * 2000, "text/markdown")
        too_big = discord.slash("knowledge", subcommand="add", options={"file": big}, user=discord.admin)
        await too_big.wait_callback()
        assert too_big.ephemeral and "may be at most" in too_big.content
        assert discord.file_downloads == []  # neither was downloaded

        good = discord.attachment("handbook.md", handbook, "text/markdown")
        added = discord.slash("knowledge", subcommand="add", options={"file": good}, user=discord.admin)
        await added.wait(lambda e: "✅" in str(e.json.get("content")))
        shown, system = await _ask(discord, openai_fake, "How fast are refunds paid?")
        assert "within 14 days" in system
        assert "handbook.md § Handbook › Refunds" in shown

        pdf = text_pdf("Welcome.", "Lost keycards are replaced at the front desk for 5 euros.")
        assert len(pdf) < 1024
        upload = discord.attachment("office.pdf", pdf, "application/pdf")
        added = discord.slash("knowledge", subcommand="add", options={"file": upload}, user=discord.admin)
        await added.wait(lambda e: "✅" in str(e.json.get("content")))
        shown, system = await _ask(discord, openai_fake, "Where are lost keycards replaced?")
        assert "front desk for 5 euros" in system and "office.pdf § page 2" in shown


async def test_admins_list_and_remove_sources_and_members_cannot(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    discord.seed_history(discord.other_channel_id, FAQ)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE):
        denied = discord.slash("knowledge", subcommand="add", options={"channel": discord.other_channel_id})
        await denied.wait_callback()
        assert denied.ephemeral and "Only admins" in denied.content
        await _add_channel(discord, discord.other_channel_id, label="FAQ")
        listed = discord.slash("knowledge", subcommand="list", user=discord.admin)
        await listed.wait_callback()
        assert "FAQ" in listed.content and f"<#{discord.other_channel_id}>" in listed.content
        removed = discord.slash("knowledge", subcommand="remove", options={"source": 1}, user=discord.admin)
        await removed.wait_callback()
        assert "removed" in removed.content
        _, system = await _ask(discord, openai_fake, "How do I get the Verified role?")
        assert "GitHub" not in system
        again = discord.slash("knowledge", subcommand="remove", options={"source": 1}, user=discord.admin)
        await again.wait_callback()
        assert again.ephemeral and "no knowledge source #1" in again.content


async def test_adding_a_channel_says_plainly_what_is_missing(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    discord.deny(discord.other_channel_id, READ_MESSAGE_HISTORY, user=discord.bot_user)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE):
        handle = await _add_channel(discord, discord.other_channel_id)
        assert "View Channel and Read Message History" in handle.content
    async with running_bot(discord, openai_fake, tmp_path):  # knowledge_sources off: no Message Content intent
        handle = discord.slash(
            "knowledge", subcommand="add", options={"channel": discord.channel_id}, user=discord.admin
        )
        await handle.wait_until(lambda: "Message Content" in handle.content)
        assert handle.ephemeral


async def test_pinned_only_sources_follow_the_pins_and_a_correction_comes_first(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    verified, voice, _ = discord.seed_history(discord.other_channel_id, FAQ)
    discord.pin(verified, dispatch=False)
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE) as built:
        added = await _add_channel(discord, discord.other_channel_id, pinned_only=True)
        assert "read 1 messages" in added.content
        _, system = await _ask(discord, openai_fake, "When does voice chat open on Friday?")
        assert "18:00" not in system  # not pinned
        reader = _reader(built)
        applied = reader.events_applied
        discord.pin(voice)
        async with asyncio.timeout(10):
            await reader.until(lambda: reader.events_applied > applied)
        _, system = await _ask(discord, openai_fake, "When does voice chat open on Friday?")
        assert FAQ[1] in system

        # An approved correction that says otherwise is given first, and the model is told it wins.
        answer = await built.get(AnswerStore).add(
            NewAnswer(
                guild_id=discord.guild_id,
                channel_id=discord.channel_id,
                user_id=discord.member.id,
                conversation_id="c",
                source="slash",
                model="gpt-4o-mini",
                question="When does voice chat open on Friday?",
                answer="At 18:00 UTC.",
            )
        )
        saved = await built.get(CorrectionStore).submit(
            answer, discord.member.id, "Friday voice chat moved to 20:00 UTC."
        )
        await built.get(CorrectionStore).review(saved.correction.id, discord.admin.id, "approved")
        _, system = await _ask(discord, openai_fake, "When does voice chat open on Friday?")
        assert system.index("moved to 20:00 UTC") < system.index(FAQ[1])
        assert "the community-verified answer wins" in system


async def test_a_long_channel_shows_progress_while_discords_rate_limits_are_waited_out(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    discord.seed_history(discord.other_channel_id, FILLER * 2)  # 460 messages: five pages
    discord.history_rate, discord.history_window_s = 1, 0.6  # one page per 0.6 s: reading takes over 2 s
    async with running_bot(discord, openai_fake, tmp_path, llm=KNOWLEDGE):
        added = await _add_channel(discord, discord.other_channel_id)
        shown = [str(e.json.get("content")) for e in added.responses if e.kind == "edit"]
        assert any("messages so far" in text for text in shown)
        assert "read 460 messages" in added.content
        assert discord.rate_limited == []

        # Missed events (the bot was not told): /knowledge sync catches up and says what changed.
        first, second = [m for m in discord.messages_in(discord.other_channel_id)][:2]
        discord.edit_user_message(first, "Edited while nobody was told.", dispatch=False)
        discord.delete_user_message(second, dispatch=False)
        synced = discord.slash("knowledge", subcommand="sync", options={"source": 1}, user=discord.admin)
        await synced.wait_until(lambda: "🔄 Source #1" in synced.content)
        assert "read 459 messages, 1 new or edited, 1 gone" in synced.content
