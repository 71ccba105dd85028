"""Embeddings of knowledge passages: which still need one, none kept for a passage deleted meanwhile, and the nearest
by meaning only among the sources the asker may use."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.knowledge import KnowledgeSource, KnowledgeStore, NewPassage, terms_of
from bot.store.passage_embeddings import PassageEmbeddingStore
from tests.store.test_correction_embeddings import MODEL, unit


async def _source(store: KnowledgeStore, channel: int, *texts: tuple[int, str]) -> KnowledgeSource:
    source = await store.add_source(5, "channel", label=f"#{channel}", added_by=1, channel_id=channel)
    passages = [NewPassage(text, message_id=message, channel_id=channel) for message, text in texts]
    await store.add_passages(source, passages, terms_of(passages))
    return source


async def test_passages_need_an_embedding_until_stored_and_a_deleted_one_gets_none(db: Database) -> None:
    knowledge, embeddings = KnowledgeStore(db), PassageEmbeddingStore(db)
    bikes_text, wifi_text = "Bikes are parked in the yard.", "The wifi password is on the wall."
    source = await _source(knowledge, 10, (100, bikes_text), (101, wifi_text))
    missing = await embeddings.missing(5, MODEL, 10)
    assert [text for _, text in missing] == [wifi_text, bikes_text]  # the newest first
    (wifi, _), (bikes, _) = missing
    await knowledge.remove_messages(10, [101])  # deleted while it was being embedded
    await embeddings.store(5, MODEL, [(wifi, unit(0, 1)), (bikes, unit(1, 0))])
    assert await embeddings.missing(5, MODEL, 10) == []
    assert len(await embeddings.missing(5, "another-model", 10)) == 1
    found = await embeddings.nearest(5, MODEL, unit(0, 1), sources={source.id}, limit=5, min_similarity=-1.0)
    assert [f.id for f, _ in found] == [bikes]


async def test_the_nearest_passages_come_only_from_the_sources_given(db: Database) -> None:
    knowledge, embeddings = KnowledgeStore(db), PassageEmbeddingStore(db)
    public = await _source(knowledge, 10, (100, "Bikes are parked in the yard."))
    hidden = await _source(knowledge, 11, (200, "Staff bikes go in the basement."))
    ids = {text: i for i, text in await embeddings.missing(5, MODEL, 10)}
    await embeddings.store(
        5,
        MODEL,
        [(ids["Bikes are parked in the yard."], unit(1, 0.2)), (ids["Staff bikes go in the basement."], unit(1, 0))],
    )
    question = unit(1, 0)
    both = await embeddings.nearest(5, MODEL, question, sources={public.id, hidden.id}, limit=5, min_similarity=0.5)
    assert [f.text for f, _ in both] == ["Staff bikes go in the basement.", "Bikes are parked in the yard."]
    mine = await embeddings.nearest(5, MODEL, question, sources={public.id}, limit=5, min_similarity=0.5)
    assert [(f.text, f.channel_id, f.message_id) for f, _ in mine] == [("Bikes are parked in the yard.", 10, 100)]
    assert await embeddings.nearest(5, MODEL, unit(0, 1), sources={public.id}, limit=5, min_similarity=0.5) == []
    assert await embeddings.nearest(6, MODEL, question, sources={public.id}, limit=5, min_similarity=0.5) == []
