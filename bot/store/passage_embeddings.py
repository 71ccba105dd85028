"""Embeddings of knowledge passages (optional: `[llm] embeddings_model`), for finding a passage by meaning; kept in the
database so every process shares them, each server's vectors held in memory while nothing new was stored."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs
import numpy as np
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.held_vectors import HeldVectors, as_matrix, newest_size, stored_version
from bot.store.passage_search import FoundPassage
from bot.store.records import utcnow
from bot.store.schema import knowledge_embeddings, knowledge_passages


@attrs.frozen
class _Held:
    ids: np.ndarray  # passage ids, one per row of `vectors`
    sources: np.ndarray  # each passage's source id
    vectors: np.ndarray  # unit-length float32 rows


class PassageEmbeddingStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._held = HeldVectors[_Held]()  # a few servers at a time

    async def missing(self, guild_id: int, model: str, limit: int) -> list[tuple[int, str]]:
        """The server's passages with no embedding by `model` yet (the newest first)."""
        p, e = knowledge_passages, knowledge_embeddings
        query = (
            sa.select(p.c.id, p.c.section, p.c.text)
            .select_from(p.outerjoin(e, sa.and_(e.c.passage_id == p.c.id, e.c.model == model)))
            .where(p.c.guild_id == guild_id, e.c.passage_id.is_(None))
            .order_by(p.c.id.desc())
            .limit(limit)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [(int(r.id), f"{r.section}\n{r.text}" if r.section else str(r.text)) for r in rows]

    async def store(self, guild_id: int, model: str, items: Sequence[tuple[int, np.ndarray]]) -> None:
        if not items:
            return
        now = utcnow()
        ids = [i for i, _ in items]
        async with self._db.engine.begin() as conn:
            # Only passages that still exist: one may have been edited or deleted while it was being embedded.
            alive = {
                int(r.id)
                for r in (
                    await conn.execute(sa.select(knowledge_passages.c.id).where(knowledge_passages.c.id.in_(ids)))
                )
            }
            await conn.execute(sa.delete(knowledge_embeddings).where(knowledge_embeddings.c.passage_id.in_(ids)))
            rows = [
                {"passage_id": i, "guild_id": guild_id, "model": model,
                 "vector": np.asarray(vector, dtype="<f4").tobytes(), "stored_at": now}
                for i, vector in items
                if i in alive
            ]  # fmt: skip
            if rows:
                await conn.execute(sa.insert(knowledge_embeddings), rows)

    async def nearest(
        self,
        guild_id: int,
        model: str,
        question: np.ndarray,
        *,
        sources: Collection[int],
        limit: int,
        min_similarity: float,
    ) -> list[tuple[FoundPassage, float]]:
        """Passages of `sources` closest in meaning to `question` (a unit vector), at least `min_similarity` close."""
        held = await self._vectors(guild_id, model)
        if held is None or len(held.ids) == 0 or held.vectors.shape[1] != question.shape[0]:
            return []
        similarity = held.vectors @ question
        similarity[~np.isin(held.sources, np.array(sorted(sources), dtype=np.int64))] = -1.0
        order = np.argsort(-similarity)[:limit]
        close = {int(held.ids[i]): float(similarity[i]) for i in order if similarity[i] >= min_similarity}
        if not close:
            return []
        p = knowledge_passages
        query = sa.select(p.c.id, p.c.source_id, p.c.channel_id, p.c.message_id, p.c.section, p.c.text).where(
            p.c.id.in_(list(close)), p.c.guild_id == guild_id, p.c.source_id.in_(list(sources))
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        found = [
            (
                FoundPassage(
                    int(r.id),
                    int(r.source_id),
                    None if r.channel_id is None else int(r.channel_id),
                    None if r.message_id is None else int(r.message_id),
                    str(r.section),
                    str(r.text),
                    frozenset(),
                ),
                close[int(r.id)],
            )
            for r in rows
        ]
        return sorted(found, key=lambda f: -f[1])

    async def _vectors(self, guild_id: int, model: str) -> _Held | None:
        e, p = knowledge_embeddings, knowledge_passages
        mine = sa.and_(e.c.guild_id == guild_id, e.c.model == model)
        async with self._db.reading() as conn:
            version = await stored_version(conn, e, mine)
            if version is None:
                return None
            if (held := self._held.get((guild_id, model), version)) is not None:
                return held
            rows = (
                await conn.execute(
                    sa.select(e.c.passage_id, p.c.source_id, e.c.vector).join(p, p.c.id == e.c.passage_id).where(mine)
                )
            ).all()
        if not rows:
            return None
        rows = newest_size(rows)
        return self._held.put(
            (guild_id, model),
            version,
            _Held(
                np.array([r.passage_id for r in rows], dtype=np.int64),
                np.array([r.source_id for r in rows], dtype=np.int64),
                as_matrix([r.vector for r in rows]),
            ),
        )
