"""The store's services in lightbulb's DI: the database and one store per table family; the database opens first and
closes last."""

from __future__ import annotations

from bot.store.answers import AnswerStore
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.identify_turns import IDENTIFY_WINDOW_S, IdentifyTurns
from bot.store.jobs import JobStore
from bot.store.knowledge import KnowledgeStore
from bot.store.model_notices import ModelNoticeStore
from bot.store.model_tests import ModelTestStore
from bot.store.passage_embeddings import PassageEmbeddingStore
from bot.store.passage_search import PassageSearch
from bot.store.personas import PersonaStore
from bot.store.requests import JobRequestStore
from bot.store.threads import ThreadStore
from bot.store.usage import UsageStore
from bot.store.votes import VoteStore
from bot.wiring import Stage, Wiring


def install(wiring: Wiring, url: str, *, pool_size: int, identify_window_s: float = IDENTIFY_WINDOW_S) -> None:
    database = wiring.add(Database, Database(url, pool_size=pool_size))
    wiring.on_open(Stage.STORAGE, database.open)
    wiring.on_close(Stage.STORAGE, database.close)
    for store in (
        AnswerStore,
        CorrectionStore,
        VoteStore,
        GuildSettingsStore,
        PersonaStore,
        ThreadStore,
        KnowledgeStore,
        ModelNoticeStore,
        ModelTestStore,
        UsageStore,
        CorrectionSearch,
        EmbeddingStore,
        PassageSearch,
        PassageEmbeddingStore,
    ):
        wiring.add(store, store(database))
    wiring.add(JobRequestStore, JobRequestStore(database, wiring.add(JobStore, JobStore(database))))
    # Processes sharing a PostgreSQL take turns to IDENTIFY; the turn is given back before the database closes.
    turns = wiring.add(IdentifyTurns, IdentifyTurns(database, window_s=identify_window_s))
    wiring.on_close(Stage.STORAGE, turns.close)
