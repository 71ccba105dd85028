"""Full-text search over knowledge passages (SQLite FTS5 or a PostgreSQL tsvector('simple')), and the one tokeniser.

Every word of a passage and of a question goes through `passage_terms`: the stems and stop words of each word's
language that corrections are searched by (bot/store/search_terms.py). The index holds those terms only (FTS5 with
the plain unicode61 tokenizer, tsvector with the 'simple' configuration), so changing the tokeniser is a change to that
one function and a re-index. Matches are counted per passage as corrections' are
(bot/store/correction_search.py); the caller weighs them by how rare each term is (`document_counts`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import attrs
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.search_terms import index_text

MAX_QUESTION_TERMS = 12


def passage_terms(text: str) -> str:
    """The searchable terms of `text`, space-separated: the same language-aware stems (and stop words) corrections are
    searched by (bot/store/search_terms.py), for passages and questions alike."""
    return index_text(text)


def question_terms(question: str) -> list[str]:
    """A question's distinct terms (at most 12), for `PassageSearch.search`."""
    return list(dict.fromkeys(passage_terms(question).split()))[:MAX_QUESTION_TERMS]


@attrs.frozen
class FoundPassage:
    """A passage holding some of the question's terms; `matched` are those terms."""

    id: int
    source_id: int
    channel_id: int | None
    message_id: int | None
    section: str
    text: str
    matched: frozenset[str]


_COLUMNS = "SELECT p.id, p.source_id, p.channel_id, p.message_id, p.section, p.text, p.terms "


def _sqlite(words: int, sources: int) -> str:
    each = " UNION ALL ".join(f"SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH :w{i}" for i in range(words))
    allowed = ", ".join(f":s{i}" for i in range(sources))
    return (
        _COLUMNS
        + f"FROM (SELECT rowid AS id, count(*) AS n FROM ({each}) GROUP BY rowid HAVING count(*) >= :at_least) AS m "
        f"JOIN knowledge_passages AS p ON p.id = m.id WHERE p.guild_id = :guild_id AND p.source_id IN ({allowed}) "
        "ORDER BY m.n DESC, p.id DESC LIMIT :limit"
    )


def _postgresql(words: int) -> sa.TextClause:
    terms = [f"to_tsquery('simple', :w{i})" for i in range(words)]
    matched = " + ".join(f"(p.search @@ {t})::int" for t in terms)
    any_of = " || ".join(terms)
    return sa.text(
        _COLUMNS + f"FROM knowledge_passages AS p WHERE p.guild_id = :guild_id AND p.search @@ ({any_of}) "
        f"AND {matched} >= :at_least AND p.source_id IN :sources ORDER BY {matched} DESC, p.id DESC LIMIT :limit"
    ).bindparams(sa.bindparam("sources", expanding=True))


class PassageSearch:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(
        self, guild_id: int, terms: Sequence[str], *, sources: Collection[int], limit: int, at_least: int = 1
    ) -> list[FoundPassage]:
        """Passages of `sources` (in `guild_id`) holding at least `at_least` of `terms` (from `question_terms`),
        those holding the most first."""
        if not terms or not sources:
            return []
        params: dict[str, Any] = {
            "guild_id": guild_id,
            "limit": limit,
            "at_least": max(1, min(at_least, len(terms))),
        }
        allowed = sorted(sources)
        if self._db.engine.dialect.name == "sqlite":
            params |= {f"w{i}": f'"{w}"' for i, w in enumerate(terms)}
            params |= {f"s{i}": s for i, s in enumerate(allowed)}
            rows = await self._fetch(_sqlite(len(terms), len(allowed)), params)
        else:
            params |= {f"w{i}": w for i, w in enumerate(terms)} | {"sources": allowed}
            async with self._db.reading() as conn:
                rows = (await conn.execute(_postgresql(len(terms)), params)).mappings().all()
        wanted = set(terms)
        return [
            FoundPassage(
                int(r["id"]),
                int(r["source_id"]),
                None if r["channel_id"] is None else int(r["channel_id"]),
                None if r["message_id"] is None else int(r["message_id"]),
                str(r["section"]),
                str(r["text"]),
                frozenset(wanted.intersection(str(r["terms"]).split())),
            )
            for r in rows
        ]

    async def document_counts(self, guild_id: int, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """How many passages the server has, and how many hold each term (rare terms say more)."""
        if not terms:
            return 0, {}
        count = "SELECT count(*) AS n FROM knowledge_passages WHERE guild_id = :guild_id"
        if self._db.engine.dialect.name == "sqlite":
            each = [
                f"SELECT {i} AS i, count(*) AS n FROM knowledge_fts JOIN knowledge_passages AS p ON p.id = "
                f"knowledge_fts.rowid WHERE knowledge_fts MATCH :w{i} AND p.guild_id = :guild_id"
                for i in range(len(terms))
            ]
            params: dict[str, Any] = {f"w{i}": f'"{w}"' for i, w in enumerate(terms)}
        else:
            each = [
                f"SELECT {i} AS i, count(*) AS n FROM knowledge_passages AS p "
                f"WHERE p.search @@ to_tsquery('simple', :w{i}) AND p.guild_id = :guild_id"
                for i in range(len(terms))
            ]
            params = {f"w{i}": w for i, w in enumerate(terms)}
        params["guild_id"] = guild_id
        sql = f"SELECT -1 AS i, n FROM ({count}) AS total UNION ALL " + " UNION ALL ".join(each)
        rows = await self._fetch(sql, params)
        counts = {int(r["i"]): int(r["n"]) for r in rows}
        return counts.get(-1, 0), {t: counts.get(i, 0) for i, t in enumerate(terms)}

    async def _fetch(self, sql: str, params: dict[str, Any]) -> Sequence[Any]:
        # The SQLite file's own reader when there is one (one hop off the loop); else the engine.
        reader = self._db.sqlite_reader
        if reader is not None:
            return await reader.fetch(sql, params)
        async with self._db.reading() as conn:
            return (await conn.execute(sa.text(sql), params)).mappings().all()
