"""Which models a server may name (configured ones and its fine-tunes), and which two /model test compares."""

from __future__ import annotations

from bot.errors import InvalidInput, NotFound
from bot.i18n import _
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore


async def known_models(jobs: JobStore, llm: LLMSettings, guild_id: int | None) -> list[str]:
    """Configured models and this server's fine-tuned ones, without duplicates, newest fine-tunes first."""
    fine_tuned = await jobs.succeeded_models(guild_id) if guild_id is not None else []
    return list(dict.fromkeys([*fine_tuned, llm.default_model, *llm.models]))


async def models_to_compare(
    jobs: JobStore,
    guilds: GuildSettingsStore,
    llm: LLMSettings,
    guild_id: int,
    *,
    model: str | None,
    against: str | None,
) -> tuple[str, str]:
    """(model, against): by default the server's active model against its previous one (or the default model)."""
    known = await known_models(jobs, llm, guild_id)
    for name in (model, against):
        if name is not None and name.strip() not in known:
            raise NotFound(
                _(
                    "`{model}` is neither a configured model nor one of this server's fine-tuned models.",
                    model=name.strip(),
                )
            )
    chosen = (model or "").strip() or await guilds.active_model(guild_id) or llm.default_model
    other = (against or "").strip()
    if not other:
        has_history, previous = await guilds.previous_model(guild_id)
        other = (previous or llm.default_model) if has_history else llm.default_model
    if other == chosen:
        raise InvalidInput(_("Both sides would be `{chosen}`: name another model with `against`.", chosen=chosen))
    return chosen, other
