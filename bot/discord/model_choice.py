"""Which model answers in a server, as `/model show` tells it (with the stand-in while the provider has lost it, and
the date it shuts down) and `/model use` and `/model rollback` change it; and whether answers are given the approved
corrections (`/model corrections`)."""

from __future__ import annotations

from bot.errors import InvalidInput, NotFound
from bot.evaluation.choosing import known_models
from bot.i18n import _
from bot.llm.answering import Answerer
from bot.llm.retirements import shutdown_of
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore


async def model_status(guilds: GuildSettingsStore, llm: LLMSettings, answerer: Answerer, guild_id: int | None) -> str:
    active = await guilds.active_model(guild_id)
    text = (
        _("This server uses `{model}`.", model=active)
        if active
        else _("This server uses the default model, `{model}`.", model=llm.default_model)
    )
    chosen = active or llm.default_model
    if answerer.outage(chosen) is not None:
        instead = await answerer.model_for(guild_id)
        stand_in = (
            _("`{model}` answers instead", model=instead) if instead != chosen else _("no other model could answer")
        )
        text += "\n" + _(
            "⚠️ The provider says `{model}` does not exist (retired, deleted, or a fine-tune shut down): "
            "{stand_in}, and it is tried again now and then. `/model use` moves this server for good.",
            model=chosen,
            stand_in=stand_in,
        )
    if (shutdown := shutdown_of(chosen, llm.shutdowns)) is not None:
        text += "\n" + _("📅 `{model}` shuts down on {date}.", model=chosen, date=f"{shutdown.date:%Y-%m-%d}")
    return text


async def models_named(jobs: JobStore, llm: LLMSettings, guild_id: int | None, typed: str) -> list[str]:
    """The models the server can switch to whose names hold what was typed so far (for autocomplete)."""
    return [m for m in await known_models(jobs, llm, guild_id) if typed.lower() in m.lower()]


async def switch_to(
    guilds: GuildSettingsStore, jobs: JobStore, llm: LLMSettings, guild_id: int, typed: str, *, by: int
) -> str:
    """Switch to a configured model or one of this server's fine-tuned ones."""
    name = typed.strip()
    if name not in await known_models(jobs, llm, guild_id):
        raise NotFound(
            _("`{model}` is neither a configured model nor one of this server's fine-tuned models.", model=name)
        )
    await guilds.set_active_model(guild_id, name, by)
    return _("✅ This server now uses `{model}`. `/model rollback` returns to the previous one.", model=name)


async def roll_back(guilds: GuildSettingsStore, llm: LLMSettings, guild_id: int, user_id: int) -> str:
    """Back to the model used before the last switch."""
    has_history, previous = await guilds.previous_model(guild_id)
    if not has_history:
        raise InvalidInput(_("This server has never switched models, so there is nothing to roll back to."))
    await guilds.set_active_model(guild_id, previous, user_id)
    shown = f"`{previous}`" if previous else _("the default model, `{model}`", model=llm.default_model)
    return _("↩️ This server is back on {model}.", model=shown)


async def set_corrections(guilds: GuildSettingsStore, guild_id: int, *, on: bool) -> str:
    """Give answers the approved corrections, or stop; says which."""
    await guilds.set_use_corrections(guild_id, on)
    return (
        _("📚 Approved corrections are now given to the model with each question in this server.")
        if on
        else _("📚 Approved corrections are no longer given to the model with each question in this server.")
    )
