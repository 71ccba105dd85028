"""Embeddings of approved corrections' questions (optional: `[llm] embeddings_model`), kept in the database so every
process shares them, with each server's vectors held in memory while nothing new was stored."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any

import attrs
import numpy as np
import sqlalchemy as sa

from bot.store.correction_search import Found
from bot.store.database import Database
from bot.store.held_vectors import HeldVectors, Version, as_matrix, newest_size, stored_version
from bot.store.records import utcnow
from bot.store.schema import correction_embeddings, corrections

_TEXT = sa.func.coalesce(corrections.c.corrected_transcript, corrections.c.question)


def _missing_query(guild_id: Any, model: Any, limit: Any) -> sa.Select[int, str]:
    e = correction_embeddings
    return (
        sa.select(corrections.c.id, _TEXT.label("text"))
        .select_from(corrections.outerjoin(e, e.c.correction_id == corrections.c.id))
        .where(corrections.c.guild_id == guild_id, corrections.c.status == "approved")
        .where(sa.or_(e.c.correction_id.is_(None), e.c.model != model, e.c.text != _TEXT))
        .order_by(corrections.c.id.desc())
        .limit(limit)
    )


def _look_statement() -> sa.ClauseElement:
    """What is stored for a server and model (the version row first: its types decide the columns'), then the
    approved corrections waiting for an embedding; built once, as a question's reads are the bot's hot path."""
    e = correction_embeddings
    guild, model = sa.bindparam("guild", type_=sa.BigInteger), sa.bindparam("model", type_=sa.String)
    version = sa.select(
        sa.func.count().label("n"), sa.func.max(e.c.stored_at).label("newest"), sa.null().label("id"),
        sa.null().label("text"),
    ).where(e.c.guild_id == guild, e.c.model == model)  # fmt: skip
    waiting = _missing_query(guild, model, sa.bindparam("limit")).subquery("waiting")
    return sa.union_all(version, sa.select(sa.null(), sa.null(), waiting.c.id, waiting.c.text))


_LOOK = _look_statement()


@attrs.frozen
class Stored:
    """A server's embeddings by one model as a question finds them."""

    version: Version | None  # what changes when an embedding is stored or removed; None: none is stored
    missing: list[tuple[int, str]]  # approved corrections with no embedding of their question as it reads now


@attrs.frozen
class _Held:
    ids: np.ndarray  # correction ids, one per row of `vectors`
    vectors: np.ndarray  # unit-length float32 rows (numpy multiplies float16 ~10x slower, measured)


class EmbeddingStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._held = HeldVectors[_Held]()

    async def missing(self, guild_id: int, model: str, limit: int) -> list[tuple[int, str]]:
        """Approved corrections of the server with no embedding by `model` of their question as it reads now."""
        return (await self.look(guild_id, model, limit)).missing

    async def look(self, guild_id: int, model: str, limit: int) -> Stored:
        """In one read: what is stored (its version) and up to `limit` corrections `missing` an embedding."""
        rows = await self._db.fetch_statement(_LOOK, {"guild": guild_id, "model": model, "limit": limit})
        count, newest = next((r["n"], r["newest"]) for r in rows if r["id"] is None)  # the row of what is stored
        missing = [(int(r["id"]), str(r["text"])) for r in rows if r["id"] is not None]
        return Stored((int(count), newest) if count else None, missing)

    async def store(self, guild_id: int, model: str, items: Sequence[tuple[int, str, np.ndarray]]) -> None:
        if not items:
            return
        now = utcnow()
        async with self._db.engine.begin() as conn:
            ids = [i for i, _, _ in items]
            await conn.execute(sa.delete(correction_embeddings).where(correction_embeddings.c.correction_id.in_(ids)))
            await conn.execute(
                sa.insert(correction_embeddings),
                [
                    {"correction_id": i, "guild_id": guild_id, "model": model, "text": text,
                     "vector": np.asarray(vector, dtype="<f4").tobytes(), "stored_at": now}
                    for i, text, vector in items
                ],
            )  # fmt: skip

    async def nearest(
        self,
        guild_id: int,
        model: str,
        question: np.ndarray,
        *,
        user_id: int | None,
        limit: int,
        min_similarity: float,
        exclude: Collection[int] = (),
        as_of: Version | None = None,
    ) -> list[tuple[Found, float]]:
        """The server's approved corrections whose question is closest to `question` (a unit vector), at least
        `min_similarity` (cosine) close, best first; private ones only for their asker, as in full-text search.
        `as_of`: the stored version just read (`look`), so it is not read again; None: read it now."""
        held = await self._vectors(guild_id, model, as_of)
        if held is None or len(held.ids) == 0 or held.vectors.shape[1] != question.shape[0]:
            return []
        # A large server's product takes milliseconds: numpy does it without the GIL, off the event loop.
        similarity: np.ndarray = await asyncio.to_thread(np.dot, held.vectors, question)
        room = min(limit * 3, len(similarity))  # room for the ones the filters below leave out
        best = np.argpartition(-similarity, room - 1)[:room]
        order = best[np.argsort(-similarity[best])]
        close = {int(held.ids[i]): float(similarity[i]) for i in order if similarity[i] >= min_similarity}
        close = {i: s for i, s in close.items() if i not in exclude}
        if not close:
            return []
        query = sa.select(corrections.c.id, _TEXT.label("question"), corrections.c.corrected_answer).where(
            corrections.c.id.in_(list(close)),
            corrections.c.guild_id == guild_id,
            corrections.c.status == "approved",
            sa.or_(corrections.c.private.is_(False), corrections.c.asker_id == (-1 if user_id is None else user_id)),
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        found = [(Found(int(r.id), str(r.question), str(r.corrected_answer)), close[int(r.id)]) for r in rows]
        return sorted(found, key=lambda f: -f[1])[:limit]

    async def _vectors(self, guild_id: int, model: str, as_of: Version | None = None) -> _Held | None:
        e = correction_embeddings
        mine = sa.and_(e.c.guild_id == guild_id, e.c.model == model)
        if as_of is not None and (held := self._held.get((guild_id, model), as_of)) is not None:
            return held
        async with self._db.reading() as conn:
            version = as_of or await stored_version(conn, e, mine)
            if version is None:
                return None
            if (held := self._held.get((guild_id, model), version)) is not None:
                return held
            rows = (await conn.execute(sa.select(e.c.correction_id, e.c.vector).where(mine))).all()
        if not rows:
            return None
        rows = newest_size(rows)
        ids = np.array([r.correction_id for r in rows], dtype=np.int64)
        return self._held.put((guild_id, model), version, _Held(ids, as_matrix([r.vector for r in rows])))
