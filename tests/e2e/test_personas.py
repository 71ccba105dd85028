"""/persona: a channel's persona wins over the server's, which wins over the default; the model gets it, and the
training data built from a corrected answer carries the persona that answer was given."""

from __future__ import annotations

import json
from pathlib import Path

from bot.config import Settings
from tests.fakes.discord import Event, FakeDiscord, InteractionHandle
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

PIRATE = "You are a pirate. Answer like one."
POET = "You are a poet. Answer in verse."


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


async def said(handle: InteractionHandle) -> str:
    event = await handle.wait(lambda e: e.kind in ("callback", "followup"))
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    if event.kind == "callback" and event.type == 5:
        await handle.wait(lambda e: e.kind == "followup")
        return handle.followups[-1].content
    return str(data.get("content", ""))


async def system_prompt_of_answer(discord: FakeDiscord, openai_fake: FakeOpenAI, channel_id: int) -> str:
    asked = discord.slash("ask", options={"question": "Who are you?"}, channel_id=channel_id)
    await asked.wait(final)
    first = openai_fake.chat_requests[-1]["messages"][0]
    assert first["role"] == "system"
    return first["content"]


async def test_channel_persona_wins_over_the_server_one_and_goes_into_training_data(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    poem = discord.other_channel_id
    # Words only: by meaning, "Who are you?" asked again would rightly get its approved correction in the prompt.
    llm = {"max_persona_chars": 100, "embeddings": "off"}
    async with running_bot(discord, openai_fake, tmp_path, llm=llm) as built:
        default = built.get(Settings).llm.system_prompt
        refused = discord.slash("persona", subcommand="set", options={"prompt": PIRATE})
        assert "Only admins" in await said(refused)
        too_long = discord.slash("persona", subcommand="set", options={"prompt": "x" * 101}, user=discord.admin)
        assert "limit is 100" in await said(too_long)
        preview = discord.slash(
            "persona", subcommand="set", options={"prompt": PIRATE, "preview": True}, user=discord.admin
        )
        assert "Preview, not saved" in await said(preview) and PIRATE in preview.content
        assert await system_prompt_of_answer(discord, openai_fake, discord.channel_id) == default

        server = discord.slash("persona", subcommand="set", options={"prompt": PIRATE}, user=discord.admin)
        assert "Saved" in await said(server)
        channel = discord.slash(
            "persona",
            subcommand="set",
            options={"prompt": POET, "scope": "channel"},
            user=discord.admin,
            channel_id=poem,
        )
        assert "Saved" in await said(channel)
        assert await system_prompt_of_answer(discord, openai_fake, discord.channel_id) == PIRATE
        assert await system_prompt_of_answer(discord, openai_fake, poem) == POET
        poet_answer = discord.interactions[list(discord.interactions)[-1]].original
        assert poet_answer is not None
        shown = discord.slash("persona", subcommand="show", user=discord.admin, channel_id=poem)
        assert "this channel's persona" in await said(shown) and POET in shown.content

        # The poet answer is corrected and approved; then the channel's persona is removed.
        opened = discord.click(poet_answer, poet_answer.custom_ids[0])
        await opened.wait_callback()
        assert opened.modal is not None
        saved = discord.submit_modal(
            opened.modal["custom_id"], {"corrected": "Roses are red, I am a bot."}, channel_id=poem
        )
        assert "Saved your correction" in await said(saved)
        review = discord.slash("corrections", subcommand="review", user=discord.admin)
        await review.wait_callback()
        assert review.original is not None
        approved = discord.click(review.original, "review:approve.1", user=discord.admin)
        await approved.wait_callback()
        reset = discord.slash(
            "persona", subcommand="reset", options={"scope": "channel"}, user=discord.admin, channel_id=poem
        )
        assert "no longer has a persona" in await said(reset)
        assert await system_prompt_of_answer(discord, openai_fake, poem) == PIRATE

        # Trained with the prompt the answer was given, not today's nor the configured default.
        exported = discord.slash("corrections", subcommand="export", options={"format": "sft"}, user=discord.admin)
        upload = await exported.wait(lambda e: bool(e.files))
        (line,) = [json.loads(x) for x in upload.files[0].data.decode().splitlines()]
        assert line["messages"][0] == {"role": "system", "content": POET}
        assert line["messages"][-1] == {"role": "assistant", "content": "Roses are red, I am a bot."}
