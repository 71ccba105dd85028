"""Knowledge sources and their passages: added, listed, removed (with every passage), and kept in step with edits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.passage_search import passage_terms
from bot.store.records import utcnow
from bot.store.schema import knowledge_passages, knowledge_sources

SourceKind = Literal["channel", "file"]


@attrs.frozen
class KnowledgeSource:
    id: int
    guild_id: int
    kind: SourceKind
    channel_id: int | None
    pinned_only: bool
    filename: str | None
    label: str
    added_by: int
    created_at: dt.datetime
    synced_at: dt.datetime | None
    last_message_id: int | None
    passages: int = 0


@attrs.frozen
class NewPassage:
    """Text to index: from a message (channel sources) or a section of a file."""

    text: str
    message_id: int | None = None
    channel_id: int | None = None
    section: str = ""


def _source(row: Any, passages: int = 0) -> KnowledgeSource:
    return KnowledgeSource(
        id=row.id,
        guild_id=int(row.guild_id),
        kind=row.kind,
        channel_id=None if row.channel_id is None else int(row.channel_id),
        pinned_only=bool(row.pinned_only),
        filename=row.filename,
        label=row.label,
        added_by=int(row.added_by),
        created_at=row.created_at,
        synced_at=row.synced_at,
        last_message_id=None if row.last_message_id is None else int(row.last_message_id),
        passages=passages,
    )


def _rows(source: KnowledgeSource, passages: Sequence[NewPassage], terms: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "source_id": source.id,
            "guild_id": source.guild_id,
            "channel_id": p.channel_id,
            "message_id": p.message_id,
            "section": p.section,
            "text": p.text,
            "terms": t,
        }
        for p, t in zip(passages, terms, strict=True)
    ]


def terms_of(passages: Sequence[NewPassage]) -> list[str]:
    """Each passage's search terms (CPU work: callers with many run it in a thread)."""
    return [passage_terms(f"{p.section}\n{p.text}") for p in passages]


class KnowledgeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_source(
        self,
        guild_id: int,
        kind: SourceKind,
        *,
        label: str,
        added_by: int,
        channel_id: int | None = None,
        pinned_only: bool = False,
        filename: str | None = None,
    ) -> KnowledgeSource:
        values = {
            "guild_id": guild_id,
            "kind": kind,
            "channel_id": channel_id,
            "pinned_only": pinned_only,
            "filename": filename,
            "label": label,
            "added_by": added_by,
            "created_at": utcnow(),
        }
        async with self._db.engine.begin() as conn:
            new_id = (await conn.execute(sa.insert(knowledge_sources).values(values))).inserted_primary_key
            assert new_id is not None
            row = (await conn.execute(sa.select(knowledge_sources).where(knowledge_sources.c.id == new_id[0]))).one()
        return _source(row)

    async def has_sources(self, guild_id: int) -> bool:
        """Whether the server has any source: one small read before each question, most servers having none."""
        rows = await self._db.fetch(
            "SELECT 1 AS one FROM knowledge_sources WHERE guild_id = :g LIMIT 1", {"g": guild_id}
        )
        return bool(rows)

    async def sources(self, guild_id: int) -> list[KnowledgeSource]:
        """The server's sources, oldest first, with how many passages each holds."""
        counts = (
            sa.select(knowledge_passages.c.source_id, sa.func.count().label("n"))
            .group_by(knowledge_passages.c.source_id)
            .subquery()
        )
        query = (
            sa.select(knowledge_sources, sa.func.coalesce(counts.c.n, 0).label("n"))
            .outerjoin(counts, counts.c.source_id == knowledge_sources.c.id)
            .where(knowledge_sources.c.guild_id == guild_id)
            .order_by(knowledge_sources.c.id)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [_source(r, int(r.n)) for r in rows]

    async def source(self, guild_id: int, source_id: int) -> KnowledgeSource | None:
        """The source, if it is this server's (an id from another server is none)."""
        return next((s for s in await self.sources(guild_id) if s.id == source_id), None)

    async def sources_reading(self, channel_id: int) -> list[KnowledgeSource]:
        """The sources that read this channel or thread (usually none)."""
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(sa.select(knowledge_sources).where(knowledge_sources.c.channel_id == channel_id))
            ).all()
        return [_source(r) for r in rows]

    async def all_channel_sources(self) -> list[KnowledgeSource]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(knowledge_sources)
                    .where(knowledge_sources.c.kind == "channel")
                    .order_by(knowledge_sources.c.id)
                )
            ).all()
        return [_source(r) for r in rows]

    async def remove_source(self, guild_id: int, source_id: int) -> bool:
        """The source and every passage from it; False when the server has no such source."""
        async with self._db.engine.begin() as conn:
            found = (
                await conn.execute(
                    sa.select(knowledge_sources.c.id).where(
                        knowledge_sources.c.id == source_id, knowledge_sources.c.guild_id == guild_id
                    )
                )
            ).first()
            if found is None:
                return False
            # Explicitly, not by the foreign key's cascade alone: SQLite enforces it only with its pragma on.
            await conn.execute(sa.delete(knowledge_passages).where(knowledge_passages.c.source_id == source_id))
            await conn.execute(sa.delete(knowledge_sources).where(knowledge_sources.c.id == source_id))
        return True

    async def add_passages(
        self,
        source: KnowledgeSource,
        passages: Sequence[NewPassage],
        terms: Sequence[str],
        *,
        last_message_id: int | None = None,
    ) -> None:
        """Index more of a source (a page of history, a file): `terms` from `terms_of(passages)`."""
        async with self._db.engine.begin() as conn:
            if passages:
                await conn.execute(sa.insert(knowledge_passages), _rows(source, passages, terms))
            if last_message_id is not None:
                await conn.execute(
                    sa.update(knowledge_sources)
                    .where(
                        knowledge_sources.c.id == source.id,
                        sa.or_(
                            knowledge_sources.c.last_message_id.is_(None),
                            knowledge_sources.c.last_message_id < last_message_id,
                        ),
                    )
                    .values(last_message_id=last_message_id)
                )

    async def replace_message(
        self, source: KnowledgeSource, message_id: int, passages: Sequence[NewPassage], terms: Sequence[str]
    ) -> None:
        """A message was edited (or appeared, or was pinned): its passages become `passages` (none: it is gone)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.delete(knowledge_passages).where(
                    knowledge_passages.c.source_id == source.id, knowledge_passages.c.message_id == message_id
                )
            )
            if passages:
                await conn.execute(sa.insert(knowledge_passages), _rows(source, passages, terms))

    async def remove_messages(self, channel_id: int, message_ids: Sequence[int]) -> int:
        """Deleted messages leave no passage behind, in any source reading the channel. Returns how many went."""
        if not message_ids:
            return 0
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                sa.delete(knowledge_passages).where(
                    knowledge_passages.c.channel_id == channel_id,
                    knowledge_passages.c.message_id.in_(list(message_ids)),
                )
            )
        return int(result.rowcount or 0)

    async def message_ids(self, source_id: int) -> set[int]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(knowledge_passages.c.message_id)
                    .where(knowledge_passages.c.source_id == source_id, knowledge_passages.c.message_id.is_not(None))
                    .distinct()
                )
            ).all()
        return {int(r.message_id) for r in rows}

    async def passage_texts(self, source_id: int) -> dict[int, str]:
        """Each message's indexed text (its passages joined), to tell what changed while the bot was away."""
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(knowledge_passages.c.message_id, knowledge_passages.c.text)
                    .where(knowledge_passages.c.source_id == source_id, knowledge_passages.c.message_id.is_not(None))
                    .order_by(knowledge_passages.c.id)
                )
            ).all()
        texts: dict[int, list[str]] = {}
        for r in rows:
            texts.setdefault(int(r.message_id), []).append(str(r.text))
        return {k: "\n".join(v) for k, v in texts.items()}

    async def mark_synced(self, source_id: int) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(knowledge_sources).where(knowledge_sources.c.id == source_id).values(synced_at=utcnow())
            )
