"""The store's wiring: once opened, every table family's store works on the one database (migrated on open), and
closing gives the database back."""

from __future__ import annotations

from pathlib import Path

from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.identify_turns import IdentifyTurns
from bot.store.jobs import JobStore
from bot.store.requests import JobRequestStore
from bot.store.wiring import install
from bot.wiring import Wiring
from tests.test_wiring import Registry


async def test_an_opened_store_answers_and_corrects_on_one_database_and_closes(tmp_path: Path) -> None:
    registry = Registry()
    wiring = Wiring(registry)
    install(wiring, f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3", pool_size=2)
    for kind in (Database, AnswerStore, CorrectionStore, GuildSettingsStore, JobStore, JobRequestStore, IdentifyTurns):
        assert registry.values[kind] is wiring.get(kind)  # commands find each under its own type
    await wiring.open()
    try:
        answer = await wiring.get(AnswerStore).add(
            NewAnswer(
                guild_id=5,
                channel_id=10,
                user_id=1,
                conversation_id="c",
                source="slash",
                model="m",
                question="Capital of Australia?",
                answer="Sydney.",
            )
        )
        saved = await wiring.get(CorrectionStore).submit(answer, 7, "Canberra.")
        assert (await wiring.get(CorrectionStore).next_pending(5)) == saved.correction
        await wiring.get(GuildSettingsStore).set_active_model(5, "gpt-4.1-mini", 7)
        assert await wiring.get(GuildSettingsStore).active_model(5) == "gpt-4.1-mini"
    finally:
        await wiring.close()
    reopened = Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3")
    await reopened.open()
    try:
        assert await GuildSettingsStore(reopened).active_model(5) == "gpt-4.1-mini"  # written, not just cached
    finally:
        await reopened.close()
