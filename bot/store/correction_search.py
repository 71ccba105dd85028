"""Full-text search over a server's approved corrections (SQLite FTS5 or a PostgreSQL tsvector), by question."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import attrs
import sqlalchemy as sa

from bot.store.database import Database


@attrs.frozen
class Found:
    """An approved correction whose question shares words with the one asked."""

    id: int
    question: str
    corrected_answer: str


_SQLITE = sa.text(
    "SELECT c.id, coalesce(c.corrected_transcript, c.question) AS question, c.corrected_answer "
    "FROM corrections_fts JOIN corrections AS c ON c.id = corrections_fts.rowid "
    "WHERE corrections_fts MATCH :query AND c.guild_id = :guild_id AND c.status = 'approved' "
    "AND (c.private = 0 OR c.asker_id = :user_id) AND c.id NOT IN :exclude "
    "ORDER BY bm25(corrections_fts) LIMIT :limit"
).bindparams(sa.bindparam("exclude", expanding=True))

_POSTGRESQL = sa.text(
    "SELECT id, coalesce(corrected_transcript, question) AS question, corrected_answer FROM corrections "
    "WHERE search @@ websearch_to_tsquery('english', :query) AND guild_id = :guild_id AND status = 'approved' "
    "AND (private = false OR asker_id = :user_id) AND id NOT IN :exclude "
    "ORDER BY ts_rank(search, websearch_to_tsquery('english', :query)) DESC, id LIMIT :limit"
).bindparams(sa.bindparam("exclude", expanding=True))


class CorrectionSearch:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(
        self,
        guild_id: int,
        words: Sequence[str],
        *,
        user_id: int | None,
        limit: int,
        exclude: Collection[int] = (),
    ) -> list[Found]:
        """Approved corrections of `guild_id` whose question holds any of `words` (plain letters and digits), best
        first. Private ones (from a private or DM answer) only for their own asker, `user_id`."""
        if not words:
            return []
        postgres = self._db.engine.dialect.name == "postgresql"
        query = " or ".join(words) if postgres else " OR ".join(f'"{w}"' for w in words)
        params: dict[str, Any] = {
            "query": query,
            "guild_id": guild_id,
            "user_id": -1 if user_id is None else user_id,
            "limit": limit,
            "exclude": list(exclude) or [-1],
        }
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(_POSTGRESQL if postgres else _SQLITE, params)).all()
        return [Found(int(r.id), str(r.question), str(r.corrected_answer)) for r in rows]
