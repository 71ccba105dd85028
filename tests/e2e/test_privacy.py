"""Nobody reads an answer they could not already see, and no id from one server acts in another (tried as a hostile
member would, through the fake Discord)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.store.corrections import CorrectionStore
from tests.fakes.discord import VIEW_CHANNEL, FakeDiscord, InteractionHandle, User, final
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

SECRET = "my landlord is called Mr Grimsby"


async def ask(
    discord: FakeDiscord, question: str, user: User, *, private: bool = False, channel_id: int | None = None
) -> int:
    handle = discord.slash("ask", options={"question": question, "private": private}, user=user, channel_id=channel_id)
    event = await handle.wait(final)
    button = next(c["custom_id"] for row in event.json["components"] for c in row["components"])
    return int(button.split(":")[1])


def everything(handle: InteractionHandle) -> str:
    return json.dumps([e.json for e in handle.responses])


async def refusal(handle: InteractionHandle) -> str:
    event = await handle.wait_callback()
    assert event.type == 4, "refused with a message, not a form"
    assert handle.ephemeral
    text = everything(handle)
    assert SECRET not in text and "Grimsby" not in text  # a refusal never quotes the answer
    return text


async def test_a_private_answer_is_opened_only_by_its_asker(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    openai_fake.reply(f"Noted: {SECRET}.")
    async with running_bot(discord, openai_fake, tmp_path) as built:
        answer_id = await ask(discord, SECRET, discord.member, private=True)

        by_id = discord.slash("correct", options={"answer": answer_id}, user=eve)
        assert "private to the person who asked" in await refusal(by_id)
        forged = discord.submit_modal(f"correction:{answer_id}", {"corrected": "Mr Smith."}, user=eve)
        assert "private to the person who asked" in await refusal(forged)
        listed = discord.autocomplete("correct", "answer", {"answer": ""}, user=eve)
        await listed.wait_callback()
        assert listed.choices == []

        mine = discord.slash("correct", options={"answer": answer_id}, user=discord.member)
        await mine.wait_callback()
        assert mine.modal is not None and mine.modal["title"] == "Correct (reviewers will see this answer)"
        saved = discord.submit_modal(mine.modal["custom_id"], {"corrected": "Mr Grimsby, flat 2."})
        await saved.wait_callback()

        # The list shows the question to its author and to reviewers, never to a bystander.
        theirs = discord.slash("corrections", subcommand="list", user=eve)
        await theirs.wait_callback()
        assert "private question" in everything(theirs) and "Grimsby" not in everything(theirs)
        reviewer = discord.slash("corrections", subcommand="list", user=discord.admin)
        await reviewer.wait_callback()
        assert "landlord" in everything(reviewer)
        assert (await built.get(CorrectionStore).stats(discord.guild_id)).by_status == {"pending": 1}


async def test_dm_answers_stay_between_the_asker_and_the_dm_review_queue(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    openai_fake.reply(f"Noted: {SECRET}.")
    async with running_bot(discord, openai_fake, tmp_path) as built:
        discord.post_message(SECRET, guild_id=None)  # the member DMs the bot
        dm = discord.dm_channel(discord.member)
        (reply,) = await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm) if m.custom_ids])
        answer_id = int(reply.custom_ids[0].split(":")[1])

        # Eve walks ids in the server, and forges the form from her own DM: nothing opens.
        walked = discord.slash("correct", options={"answer": answer_id}, user=eve)
        assert "private to the person who asked" in await refusal(walked)
        forged = discord.submit_modal(f"correction:{answer_id}", {"corrected": "Mr Smith."}, user=eve, guild_id=None)
        assert "private to the person who asked" in await refusal(forged)
        # With no DM review queue configured, even the asker's correction is not collected (and says why).
        own = discord.click(reply, reply.custom_ids[0])
        assert "not collected" in await refusal(own)
        assert (await built.get(CorrectionStore).stats(discord.guild_id)).by_status == {}

    queue = {"dm_review_guild": discord.guild_id, "command_guilds": [discord.guild_id]}
    async with running_bot(discord, openai_fake, tmp_path, discord=queue) as built:
        own = discord.click(reply, reply.custom_ids[0])
        await own.wait_callback()
        assert own.modal is not None and "reviewers will see" in own.modal["title"]
        saved = discord.submit_modal(own.modal["custom_id"], {"corrected": "Mr Grimsby."}, guild_id=None)
        await saved.wait_callback()
        pending = await built.get(CorrectionStore).next_pending(discord.guild_id)
        assert pending is not None and pending.answer_id == answer_id and pending.private


async def test_a_public_answer_is_opened_by_others_only_where_it_was_posted(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    staff_only = discord.other_channel_id
    discord.deny(staff_only, VIEW_CHANNEL)  # @everyone cannot see it
    discord.allow(staff_only, VIEW_CHANNEL, user=discord.member)
    openai_fake.reply(f"Noted: {SECRET}.")
    both = {"command_guilds": [discord.guild_id, discord.other_guild_id]}
    async with running_bot(discord, openai_fake, tmp_path, discord=both):
        hidden_id = await ask(discord, SECRET, discord.member, channel_id=staff_only)
        public_id = await ask(discord, "What is 2+2?", discord.member)

        walked = discord.slash("correct", options={"answer": hidden_id}, user=eve)
        assert "not posted here" in await refusal(walked)
        forged = discord.submit_modal(f"correction:{hidden_id}", {"corrected": "x"}, user=eve)
        assert "not posted here" in await refusal(forged)
        other_server = discord.slash(
            "correct",
            options={"answer": public_id},
            user=eve,
            guild_id=discord.other_guild_id,
            channel_id=discord.other_guild_channel_id,
        )
        await refusal(other_server)

        # Where it was posted, anyone may: through its button, or /correct in that channel.
        (message,) = [m for m in discord.bot_messages_in(discord.channel_id) if f"correct:{public_id}" in m.custom_ids]
        opened = discord.click(message, f"correct:{public_id}", user=eve)
        await opened.wait_callback()
        assert opened.modal is not None and opened.modal["title"] == "Correct this answer"
        saved = discord.submit_modal(opened.modal["custom_id"], {"corrected": "Four."}, user=eve, message=message)
        assert "Saved your correction" in everything(saved) or (await saved.wait_callback()).type == 4
        here = discord.slash("correct", options={"answer": public_id}, user=eve)
        await here.wait_callback()
        assert here.modal is not None


async def test_a_forged_review_edit_from_another_server_changes_nothing(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("Sydney.")
    both = {"command_guilds": [discord.guild_id, discord.other_guild_id]}
    async with running_bot(discord, openai_fake, tmp_path, discord=both) as built:
        answer_id = await ask(discord, "Capital of Australia?", discord.member)
        saved = discord.submit_modal(f"correction:{answer_id}", {"corrected": "Canberra."})
        await saved.wait_callback()
        # An admin of the other server submits the Edit form with this server's correction id.
        forged = discord.submit_modal(
            "review-edit:1",
            {"corrected": "Melbourne."},
            user=discord.admin,
            guild_id=discord.other_guild_id,
            channel_id=discord.other_guild_channel_id,
        )
        assert "not in this server's queue" in await refusal(forged)
        correction = await built.get(CorrectionStore).get(1)
        assert correction is not None and correction.status == "pending" and correction.corrected_answer == "Canberra."


async def test_malformed_custom_ids_are_refused_not_crashed_on(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        for custom_id in ("correction:abc", "correction:1.2", "review-edit:-1", "correction:" + "9" * 30):
            forged = discord.submit_modal(custom_id, {"corrected": "x"}, user=discord.admin)
            assert "out of date" in await refusal(forged)


def last_request(openai_fake: FakeOpenAI) -> str:
    """Everything the model was given for the latest answer."""
    return json.dumps(openai_fake.chat_requests[-1]["messages"])


async def test_a_private_answer_is_memory_only_for_its_askers_later_private_answers_there(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    async with running_bot(discord, openai_fake, tmp_path):
        await ask(discord, SECRET, discord.member, private=True)

        # The asker's next public answer is shown to the channel: it is not built on the private one.
        await ask(discord, "What did I just tell you?", discord.member)
        assert "Grimsby" not in last_request(openai_fake)
        # Their next private answer here still goes on from it (and from the public turn, which they saw too).
        await ask(discord, "Remind me?", discord.member, private=True)
        sent = last_request(openai_fake)
        assert "Grimsby" in sent and "What did I just tell you?" in sent
        # Nobody else's, private or public, and not the asker's own in another channel.
        await ask(discord, "What did they tell you?", eve, private=True)
        await ask(discord, "And now?", eve)
        await ask(discord, "Remind me here?", discord.member, private=True, channel_id=discord.other_channel_id)
        assert not any("Grimsby" in json.dumps(r["messages"]) for r in openai_fake.chat_requests[3:])


async def test_a_thread_opened_after_a_private_answer_never_remembers_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    settings = {"command_guilds": [discord.guild_id], "answer_in_threads": True}
    async with running_bot(discord, openai_fake, tmp_path, discord=settings):
        await ask(discord, SECRET, discord.member, private=True)
        asked = discord.slash("ask", options={"question": "Who are landlords?", "thread": True}, user=discord.member)
        await asked.wait(final)
        assert "Grimsby" not in last_request(openai_fake)
        thread = await discord.wait_for(lambda: discord.threads.get(asked.original.id) if asked.original else None)
        thread_id = int(thread["id"])

        # The asker writes in the thread, then asks privately there: that goes on with the thread's conversation.
        discord.post_message("I rent a flat.", channel_id=thread_id)
        await discord.wait_for(lambda: [m for m in discord.bot_messages_in(thread_id) if m.custom_ids])
        await ask(discord, "My flat is number 2.", discord.member, private=True, channel_id=thread_id)
        assert "I rent a flat." in last_request(openai_fake)

        # A member questions the thread: its memory is the public conversation alone.
        discord.post_message("What is the landlord's name?", channel_id=thread_id, author=discord.admin)
        await discord.wait_for(
            lambda: [m for m in discord.bot_messages_in(thread_id) if "landlord's name" in m.content]
        )
        sent = last_request(openai_fake)
        assert (
            "Who are landlords?" in sent
            and "I rent a flat." in sent
            and "Grimsby" not in sent
            and "flat is number 2" not in sent
        )


async def test_dm_turns_are_memory_only_for_the_same_askers_later_dm_turns(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        dm = discord.dm_channel(discord.member)
        discord.post_message(SECRET, guild_id=None)
        await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm) if m.custom_ids])
        discord.post_message("Remind me?", guild_id=None)
        await discord.wait_for(lambda: [m for m in discord.bot_messages_in(dm) if m.custom_ids][1:])
        assert "Grimsby" in last_request(openai_fake)
        # In the server, publicly or privately, the DM is nobody's memory, not even its asker's.
        await ask(discord, "What did I tell you in private?", discord.member)
        await ask(discord, "And privately?", discord.member, private=True)
        assert not any("Grimsby" in json.dumps(r["messages"]) for r in openai_fake.chat_requests[2:])
