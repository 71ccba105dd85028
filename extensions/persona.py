"""/persona: the system prompt the bot is given in this server or one channel (a channel's wins); admins only."""

from __future__ import annotations

import hikari
import lightbulb

from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.personas import check_prompt, persona_view, where
from bot.i18n import N_, _
from bot.llm.settings import LLMSettings
from bot.store.personas import PersonaStore

loader = lightbulb.Loader()
group = lightbulb.Group(
    "persona", N_("What the bot is told before every question here"), localize=True, contexts=GUILD_ONLY
)
ADMIN = admin_only(N_("change or view the bot's persona"))
SCOPES = [(N_("this channel"), "channel"), (N_("the whole server"), "server")]


def scope_option() -> str:
    return lightbulb.string(
        "scope",
        N_("This channel or the whole server"),
        localize=True,
        choices=[lightbulb.Choice(n, v, localize=True) for n, v in SCOPES],
        default="server",
    )


@group.register
class Set(
    lightbulb.SlashCommand,
    name="set",
    description=N_("Set the persona for this channel or server (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    prompt = lightbulb.string(
        "prompt", N_("The system prompt: who the bot is and how it answers"), localize=True, max_length=6000
    )
    scope = scope_option()
    preview = lightbulb.boolean("preview", N_("Only show what would be saved"), localize=True, default=False)

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
        place = f"<#{ctx.channel_id}>" if channel else _("this server")
        if self.preview:
            text, file = persona_view(_("👀 Preview, not saved: in {place} the bot would be told", place=place), prompt)
        else:
            await personas.set(guild_id, channel, prompt, ctx.user.id)
            text, file = persona_view(_("✅ Saved: in {place} the bot is now told", place=place), prompt)
        await ctx.respond(text, attachment=file or hikari.UNDEFINED, ephemeral=True)


@group.register
class Show(
    lightbulb.SlashCommand,
    name="show",
    description=N_("The persona the bot is given in this channel (admins)"),
    localize=True,
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
        text, file = persona_view(_("In this channel the bot is told {where}:", where=where(persona)), prompt)
        await ctx.respond(text, attachment=file or hikari.UNDEFINED, ephemeral=True)


@group.register
class Reset(
    lightbulb.SlashCommand,
    name="reset",
    description=N_("Remove this channel's or server's persona (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    scope = scope_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, personas: PersonaStore = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        channel = ctx.channel_id if self.scope == "channel" else None
        removed = await personas.reset(guild_id, channel)
        if removed:
            text = (
                _("↩️ This channel no longer has a persona of its own.")
                if channel
                else _("↩️ This server no longer has a persona of its own.")
            )
        else:
            text = (
                _("This channel had no persona of its own; nothing changed.")
                if channel
                else _("This server had no persona of its own; nothing changed.")
            )
        await ctx.respond(text, ephemeral=True)


loader.command(group)
