"""/persona: the system prompt the bot is given in this server or one channel (a channel's wins); admins only."""

from __future__ import annotations

import hikari
import lightbulb

from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.personas import check_prompt, persona_view, where
from bot.llm.settings import LLMSettings
from bot.store.personas import PersonaStore

loader = lightbulb.Loader()
group = lightbulb.Group("persona", "What the bot is told before every question here", contexts=GUILD_ONLY)
ADMIN = admin_only("change or view the bot's persona")
SCOPES = [("this channel", "channel"), ("the whole server", "server")]


def scope_option() -> str:
    return lightbulb.string(
        "scope",
        "This channel or the whole server",
        choices=[lightbulb.Choice(n, v) for n, v in SCOPES],
        default="server",
    )


@group.register
class Set(
    lightbulb.SlashCommand, name="set", description="Set the persona for this channel or server (admins)", hooks=[ADMIN]
):
    prompt = lightbulb.string("prompt", "The system prompt: who the bot is and how it answers", max_length=6000)
    scope = scope_option()
    preview = lightbulb.boolean("preview", "Only show what would be saved", default=False)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        personas: PersonaStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        prompt = check_prompt(self.prompt, llm.max_persona_chars)
        channel = ctx.channel_id if self.scope == "channel" else None
        place = f"<#{ctx.channel_id}>" if channel else "this server"
        if self.preview:
            text, file = persona_view(f"👀 Preview, not saved: in {place} the bot would be told", prompt)
        else:
            await personas.set(guild_id, channel, prompt, ctx.user.id)
            text, file = persona_view(f"✅ Saved: in {place} the bot is now told", prompt)
        await ctx.respond(text, attachment=file or hikari.UNDEFINED, ephemeral=True)


@group.register
class Show(
    lightbulb.SlashCommand,
    name="show",
    description="The persona the bot is given in this channel (admins)",
    hooks=[ADMIN],
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        personas: PersonaStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        persona = await personas.find(guild_id, [ctx.channel_id])
        prompt = persona.prompt if persona is not None else llm.system_prompt
        text, file = persona_view(f"In this channel the bot is told {where(persona)}:", prompt)
        await ctx.respond(text, attachment=file or hikari.UNDEFINED, ephemeral=True)


@group.register
class Reset(
    lightbulb.SlashCommand,
    name="reset",
    description="Remove this channel's or server's persona (admins)",
    hooks=[ADMIN],
):
    scope = scope_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, personas: PersonaStore = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        channel = ctx.channel_id if self.scope == "channel" else None
        removed = await personas.reset(guild_id, channel)
        place = "This channel" if channel else "This server"
        if removed:
            text = f"↩️ {place} no longer has a persona of its own."
        else:
            text = f"{place} had no persona of its own; nothing changed."
        await ctx.respond(text, ephemeral=True)


loader.command(group)
