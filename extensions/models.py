"""/model: which model answers in this server; admins switch it (to a fine-tuned one, say) and roll back."""

from __future__ import annotations

import lightbulb

from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.errors import InvalidInput, NotFound
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore

loader = lightbulb.Loader()
group = lightbulb.Group("model", "Which model answers in this server")
SWITCH = "switch models"


async def known_models(jobs: JobStore, llm: LLMSettings, guild_id: int | None) -> list[str]:
    """Configured models and this server's fine-tuned ones, without duplicates, newest fine-tunes first."""
    fine_tuned = await jobs.succeeded_models(guild_id) if guild_id is not None else []
    return list(dict.fromkeys([*fine_tuned, llm.default_model, *llm.models]))


async def model_choices(
    ctx: lightbulb.AutocompleteContext[str],
    jobs: JobStore = lightbulb.di.INJECTED,
    llm: LLMSettings = lightbulb.di.INJECTED,
) -> None:
    typed = str(ctx.focused.value or "").lower()
    names = [m for m in await known_models(jobs, llm, ctx.interaction.guild_id) if typed in m.lower()]
    await ctx.respond([(n[:100], n) for n in names[:25]])


@group.register
class Show(lightbulb.SlashCommand, name="show", description="The model answering in this server"):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
    ) -> None:
        active = await guilds.active_model(ctx.guild_id)
        text = (
            f"This server uses `{active}`." if active else f"This server uses the default model, `{llm.default_model}`."
        )
        await ctx.respond(text, ephemeral=True)


@group.register
class Use(lightbulb.SlashCommand, name="use", description="Switch this server to another model (admins)"):
    name = lightbulb.string("name", "The model", autocomplete=model_choices, max_length=200)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        jobs: JobStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, SWITCH)
        assert ctx.guild_id is not None
        name = self.name.strip()
        if name not in await known_models(jobs, llm, ctx.guild_id):
            raise NotFound(f"`{name}` is neither a configured model nor one of this server's fine-tuned models.")
        await guilds.set_active_model(ctx.guild_id, name, ctx.user.id)
        await ctx.respond(f"✅ This server now uses `{name}`. `/model rollback` returns to the previous one.")


@group.register
class Rollback(lightbulb.SlashCommand, name="rollback", description="Return to the previous model (admins)"):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        guilds: GuildSettingsStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, SWITCH)
        assert ctx.guild_id is not None
        has_history, previous = await guilds.previous_model(ctx.guild_id)
        if not has_history:
            raise InvalidInput("This server has never switched models, so there is nothing to roll back to.")
        await guilds.set_active_model(ctx.guild_id, previous, ctx.user.id)
        shown = f"`{previous}`" if previous else f"the default model, `{llm.default_model}`"
        await ctx.respond(f"↩️ This server is back on {shown}.")


loader.command(group)
