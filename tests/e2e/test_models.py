"""/model through the fake Discord: admins switch the server's model and roll back; /ask follows."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord import Event, FakeDiscord
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI


def final(e: Event) -> bool:
    return "correct:" in str(e.json.get("components"))


def said(e: Event) -> str:
    return str((e.json.get("data") or e.json).get("content", ""))


async def test_switching_models_changes_what_ask_uses_and_rollback_returns(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    openai_fake.chat_models.add("big-model")
    llm = {"default_model": "gpt-4o-mini", "models": ["gpt-4o-mini", "big-model"]}
    async with running_bot(discord, openai_fake, tmp_path, llm=llm):
        choices = discord.autocomplete("model", "name", {"name": "big"}, subcommand="use", user=discord.admin)
        await choices.wait_callback()
        assert [c["value"] for c in choices.choices] == ["big-model"]

        refused = discord.slash("model", subcommand="use", options={"name": "big-model"}, user=discord.member)
        assert "Only admins" in said(await refused.wait_callback())
        unknown = discord.slash("model", subcommand="use", options={"name": "nope"}, user=discord.admin)
        assert "neither a configured model" in said(await unknown.wait_callback())

        switched = discord.slash("model", subcommand="use", options={"name": "big-model"}, user=discord.admin)
        assert "now uses `big-model`" in said(await switched.wait_callback())
        asked = discord.slash("ask", options={"question": "hi"})
        await asked.wait(final)
        assert openai_fake.chat_requests[-1]["model"] == "big-model"

        # A member with the configured admin role (but no Manage Server) may switch too.
        back = discord.slash("model", subcommand="rollback", user=discord.role_admin)
        assert "default model, `gpt-4o-mini`" in said(await back.wait_callback())
        shown = discord.slash("model", subcommand="show")
        assert "default model" in said(await shown.wait_callback())
        asked = discord.slash("ask", options={"question": "hi again"})
        await asked.wait(final)
        assert openai_fake.chat_requests[-1]["model"] == "gpt-4o-mini"


async def test_a_copycat_admin_role_name_grants_nothing_but_the_role_id_does(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    impostor_role = discord.make_role("Bot Admin")  # anyone with Manage Roles can make one
    mallory = discord.make_user("mallory", roles=[impostor_role])
    async with running_bot(discord, openai_fake, tmp_path):  # configured by name: ambiguous now
        for who in (mallory, discord.role_admin):
            refused = discord.slash("model", subcommand="use", options={"name": "gpt-6.1-terra"}, user=who)
            assert "Only admins" in str((await refused.wait_callback()).json)
    by_id = {"admin_roles": [str(discord.admin_role_id)]}
    async with running_bot(discord, openai_fake, tmp_path, discord=by_id):
        refused = discord.slash("model", subcommand="use", options={"name": "gpt-6.1-terra"}, user=mallory)
        assert "Only admins" in str((await refused.wait_callback()).json)
        allowed = discord.slash("model", subcommand="use", options={"name": "gpt-6.1-terra"}, user=discord.role_admin)
        assert "now uses `gpt-6.1-terra`" in str((await allowed.wait_callback()).json)


async def test_model_choices_leave_out_names_longer_than_discord_lets_a_choice_be(
    discord: FakeDiscord, openai_fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Discord refuses a whole autocomplete answer if one choice's value is over 100 characters: no choices at all.
    longest, too_long = "big-" + "m" * 96, "big-" + "m" * 97
    async with running_bot(discord, openai_fake, tmp_path, llm={"models": [longest, too_long, "big-model"]}):
        choices = discord.autocomplete("model", "name", {"name": "big"}, subcommand="use", user=discord.admin)
        await choices.wait_callback()
        assert [c["value"] for c in choices.choices] == [longest, "big-model"]
