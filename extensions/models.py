"""/model: which model answers in this server; admins switch it (to a fine-tuned one, say) and roll back."""

from __future__ import annotations

import lightbulb

from bot.app import Services
from bot.discord.permissions import require_admin
from bot.errors import InvalidInput, NotFound

loader = lightbulb.Loader()
group = lightbulb.Group("model", "Which model answers in this server")


async def known_models(services: Services, guild_id: int | None) -> list[str]:
    """Configured models and this server's fine-tuned ones, without duplicates, newest fine-tunes first."""
    fine_tuned = await services.fine_tuned_models(guild_id) if guild_id is not None else []
    seen: dict[str, None] = {}
    for name in [*fine_tuned, services.settings.llm.default_model, *services.settings.llm.models]:
        seen.setdefault(name, None)
    return list(seen)


async def model_choices(ctx: lightbulb.AutocompleteContext[str], services: Services = lightbulb.di.INJECTED) -> None:
    typed = str(ctx.focused.value or "").lower()
    names = [m for m in await known_models(services, ctx.interaction.guild_id) if typed in m.lower()]
    await ctx.respond([(n[:100], n) for n in names[:25]])


@group.register
class Show(lightbulb.SlashCommand, name="show", description="The model answering in this server"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        active = await services.guilds.active_model(ctx.guild_id)
        default = services.settings.llm.default_model
        text = f"This server uses `{active}`." if active else f"This server uses the default model, `{default}`."
        await ctx.respond(text, ephemeral=True)


@group.register
class Use(lightbulb.SlashCommand, name="use", description="Switch this server to another model (admins)"):
    name = lightbulb.string("name", "The model", autocomplete=model_choices, max_length=200)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, "switch models")
        assert ctx.guild_id is not None
        name = self.name.strip()
        if name not in await known_models(services, ctx.guild_id):
            raise NotFound(f"`{name}` is neither a configured model nor one of this server's fine-tuned models.")
        await services.guilds.set_active_model(ctx.guild_id, name, ctx.user.id)
        await ctx.respond(f"✅ This server now uses `{name}`. `/model rollback` returns to the previous one.")


@group.register
class Rollback(lightbulb.SlashCommand, name="rollback", description="Return to the previous model (admins)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, "switch models")
        assert ctx.guild_id is not None
        has_history, previous = await services.guilds.previous_model(ctx.guild_id)
        if not has_history:
            raise InvalidInput("This server has never switched models, so there is nothing to roll back to.")
        await services.guilds.set_active_model(ctx.guild_id, previous, ctx.user.id)
        shown = f"`{previous}`" if previous else f"the default model, `{services.settings.llm.default_model}`"
        await ctx.respond(f"↩️ This server is back on {shown}.")


loader.command(group)
