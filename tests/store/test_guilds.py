"""Per-server settings: the model that answers, the one /model rollback goes back to, and the corrections switch."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore


async def test_switching_models_remembers_the_one_before_for_rollback(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    assert await guilds.active_model(5) is None  # the configured default
    assert await guilds.previous_model(5) == (False, None)  # nothing to roll back to
    assert await guilds.set_active_model(5, "ft:gpt-4o-mini:org:one:1", by_user=1) is None
    assert await guilds.previous_model(5) == (True, None)  # back to the default
    assert await guilds.set_active_model(5, "ft:gpt-4o-mini:org:two:2", by_user=1) == "ft:gpt-4o-mini:org:one:1"
    assert await guilds.active_model(5) == "ft:gpt-4o-mini:org:two:2"
    assert await guilds.previous_model(5) == (True, "ft:gpt-4o-mini:org:one:1")
    assert await guilds.active_models() == [(5, "ft:gpt-4o-mini:org:two:2")]
    assert await guilds.set_active_model(5, None, by_user=1) == "ft:gpt-4o-mini:org:two:2"
    assert await guilds.active_models() == []
    assert await guilds.active_model(6) is None and await guilds.active_model(None) is None


async def test_the_corrections_switch_leaves_the_model_and_its_rollback_alone(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    assert await guilds.use_corrections(5) is None  # never chosen: the configured default
    await guilds.set_use_corrections(5, False)
    assert await guilds.use_corrections(5) is False
    assert await guilds.previous_model(5) == (False, None)  # a corrections switch is no model switch
    await guilds.set_active_model(5, "m1", by_user=1)
    await guilds.set_use_corrections(5, True)
    assert await guilds.use_corrections(5) is True
    assert await guilds.active_model(5) == "m1" and await guilds.previous_model(5) == (True, None)
