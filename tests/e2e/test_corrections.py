"""Corrections through the fake Discord: from a wrong answer to an exported training line."""

from __future__ import annotations

import json
from pathlib import Path

from bot.store.corrections import CorrectionStore
from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, User
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


async def ask(discord: FakeDiscord, question: str, user: User | None = None) -> InteractionHandle:
    handle = discord.slash("ask", options={"question": question}, user=user)
    await handle.wait(final)
    return handle


async def reply_text(handle: InteractionHandle) -> str:
    event = await handle.wait(lambda e: e.kind in ("callback", "followup") and bool(e.json.get("data", e.json)))
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    return str(data.get("content", ""))


async def test_a_wrong_answer_is_corrected_approved_and_exported(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.reply("The capital of Australia is Sydney.")
    async with running_bot(discord, openai_fake, tmp_path):
        asked = await ask(discord, "What is the capital of Australia?")
        answer_message = asked.original
        assert answer_message is not None
        button = next(c for c in answer_message.custom_ids if c.startswith("correct:"))

        opened = discord.click(answer_message, button)
        await opened.wait_callback()
        assert opened.modal is not None
        fields = {f["custom_id"]: f for f in opened.modal["fields"]}
        assert fields["question"]["value"] == "What is the capital of Australia?"
        assert fields["original"]["value"] == "The capital of Australia is Sydney."
        assert fields["corrected"]["required"] is True
        modal_id = opened.modal["custom_id"]

        saved = discord.submit_modal(modal_id, {"corrected": "Canberra.", "note": "Sydney is the biggest city."})
        text = await reply_text(saved)
        assert "Saved your correction #1" in text and "Canberra." in text
        assert saved.ephemeral
        again = discord.submit_modal(modal_id, {"corrected": "Canberra is the capital of Australia."})
        assert "Updated your pending correction #1" in await reply_text(again)

        # A member may not review or export.
        refused = discord.slash("corrections", subcommand="review", user=discord.member)
        assert "Only admins" in await reply_text(refused)
        refused_export = discord.slash("corrections", subcommand="export", options={"format": "sft"})
        assert "Only admins" in await reply_text(refused_export)

        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        await review.wait_callback()
        assert review.ephemeral and review.original is not None
        assert "Canberra is the capital of Australia." in json.dumps(review.original.embeds)
        approved = discord.click(review.original, "review:approve.1", user=discord.admin)
        update = await approved.wait_callback()
        assert update.type == 7
        assert "approved" in review.original.content and "No corrections are waiting" in review.original.content

        exported = discord.slash("corrections", subcommand="export", options={"format": "sft"}, user=discord.admin)
        upload = await exported.wait(lambda e: bool(e.files))
        lines = [json.loads(line) for line in upload.files[0].data.decode().splitlines()]
        assert lines == [
            {
                "messages": [
                    {"role": "system", "content": lines[0]["messages"][0]["content"]},
                    {"role": "user", "content": "What is the capital of Australia?"},
                    {"role": "assistant", "content": "Canberra is the capital of Australia."},
                ]
            }
        ]
        dpo = discord.slash("corrections", subcommand="export", options={"format": "dpo"}, user=discord.admin)
        dpo_upload = await dpo.wait(lambda e: bool(e.files))
        pair = json.loads(dpo_upload.files[0].data.decode())
        assert pair["input"]["messages"][-1] == {"role": "user", "content": "What is the capital of Australia?"}
        assert pair["preferred_output"] == [{"role": "assistant", "content": "Canberra is the capital of Australia."}]
        assert pair["non_preferred_output"] == [{"role": "assistant", "content": "The capital of Australia is Sydney."}]

        stats = discord.slash("corrections", subcommand="stats")
        await stats.wait_callback()
        assert "approved: **1**" in json.dumps(stats.original.embeds if stats.original else [])


async def test_refusals_change_nothing(discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path) -> None:
    openai_fake.reply("Two.")
    both = {"command_guilds": [discord.guild_id, discord.other_guild_id]}
    async with running_bot(discord, openai_fake, tmp_path, discord=both) as built:
        asked = await ask(discord, "1+1?")
        assert asked.original is not None
        answer_id = asked.original.custom_ids[0].split(":")[1]
        same = discord.submit_modal(f"correction:{answer_id}", {"corrected": "  Two. "})
        assert "same as the bot's answer" in await reply_text(same)
        empty = discord.submit_modal(f"correction:{answer_id}", {"corrected": "   "})
        assert "empty" in await reply_text(empty)
        too_long = discord.submit_modal(f"correction:{answer_id}", {"corrected": "x" * 4001})
        assert "limit is 4,000" in await reply_text(too_long)
        elsewhere = discord.slash(
            "correct",
            options={"answer": int(answer_id)},
            user=discord.admin,
            guild_id=discord.other_guild_id,
            channel_id=discord.other_guild_channel_id,
        )
        assert "not posted here" in await reply_text(elsewhere)
        missing = discord.slash("correct", options={"answer": 999})
        assert "no answer #999" in await reply_text(missing)
        assert (await built.get(CorrectionStore).stats(discord.guild_id)).by_status == {}


async def test_correct_command_autocompletes_recent_answers_and_defaults_to_the_latest(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        await ask(discord, "How tall is Everest?")
        await ask(discord, "How deep is the Mariana Trench?")
        await ask(discord, "Someone else's question", user=discord.admin)
        choices = discord.autocomplete("correct", "answer", {"answer": ""})
        await choices.wait_callback()
        labels = [c["name"] for c in choices.choices]
        assert labels == ["#2 · How deep is the Mariana Trench?", "#1 · How tall is Everest?"]
        filtered = discord.autocomplete("correct", "answer", {"answer": "everest"})
        await filtered.wait_callback()
        assert [c["value"] for c in filtered.choices] == [1]
        latest = discord.slash("correct")
        await latest.wait_callback()
        assert latest.modal is not None
        fields = {f["custom_id"]: f["value"] for f in latest.modal["fields"] if "value" in f}
        assert fields["question"] == "How deep is the Mariana Trench?"


async def test_a_correct_button_made_before_a_restart_works_after_it(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        asked = await ask(discord, "Is the sky green?")
    assert asked.original is not None
    async with running_bot(discord, openai_fake, tmp_path):
        opened = discord.click(asked.original, asked.original.custom_ids[0])
        await opened.wait_callback()
        assert opened.modal is not None
        saved = discord.submit_modal(opened.modal["custom_id"], {"corrected": "No, it is blue."})
        assert "Saved your correction #1" in await reply_text(saved)


async def test_admin_edits_a_proposal_before_approving_and_the_list_pages(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path, limits={"model_calls": 100}) as built:
        for i in range(12):
            asked = await ask(discord, f"Question {i}?")
            assert asked.original is not None
            answer_id = asked.original.custom_ids[0].split(":")[1]
            saved = discord.submit_modal(f"correction:{answer_id}", {"corrected": f"Better answer {i}"})
            await saved.wait_callback()
        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        await review.wait_callback()
        assert review.original is not None
        edit = discord.click(review.original, "review:edit.1", user=discord.admin)
        await edit.wait_callback()
        assert edit.modal is not None and edit.modal["fields"][0]["value"] == "Better answer 0"
        done = discord.submit_modal(edit.modal["custom_id"], {"corrected": "The best answer 0"}, user=discord.admin)
        assert "edited and approved" in await reply_text(done)
        approved = await built.get(CorrectionStore).get(1)
        assert approved is not None and approved.status == "approved"
        assert approved.corrected_answer == "The best answer 0" and approved.reviewer_id == discord.admin.id

        listed = discord.slash("corrections", subcommand="list", options={"status": "pending"})
        await listed.wait_callback()
        assert listed.original is not None
        assert listed.original.embeds[0]["footer"]["text"] == "1–10 of 11 · pending"
        following = discord.click(listed.original, "corrections-page:10.pending.0")
        assert (await following.wait_callback()).type == 7
        assert listed.original.embeds[0]["footer"]["text"] == "11–11 of 11 · pending"
