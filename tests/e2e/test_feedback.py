"""👍/👎 on answers through the fake Discord: votes change and survive a restart, 👎 leads to the correction form,
the review queue puts most-voted wrong answers first, and 👍 answers become reviewed training examples."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store.votes import VoteStore
from tests.fakes.discord import FakeDiscord, InteractionHandle, Message, User, final
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def drop_everything(conn: sa.Connection) -> None:
    reflected = sa.MetaData()
    reflected.reflect(conn)
    reflected.drop_all(conn)


@pytest.fixture(params=BACKENDS)
async def storage(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Where the bot keeps votes: its own SQLite file (the harness default), or an emptied PostgreSQL database."""
    if request.param == "sqlite":
        yield {}
        return
    url = os.environ["TEST_DATABASE_URL"]
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(drop_everything)
    await engine.dispose()
    yield {"url": url}


async def ask(discord: FakeDiscord, question: str, user: User | None = None, *, private: bool = False) -> Message:
    handle = discord.slash("ask", options={"question": question, "private": private}, user=user)
    await handle.wait(final)
    assert handle.original is not None
    return handle.original


def button(message: Message, prefix: str) -> str:
    return next(c for c in message.custom_ids if c.startswith(prefix))


async def reply_text(handle: InteractionHandle) -> str:
    event = await handle.wait(lambda e: e.kind in ("callback", "followup") and bool(e.json.get("data", e.json)))
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    return str(data.get("content", "")) + json.dumps(data.get("embeds", []), ensure_ascii=False)


async def vote(discord: FakeDiscord, message: Message, which: str, user: User) -> InteractionHandle:
    handle = discord.click(message, button(message, f"vote:{which}."), user=user)
    await handle.wait_callback()
    return handle


async def test_votes_are_one_per_member_change_and_survive_a_restart(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, storage: dict[str, Any]
) -> None:
    eve = discord.make_user("eve")
    openai_fake.reply("The Moon is made of cheese.")
    async with running_bot(discord, openai_fake, tmp_path, storage=storage):
        answer = await ask(discord, "What is the Moon made of?")
        # Correct, 👍 and 👎 share one row of the answer's message.
        assert [c["emoji"]["name"] for c in answer.components[0]["components"][1:]] == ["👍", "👎"]

        up = await vote(discord, answer, "up", discord.member)  # the asker's own vote counts like anyone's
        assert up.ephemeral and "👍 1 · 👎 0" in up.content
        again = await vote(discord, answer, "up", discord.member)
        assert "👍 1 · 👎 0" in again.content, "one vote per member"
        theirs = await vote(discord, answer, "up", eve)
        assert "👍 2 · 👎 0" in theirs.content
        calls = len(openai_fake.chat_requests)

    async with running_bot(discord, openai_fake, tmp_path, storage=storage):
        # After a restart the buttons still work; eve changes her mind, and 👎 asks what was wrong.
        down = await vote(discord, answer, "down", eve)
        assert down.modal is not None and down.modal["title"] == "👎 noted. What was wrong? Correct it"
        fields = {f["custom_id"]: f for f in down.modal["fields"]}
        assert fields["original"]["value"] == "The Moon is made of cheese."
        saved = discord.submit_modal(down.modal["custom_id"], {"corrected": "Rock."}, user=eve, message=answer)
        assert "Saved your correction #1" in await reply_text(saved)
        member_again = await vote(discord, answer, "up", discord.member)
        assert "👍 1 · 👎 1" in member_again.content

        stats = discord.slash("corrections", subcommand="stats", user=eve)
        assert "👍 **1** · 👎 **1** on 1 answer(s)" in await reply_text(stats)
        assert len(openai_fake.chat_requests) == calls, "a vote costs no model call"


