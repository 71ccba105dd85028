"""Admin and server-only rules as Discord and members meet them: declared on the commands (what Discord's client is
offered, in a server and in a DM) and checked by the same function on buttons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, Message
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

GUILD, BOT_DM = 0, 1  # Discord's interaction context types
SERVER_ONLY = ["corrections", "jobs", "knowledge", "model", "persona", "train", "voice", "Ask about this message"]
REFUSAL = "Only admins can start training (Manage Server permission or an admin role: `Bot Admin`)."


def said(event: Event) -> str:
    data = event.json.get("data", event.json) if event.kind == "callback" else event.json
    return str((data or {}).get("content", ""))


async def summary(handle: InteractionHandle) -> Message:
    await handle.wait(lambda e: "train:confirm" in str(e.json.get("components")))
    return next(m for m in handle.messages if any("train:confirm" in c for c in m.custom_ids))


def training_file(discord: FakeDiscord) -> dict[str, object]:
    line = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    return discord.attachment("faq.jsonl", (json.dumps(line) + "\n").encode() * 12, "application/jsonl")


async def test_server_commands_are_offered_in_servers_only_and_to_admin_roles_too(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Global commands, as a DM would be offered them.
    async with running_bot(discord, openai_fake, tmp_path, discord={"command_guilds": []}):
        registered = {c["name"]: c for c in discord.commands[None]}
        for name in SERVER_ONLY:
            assert registered[name]["contexts"] == [GUILD], name
        for name in ("ask", "usage", "correct"):  # answered in DMs too (/usage me: a member's own usage)
            assert BOT_DM in (registered[name]["contexts"] or [BOT_DM]), name  # unset: Discord's default, DMs too
        # Who is an admin is the bot's to say (configured roles, not only Manage Server): Discord shows every command.
        assert all(c["default_member_permissions"] in (None, "0") for c in registered.values() if c["type"] == 1)
        with pytest.raises(AssertionError, match="does not offer it in a DM"):
            discord.slash("train", options={"source": "corrections"}, user=discord.admin, guild_id=None)
        with pytest.raises(AssertionError, match="does not offer it in a DM"):
            discord.slash("model", subcommand="use", options={"name": "x"}, user=discord.admin, guild_id=None)
        assert "only works in a server" in said(
            await discord.slash("usage", subcommand="server", user=discord.admin, guild_id=None).wait_callback()
        )
        # In the server, a member is refused before anything runs; a member with the configured role is served.
        refused = discord.slash("train", options={"data": training_file(discord)}, user=discord.member)
        assert said(await refused.wait_callback()) == REFUSAL
        assert discord.file_downloads == []
        by_role = discord.slash("train", options={"data": training_file(discord)}, user=discord.role_admin)
        assert "Ready to train" in json.dumps((await summary(by_role)).embeds)


async def test_a_member_pressing_confirm_gets_the_admin_refusal_and_an_admin_role_starts_the_job(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    async with running_bot(discord, openai_fake, tmp_path):
        card = await summary(discord.slash("train", options={"data": training_file(discord)}, user=discord.admin))
        confirm = next(c for c in card.custom_ids if "confirm" in c)
        # A modified client presses the admin's ephemeral Confirm: the button's own check refuses, as the command's.
        refused = discord.click(card, confirm, user=discord.member, unchecked=True)
        event = await refused.wait_callback()
        assert said(event) == REFUSAL and event.json["data"]["flags"] & 64  # ephemeral
        assert openai_fake.jobs == {}
        started = discord.click(card, confirm, user=discord.role_admin, unchecked=True)
        await started.wait(lambda e: e.kind == "edit")
        assert "Started training job #1" in card.content and len(openai_fake.jobs) == 1
