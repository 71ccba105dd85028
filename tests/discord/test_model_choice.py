"""`/model`: which model a server uses (with the stand-in while the provider has lost it and its shutdown date),
switching to a known model, rolling back, and turning the corrections given with each question on or off."""

from __future__ import annotations

import pytest

from bot.discord.model_choice import model_status, models_named, roll_back, set_corrections, switch_to
from bot.errors import InvalidInput, NotFound
from bot.llm.settings import LLMSettings
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from tests.store.test_jobs import new, remote

LLM = LLMSettings(default_model="gpt-4o-mini", models=["gpt-4.1-mini", "gpt-4o-mini"], shutdowns={})
OURS = "ft:gpt-4o-mini:org:ours:1"


class Answerer:
    """The answerer's view of lost models: `lost` do not exist at the provider; `instead` answers for them."""

    def __init__(self, lost: frozenset[str] = frozenset(), instead: str = "gpt-4o-mini") -> None:
        self.lost = lost
        self.instead = instead

    def outage(self, model: str) -> object | None:
        return object() if model in self.lost else None

    async def model_for(self, guild_id: int | None) -> str:
        return self.instead


async def fine_tuned(jobs: JobStore, guild: int, model: str) -> None:
    job = await jobs.add(new(guild=guild, remote=f"ftjob-{model}"))
    await jobs.update_from_remote(job.id, remote("succeeded", model))


async def test_a_server_is_told_its_model_or_the_default(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    answerer = Answerer()
    said = await model_status(guilds, LLM, answerer, 5)  # type: ignore[arg-type]
    assert said == "This server uses the default model, `gpt-4o-mini`."
    await guilds.set_active_model(5, "gpt-4.1-mini", 7)
    assert await model_status(guilds, LLM, answerer, 5) == "This server uses `gpt-4.1-mini`."  # type: ignore[arg-type]


async def test_a_lost_model_says_what_answers_instead_and_a_shutdown_its_date(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    await guilds.set_active_model(5, OURS, 7)
    lost = await model_status(guilds, LLM, Answerer(frozenset({OURS})), 5)  # type: ignore[arg-type]
    assert lost.startswith(f"This server uses `{OURS}`.\n⚠️ The provider says `{OURS}` does not exist")
    assert "`gpt-4o-mini` answers instead" in lost and "`/model use`" in lost
    nothing = await model_status(guilds, LLM, Answerer(frozenset({OURS}), instead=OURS), 5)  # type: ignore[arg-type]
    assert "no other model could answer" in nothing
    dated = LLMSettings(default_model="gpt-4o-mini", shutdowns={"gpt-4o-mini": "2027-03-01"})
    status = await model_status(guilds, dated, Answerer(), 5)  # type: ignore[arg-type]
    assert status.endswith(f"\n📅 `{OURS}` shuts down on 2027-03-01.")  # a fine-tune shuts down with its base


async def test_only_configured_models_and_the_servers_own_fine_tunes_can_be_chosen(db: Database) -> None:
    guilds, jobs = GuildSettingsStore(db), JobStore(db)
    await fine_tuned(jobs, 5, OURS)
    await fine_tuned(jobs, 6, "ft:gpt-4o-mini:org:theirs:2")
    assert await models_named(jobs, LLM, 5, "OURS") == [OURS]
    assert await models_named(jobs, LLM, 5, "mini") == [OURS, "gpt-4o-mini", "gpt-4.1-mini"]
    said = await switch_to(guilds, jobs, LLM, 5, f" {OURS} ", by=7)
    assert said == f"✅ This server now uses `{OURS}`. `/model rollback` returns to the previous one."
    assert await guilds.active_model(5) == OURS
    with pytest.raises(NotFound, match="`ft:gpt-4o-mini:org:theirs:2` is neither a configured model"):
        await switch_to(guilds, jobs, LLM, 5, "ft:gpt-4o-mini:org:theirs:2", by=7)
    assert await guilds.active_model(5) == OURS


async def test_rolling_back_returns_to_the_model_before_and_needs_a_switch_first(db: Database) -> None:
    guilds, jobs = GuildSettingsStore(db), JobStore(db)
    with pytest.raises(InvalidInput, match="never switched models, so there is nothing to roll back to"):
        await roll_back(guilds, LLM, 5, 7)
    await switch_to(guilds, jobs, LLM, 5, "gpt-4.1-mini", by=7)
    assert await roll_back(guilds, LLM, 5, 7) == "↩️ This server is back on the default model, `gpt-4o-mini`."
    assert await guilds.active_model(5) is None
    await switch_to(guilds, jobs, LLM, 5, "gpt-4.1-mini", by=7)
    await switch_to(guilds, jobs, LLM, 5, "gpt-4o-mini", by=7)
    assert await roll_back(guilds, LLM, 5, 7) == "↩️ This server is back on `gpt-4.1-mini`."
    assert await guilds.active_model(5) == "gpt-4.1-mini"


async def test_corrections_with_each_question_are_turned_on_and_off_per_server(db: Database) -> None:
    guilds = GuildSettingsStore(db)
    assert (await set_corrections(guilds, 5, on=True)).startswith("📚 Approved corrections are now given")
    assert await guilds.use_corrections(5) is True
    assert (await set_corrections(guilds, 5, on=False)).startswith("📚 Approved corrections are no longer given")
    assert await guilds.use_corrections(5) is False
    assert await guilds.use_corrections(6) is None