async def test_a_private_answer_takes_votes_from_its_asker_alone(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve = discord.make_user("eve")
    async with running_bot(discord, openai_fake, tmp_path) as built:
        answer = await ask(discord, "my secret question", private=True)
        mine = await vote(discord, answer, "up", discord.member)
        assert "👍 1 · 👎 0" in mine.content

        # A forged click (the button is only shown to the asker) is refused and counts nothing.
        forged = discord.click(answer, button(answer, "vote:down."), user=eve, unchecked=True)
        event = await forged.wait_callback()
        assert event.type == 4 and forged.ephemeral and "private to the person who asked" in forged.content
        answer_id = int(button(answer, "vote:up.").split(".")[1])
        tally = await built.get(VoteStore).tally(answer_id)
        assert (tally.up, tally.down) == (1, 0)


async def test_the_review_queue_shows_the_most_voted_wrong_answer_first(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    eve, finn = discord.make_user("eve"), discord.make_user("finn")
    async with running_bot(discord, openai_fake, tmp_path):
        first = await ask(discord, "Is water wet?")
        second = await ask(discord, "Is fire cold?")
        for answer, voters in ((first, [eve]), (second, [eve, finn])):
            for voter in voters:
                down = await vote(discord, answer, "down", voter)
                assert down.modal is not None
                saved = discord.submit_modal(
                    down.modal["custom_id"], {"corrected": f"Fixed by {voter.name}"}, user=voter, message=answer
                )
                await saved.wait_callback()
        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        text = await reply_text(review)
        # Three pending corrections; the head is one of the answer with two 👎, not the oldest.
        assert "Is fire cold?" in text and "Is water wet?" not in text


async def test_answers_voted_good_are_reviewed_and_exported_as_supervised_examples(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path, storage: dict[str, Any]
) -> None:
    eve, finn = discord.make_user("eve"), discord.make_user("finn")
    async with running_bot(discord, openai_fake, tmp_path, storage=storage):
        liked = await ask(discord, "What is 2 + 2?")  # answered "Answer to: What is 2 + 2?"
        corrected = await ask(discord, "What is 3 + 3?")
        once = await ask(discord, "What is 4 + 4?")
        private = await ask(discord, "What is my secret?", private=True)
        for voter in (discord.member, eve):
            await vote(discord, liked, "up", voter)
            await vote(discord, corrected, "up", voter)
        await vote(discord, once, "up", eve)
        await vote(discord, private, "up", discord.member)
        fixed = discord.click(corrected, button(corrected, "correct:"), user=finn)
        await fixed.wait_callback()
        assert fixed.modal is not None
        await discord.submit_modal(
            fixed.modal["custom_id"], {"corrected": "6"}, user=finn, message=corrected
        ).wait_callback()

        refused = discord.slash("corrections", subcommand="endorse", options={"min_votes": 2}, user=eve)
        assert "Only admins" in await reply_text(refused)
        endorsed = discord.slash("corrections", subcommand="endorse", options={"min_votes": 2}, user=discord.admin)
        assert "Queued 1 answer(s) with 2+ 👍" in await reply_text(endorsed)
        again = discord.slash("corrections", subcommand="endorse", options={"min_votes": 2}, user=discord.admin)
        assert "No public answer has 2 or more 👍" in await reply_text(again), "queued once"

        listed = discord.slash("corrections", subcommand="list", user=eve)
        assert f"**#2** 👍 endorsed <@{discord.admin.id}> · answer #1" in await reply_text(listed)
        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        card = await reply_text(review)
        assert "Correction #1" in card and "What is 3 + 3?" in card
        assert review.original is not None
        approve = discord.click(review.original, "review:approve.1", user=discord.admin)
        await approve.wait_callback()
        card = json.dumps(review.original.embeds, ensure_ascii=False)
        assert "Endorsed answer #2" in card and "What is 2 + 2?" in card and "👍 2 · 👎 0" in card
        approve = discord.click(review.original, "review:approve.2", user=discord.admin)
        await approve.wait_callback()

        export = discord.slash("corrections", subcommand="export", options={"format": "sft"}, user=discord.admin)
        event = await export.wait(lambda e: e.kind == "edit" and bool(e.files))
        lines = [json.loads(line) for line in event.files[0].data.decode().splitlines()]
        answers = {line["messages"][-2]["content"]: line["messages"][-1]["content"] for line in lines}
        assert answers == {"What is 3 + 3?": "6", "What is 2 + 2?": "Answer to: What is 2 + 2?"}
        pairs = discord.slash("corrections", subcommand="export", options={"format": "dpo"}, user=discord.admin)
        event = await pairs.wait(lambda e: e.kind == "edit" and bool(e.files))
        assert len(event.files[0].data.decode().splitlines()) == 1, "an endorsement has no worse answer to pair"
