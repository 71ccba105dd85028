"""Embeddings of approved corrections, shared by every process through the database: which still need one, and the
nearest by meaning, never another server's, another model's or someone else's private correction."""

from __future__ import annotations

import numpy as np

from bot.store.correction_embeddings import EmbeddingStore
from bot.store.database import Database
from tests.store.conftest import approved

MODEL = "text-embedding-3-small"


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


async def test_each_approved_correction_needs_an_embedding_once_per_model(db: Database) -> None:
    store = EmbeddingStore(db)
    bikes = await approved(db, "Where do we park bikes?", "In the yard.")
    wifi = await approved(db, "What is the wifi password?", "hunter2")
    await approved(db, "Another server's question", "x", guild=6)
    assert await store.missing(5, MODEL, 10) == [
        (wifi, "What is the wifi password?"),
        (bikes, "Where do we park bikes?"),
    ]
    await store.store(5, MODEL, [(bikes, "Where do we park bikes?", unit(1, 0, 0))])
    assert await store.missing(5, MODEL, 10) == [(wifi, "What is the wifi password?")]
    assert len(await store.missing(5, "another-model", 10)) == 2  # vectors of one model mean nothing to another
    assert len(await store.missing(5, MODEL, 1)) == 1


async def test_the_nearest_by_meaning_come_best_first_above_the_threshold(db: Database) -> None:
    store = EmbeddingStore(db)
    bikes = await approved(db, "Where do we park bikes?", "In the yard.")
    cars = await approved(db, "Where do we park cars?", "In the garage.")
    wifi = await approved(db, "What is the wifi password?", "hunter2")
    await store.store(
        5, MODEL, [(bikes, "b", unit(1, 0.1, 0)), (cars, "c", unit(1, 0.6, 0)), (wifi, "w", unit(0, 0, 1))]
    )
    found = await store.nearest(5, MODEL, unit(1, 0, 0), user_id=2, limit=5, min_similarity=0.5)
    assert [(f.id, f.corrected_answer) for f, _ in found] == [(bikes, "In the yard."), (cars, "In the garage.")]
    assert found[0][1] > found[1][1] > 0.5
    assert [f.id for f, _ in await store.nearest(5, MODEL, unit(1, 0, 0), user_id=2, limit=1, min_similarity=0.5)] == [
        bikes
    ]
    excluded = await store.nearest(5, MODEL, unit(1, 0, 0), user_id=2, limit=5, min_similarity=0.5, exclude={bikes})
    assert [f.id for f, _ in excluded] == [cars]
    assert await store.nearest(5, MODEL, unit(1, 0, 0, 0), user_id=2, limit=5, min_similarity=0.5) == []  # other size


async def test_another_server_s_or_someone_else_s_private_correction_is_never_near(db: Database) -> None:
    store = EmbeddingStore(db)
    mine = await approved(db, "What is my locker code?", "4711", user=3, private=True)
    theirs = await approved(db, "Where do we park bikes?", "Their yard.", guild=6)
    await store.store(5, MODEL, [(mine, "m", unit(1, 0))])
    await store.store(6, MODEL, [(theirs, "t", unit(1, 0))])
    assert await store.nearest(5, MODEL, unit(1, 0), user_id=2, limit=5, min_similarity=0.5) == []
    assert [f.id for f, _ in await store.nearest(5, MODEL, unit(1, 0), user_id=3, limit=5, min_similarity=0.5)] == [
        mine
    ]
    assert await store.nearest(5, "another-model", unit(1, 0), user_id=3, limit=5, min_similarity=0.5) == []
