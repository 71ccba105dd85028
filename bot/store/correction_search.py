"""Full-text search over a server's approved corrections (SQLite FTS5 or a PostgreSQL tsvector), by question terms.

Both databases index `search_terms` (bot/store/search_terms.py) as given, and a term is looked up the same way on
both: itself and the longer terms it starts (FTS5 `"term"*`, tsquery `'term':*`), the shorter ones that start it, and
the server's terms it may be a misspelling of. A correction is a candidate only when its question holds at least
`at_least` of the terms asked about. Each term is looked up on its own (a cheap walk of that term's index entries) and
the matches are counted per correction, so a common term that alone matches thousands of questions costs a count, not
a ranking of every one of them (bench/retrieval.py measures it over 100,000 corrections)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.store.database import Database
from bot.store.search_terms import Vocabulary, lookups, matches, spellings

VOCABULARY_TTL_S = 60.0  # a word taught since is found at once; only its misspellings wait this long
VOCABULARIES = 16  # servers whose vocabulary is held in memory at once (the least recently asked is dropped)


@attrs.frozen
class Found:
    """An approved correction whose question shares words with the one asked."""

    id: int
    question: str
    corrected_answer: str
    terms: str = ""  # what its question is indexed by (space-separated), for scoring the match


@attrs.frozen
class Term:
    """One term of a question, and the server's terms it may also be (another form of its word, or what it is a
    misspelling of: `Vocabulary.also`)."""

    stem: str
    also: tuple[str, ...] = ()

    def alternatives(self) -> list[tuple[str, bool]]:
        """(term, also the longer terms it starts) for each lookup in the index that this term makes."""
        return lookups(self.stem) + [(t, False) for t in self.also]

    def matches(self, indexed: str) -> bool:
        """Whether an indexed term is one that `alternatives` finds."""
        return indexed in self.also or matches(self.stem, indexed)


_FILTER = "AND (c.private = {false} OR c.asker_id = :user_id) AND c.status = 'approved' "
_COLUMNS = (
    "SELECT c.id, coalesce(c.corrected_transcript, c.question) AS question, c.corrected_answer, "
    "coalesce(c.search_terms, '') AS terms "
)


def _fts5(term: Term) -> str:
    return " OR ".join(f'"{t}"*' if prefix else f'"{t}"' for t, prefix in term.alternatives())


def _tsquery(term: Term) -> str:
    return " | ".join(f"'{t}':*" if prefix else f"'{t}'" for t, prefix in term.alternatives())


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
        + f"AND c.id NOT IN ({not_in}) ORDER BY m.n DESC, length(c.search_terms), c.id DESC LIMIT :limit"
    )


def _postgresql(words: int) -> sa.TextClause:
    terms = [f"to_tsquery('simple', :w{i})" for i in range(words)]
    matched = " + ".join(f"(c.search @@ {t})::int" for t in terms)
    any_of = " || ".join(terms)
    return sa.text(
        _COLUMNS + f"FROM corrections AS c WHERE c.guild_id = :guild_id AND c.search @@ ({any_of}) "
        f"AND {matched} >= :at_least "
        + _FILTER.format(false="false")
        + f"AND c.id <> ALL(:exclude) ORDER BY {matched} DESC, length(c.search_terms), c.id DESC LIMIT :limit"
    ).bindparams(sa.bindparam("exclude", type_=postgresql.ARRAY(sa.BigInteger)))


@attrs.frozen
class _Held:
    vocabulary: Vocabulary
    read_at: float


class CorrectionSearch:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._queries: dict[int, sa.TextClause] = {}
        self._vocabularies: OrderedDict[int, _Held] = OrderedDict()
        self._reading: dict[int, asyncio.Task[Vocabulary]] = {}

    async def vocabulary(self, guild_id: int) -> Vocabulary:
        """The terms of the server's approved corrections, at most VOCABULARY_TTL_S old: an old one is still used
        while a fresh one is read, so only a server's first question waits for it."""
        held = self._vocabularies.get(guild_id)
        if held is not None:
            self._vocabularies.move_to_end(guild_id)
            if time.monotonic() - held.read_at > VOCABULARY_TTL_S and guild_id not in self._reading:
                self._reading[guild_id] = asyncio.create_task(self._read_vocabulary(guild_id))
            return held.vocabulary
        task = self._reading.get(guild_id)
        if task is None:
            task = self._reading[guild_id] = asyncio.create_task(self._read_vocabulary(guild_id))
        return await asyncio.shield(task)

    async def _read_vocabulary(self, guild_id: int) -> Vocabulary:
        try:
            query = sa.text(
                # Public ones only: someone's private question never shapes what another member's question finds.
                "SELECT coalesce(corrected_transcript, question) AS text, coalesce(search_terms, '') AS terms "
                "FROM corrections WHERE guild_id = :guild_id AND status = 'approved' AND private = :public"
            )
            async with self._db.reading() as conn:
                rows = (await conn.execute(query, {"guild_id": guild_id, "public": False})).all()

            def read() -> Vocabulary:
                written = (w for row in rows for w in spellings(str(row.text)))
                return Vocabulary(written, (t for row in rows for t in str(row.terms).split()))

            # Reading the words of a large server's corrections takes a while: not on the event loop.
            vocabulary = await asyncio.to_thread(read)
            self._vocabularies[guild_id] = _Held(vocabulary, time.monotonic())
            self._vocabularies.move_to_end(guild_id)
            while len(self._vocabularies) > VOCABULARIES:
                self._vocabularies.popitem(last=False)
            return vocabulary
        finally:
            self._reading.pop(guild_id, None)

    async def search(
        self,
        guild_id: int,
        words: Sequence[Term],
        *,
        user_id: int | None,
        limit: int,
        at_least: int = 1,
        exclude: Collection[int] = (),
    ) -> list[Found]:
        """Approved corrections of `guild_id` whose question holds at least `at_least` of `words`, those holding the
        most first, then those about little else (the fewest terms of their own), then the newest. Private ones (from
        a private or DM answer) only for their own asker, `user_id`."""
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
            params |= {f"w{i}": _fts5(w) for i, w in enumerate(words)}
            params |= {f"x{i}": x for i, x in enumerate(excluded)}
            rows = await reader.fetch(_sqlite(len(words), len(excluded)), params)
            return [Found(int(r["id"]), str(r["question"]), str(r["corrected_answer"]), str(r["terms"])) for r in rows]
        if self._db.engine.dialect.name != "postgresql":
            raise RuntimeError("correction search needs PostgreSQL or a SQLite file")
        query = self._queries.get(len(words))
        if query is None:
            query = self._queries[len(words)] = _postgresql(len(words))
        params |= {f"w{i}": _tsquery(w) for i, w in enumerate(words)} | {"exclude": list(exclude)}
        rows = await self._db.fetch_statement(query, params)
        return [Found(int(r["id"]), str(r["question"]), str(r["corrected_answer"]), str(r["terms"])) for r in rows]
