"""Full-text search over a server's approved corrections (SQLite FTS5 or a PostgreSQL tsvector), by question.

A correction is a candidate only when its question holds at least `at_least` of the words asked about. Each word is
looked up on its own (a cheap walk of that word's index entries) and the matches are counted per correction, so a
common word that alone matches thousands of questions costs a count, not a ranking of every one of them: over
100,000 corrections this takes about half a millisecond on SQLite, where ranking every match of an OR query took 5–30
(bench/model_test.py)."""

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


_FILTER = "AND (c.private = {false} OR c.asker_id = :user_id) AND c.status = 'approved' "
_COLUMNS = "SELECT c.id, coalesce(c.corrected_transcript, c.question) AS question, c.corrected_answer "


def _sqlite(words: int, excluded: int) -> str:
    # FTS5 holds approved corrections only (its triggers); the join re-checks the server, privacy and status.
    each = " UNION ALL ".join(
        f"SELECT rowid FROM corrections_fts WHERE corrections_fts MATCH :w{i}" for i in range(words)
    )
    not_in = ", ".join(f":x{i}" for i in range(excluded)) or "-1"
    return (
        _COLUMNS
        + f"FROM (SELECT rowid AS id, count(*) AS n FROM ({each}) GROUP BY rowid HAVING count(*) >= :at_least) "
        "AS m JOIN corrections AS c ON c.id = m.id WHERE c.guild_id = :guild_id "
        + _FILTER.format(false="0")
        + f"AND c.id NOT IN ({not_in}) ORDER BY m.n DESC, c.id DESC LIMIT :limit"
    )


def _postgresql(words: int) -> sa.TextClause:
    terms = [f"plainto_tsquery('english', :w{i})" for i in range(words)]
    matched = " + ".join(f"(c.search @@ {t})::int" for t in terms)
    any_of = " || ".join(terms)
    return sa.text(
        _COLUMNS + f"FROM corrections AS c WHERE c.guild_id = :guild_id AND c.search @@ ({any_of}) "
        f"AND {matched} >= :at_least "
        + _FILTER.format(false="false")
        + f"AND c.id NOT IN :exclude ORDER BY {matched} DESC, ts_rank(c.search, {any_of}) DESC, c.id DESC LIMIT :limit"
    ).bindparams(sa.bindparam("exclude", expanding=True))


class CorrectionSearch:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queries: dict[int, sa.TextClause] = {}

    async def search(
        self,
        guild_id: int,
        words: Sequence[str],
        *,
        user_id: int | None,
        limit: int,
        at_least: int = 1,
        exclude: Collection[int] = (),
    ) -> list[Found]:
        """Approved corrections of `guild_id` whose question holds at least `at_least` of `words` (plain letters and
        digits), those holding the most first, then the newest. Private ones (from a private or DM answer) only for
        their own asker, `user_id`."""
        if not words:
            return []
        params: dict[str, Any] = {
            "guild_id": guild_id,
            "user_id": -1 if user_id is None else user_id,
            "limit": limit,
            "at_least": max(1, min(at_least, len(words))),
        }
        reader = self._db.sqlite_reader
        if reader is not None:
            excluded = list(exclude)
            params |= {f"w{i}": f'"{w}"' for i, w in enumerate(words)}
            params |= {f"x{i}": x for i, x in enumerate(excluded)}
            rows = await reader.fetch(_sqlite(len(words), len(excluded)), params)
            return [Found(int(r["id"]), str(r["question"]), str(r["corrected_answer"])) for r in rows]
        if self._db.engine.dialect.name != "postgresql":
            raise RuntimeError("correction search needs PostgreSQL or a SQLite file")
        query = self._queries.get(len(words))
        if query is None:
            query = self._queries[len(words)] = _postgresql(len(words))
        params |= {f"w{i}": w for i, w in enumerate(words)} | {"exclude": list(exclude) or [-1]}
        async with self._db.reading() as conn:
            rows = (await conn.execute(query, params)).all()
        return [Found(int(r.id), str(r.question), str(r.corrected_answer)) for r in rows]
