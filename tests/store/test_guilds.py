"""Per-server settings: the model that answers, the one /model rollback goes back to, and the corrections switch."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore, QuestionSettings
from bot.store.knowledge import KnowledgeStore
from bot.store.personas import Persona, PersonaStore


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


async def test_a_question_reads_the_servers_model_switch_persona_and_knowledge_at_once(db: Database) -> None:
    guilds, personas = GuildSettingsStore(db), PersonaStore(db)
    assert await guilds.for_question(5, [10]) == QuestionSettings(None, None, None, False)  # nothing chosen yet
    await guilds.set_active_model(5, "m1", by_user=1)
    await guilds.set_use_corrections(5, False)
    await personas.set(5, None, "Server voice.", by_user=1)
    await personas.set(5, 11, "Thread parent's voice.", by_user=1)
    await personas.set(6, 10, "Another server's channel.", by_user=1)
    await KnowledgeStore(db).add_source(5, "file", label="faq.md", added_by=1, filename="faq.md")
    here = await guilds.for_question(5, [10, 11])  # a thread (10) in channel 11: the parent's persona applies
    assert here == QuestionSettings("m1", False, Persona("Thread parent's voice.", "channel", 11), True)
    await personas.set(5, 10, "The thread's own.", by_user=1)
    assert (await guilds.for_question(5, [10, 11])).persona == Persona("The thread's own.", "channel", 10)
    elsewhere = await guilds.for_question(5, [12])
    assert elsewhere.persona == Persona("Server voice.", "server") and elsewhere.has_knowledge
    other = await guilds.for_question(6, [12])  # another server sees none of server 5's settings
    assert other == QuestionSettings(None, None, None, False)
    assert await guilds.for_question(None, [10]) == QuestionSettings(None, None, None, False)  # DMs: the defaults
