"""The corrections given to the model: one ranking of those found by words and by meaning (reciprocal rank fusion),
and with an embeddings endpoint, corrections asked in other words; a failing endpoint leaves word search working."""

from __future__ import annotations

import contextlib

import openai

from bot.llm.embeddings import Embedder
from bot.llm.references import References, fuse
from bot.llm.settings import LLMSettings
from bot.store.correction_embeddings import EmbeddingStore
from bot.store.correction_search import CorrectionSearch, Found
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from tests.fakes.openai import FakeOpenAI
from tests.store.conftest import approved
from tests.store.test_correction_search import TOPICS


def _found(i: int) -> Found:
    return Found(i, f"question {i}", f"answer {i}")


def test_a_correction_found_by_words_and_by_meaning_ranks_above_those_found_one_way() -> None:
    by_words = [_found(1), _found(2)]
    by_meaning = [_found(3), _found(2)]
    assert [f.id for f in fuse(by_words, by_meaning)] == [2, 1, 3]


def test_fusing_adds_no_correction_that_neither_ranking_kept() -> None:
    assert fuse([], []) == []
    assert [f.id for f in fuse([_found(4)], [])] == [4]
    assert [f.id for f in fuse([], [_found(5), _found(6)])] == [5, 6]


def _words_only(db: Database) -> References:
    return References(CorrectionSearch(db), GuildSettingsStore(db), LLMSettings())


async def test_with_embeddings_a_correction_asked_in_other_words_is_found_once_embedded(
    db: Database,
) -> None:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        fake.embedding_synonyms = {"bicycle": "bike", "bikes": "bike", "leave": "park", "cycle": "bike"}
        client = await stack.enter_async_context(openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url))
        settings = LLMSettings(embeddings_model="text-embedding-3-small", embeddings_min_similarity=0.5)
        refs = References(
            CorrectionSearch(db),
            GuildSettingsStore(db),
            settings,
            embedder=Embedder(client, "text-embedding-3-small"),
            embeddings=EmbeddingStore(db),
        )
        bikes = await approved(db, "Where do we park bikes?", "In the yard behind building B.")
        await approved(db, "What is the wifi password?", "hunter2", user=3, private=True)
        for q, a in TOPICS:
            await approved(db, q, a)
        question = "where can I leave my bicycle"
        assert await _words_only(db).relevant(5, question, user_id=2) == []  # no word in common
        assert [f.id for f in await refs.relevant(5, question, user_id=2)] == [bikes]
        assert await refs.relevant(5, "wifi password", user_id=4) == []  # someone else's private correction
        assert await refs.relevant(5, "Who painted the Mona Lisa?", user_id=2) == []  # unrelated
        embedded = sum(len(r["input"]) for r in fake.embedding_requests)
        assert embedded == 10 + 3  # each correction embedded once, then only the three questions asked
        assert await refs.relevant(6, question, user_id=2) == []  # another server's


async def test_a_failing_embeddings_endpoint_leaves_full_text_search_working(db: Database) -> None:
    async with FakeOpenAI() as fake, contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        )
        refs = References(
            CorrectionSearch(db),
            GuildSettingsStore(db),
            LLMSettings(embeddings_model="no-such-embedding-model"),
            embedder=Embedder(client, "no-such-embedding-model"),
            embeddings=EmbeddingStore(db),
        )
        mars = await approved(db, *TOPICS[0])
        assert [f.id for f in await refs.relevant(5, "how many moons has mars", user_id=2)] == [mars]
