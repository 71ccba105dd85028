"""Which models /model test may name (configured ones and the server's fine-tunes) and which two it compares."""

from __future__ import annotations

import pytest

from bot.errors import InvalidInput, NotFound
from bot.evaluation.choosing import known_models, models_to_compare
from bot.llm.settings import LLMSettings
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from tests.store.test_jobs import new, remote

LLM = LLMSettings(default_model="gpt-4o-mini", models=["gpt-4.1-mini", "gpt-4o-mini"])
ONE = "ft:gpt-4o-mini:org:one:1"
TWO = "ft:gpt-4o-mini:org:two:2"


async def _fine_tuned(jobs: JobStore, guild: int, model: str) -> None:
    job = await jobs.add(new(guild=guild, remote=f"ftjob-{model}"))
    await jobs.update_from_remote(job.id, remote("succeeded", model))


async def test_a_server_may_name_its_own_fine_tunes_newest_first_and_the_configured_models(db: Database) -> None:
    jobs = JobStore(db)
    await _fine_tuned(jobs, 5, ONE)
    await _fine_tuned(jobs, 5, TWO)
    await _fine_tuned(jobs, 6, "ft:gpt-4o-mini:org:theirs:3")
    await jobs.add(new(guild=5, remote="ftjob-running"))  # no model yet
    assert await known_models(jobs, LLM, 5) == [TWO, ONE, "gpt-4o-mini", "gpt-4.1-mini"]
    assert await known_models(jobs, LLM, None) == ["gpt-4o-mini", "gpt-4.1-mini"]


async def test_by_default_the_active_model_is_compared_with_the_one_before_it(db: Database) -> None:
    jobs, guilds = JobStore(db), GuildSettingsStore(db)
    await _fine_tuned(jobs, 5, ONE)
    await _fine_tuned(jobs, 5, TWO)
    compare = {"model": None, "against": None}
    with pytest.raises(InvalidInput, match="Both sides would be `gpt-4o-mini`"):
        await models_to_compare(jobs, guilds, LLM, 5, **compare)  # nothing chosen yet: default against itself
    await guilds.set_active_model(5, ONE, by_user=1)
    assert await models_to_compare(jobs, guilds, LLM, 5, **compare) == (ONE, "gpt-4o-mini")
    await guilds.set_active_model(5, TWO, by_user=1)
    assert await models_to_compare(jobs, guilds, LLM, 5, **compare) == (TWO, ONE)
    assert await models_to_compare(jobs, guilds, LLM, 5, model=" gpt-4.1-mini ", against=None) == (
        "gpt-4.1-mini",
        ONE,
    )


async def test_a_model_neither_configured_nor_the_server_s_own_is_refused_by_name(db: Database) -> None:
    jobs, guilds = JobStore(db), GuildSettingsStore(db)
    await _fine_tuned(jobs, 6, "ft:gpt-4o-mini:org:theirs:3")
    with pytest.raises(NotFound, match="`ft:gpt-4o-mini:org:theirs:3` is neither a configured model"):
        await models_to_compare(jobs, guilds, LLM, 5, model="ft:gpt-4o-mini:org:theirs:3", against=None)
    with pytest.raises(NotFound, match="`gpt-5` is neither"):
        await models_to_compare(jobs, guilds, LLM, 5, model=None, against="gpt-5")
