"""Answers the bot gave, and the conversation memory read back from them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, cast

import attrs
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.records import as_time, from_row, utcnow
from bot.store.schema import answers

Source = Literal["slash", "message", "audio", "voice"]


def new_conversation_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class ImageRef:
    """A picture sent with a question, by reference: where Discord keeps it and its SHA-256 (never its bytes)."""

    url: str
    attachment_id: int
    sha256: str


def image_refs(value: Any) -> tuple[ImageRef, ...]:
    """Stored JSON back into references (None for answers without pictures)."""
    items = cast(list[dict[str, Any]], value or [])
    return tuple(ImageRef(str(i["url"]), int(i["attachment_id"]), str(i["sha256"])) for i in items)


@attrs.frozen
class NewAnswer:
    guild_id: int | None
    channel_id: int
    user_id: int
    conversation_id: str
    source: Source
    model: str
    question: str
    answer: str
    transcript: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    private: bool = False
    system_prompt: str | None = None  # the persona the model was given
    images: tuple[ImageRef, ...] = ()


@attrs.frozen(kw_only=True)
class Answer(NewAnswer):
    """A stored answer: the new answer's fields, and what storing and showing it added."""

    id: int
    message_ids: list[int]
    created_at: dt.datetime
    delivered: bool = True

    @property
    def seen_only_by_asker(self) -> bool:
        """Private answers and DM answers were shown to nobody but the asker."""
        return self.private or self.guild_id is None


@attrs.frozen
class PrivateAsker:
    """The asker of a private or DM turn and where they ask it: their own private turns there are context for it."""

    channel_id: int
    user_id: int


# What everyone in the place saw: neither an ephemeral /ask private answer nor a DM answer.
_PUBLIC = sa.and_(answers.c.private == sa.false(), answers.c.guild_id.is_not(None))


def _seen_by(asker: PrivateAsker | None) -> sa.ColumnElement[bool]:
    """The answers that may be memory for a turn: public ones, and for a private turn its asker's own in that place.

    A private answer is never context for anyone else, nor for a public answer (which would repeat it to the channel),
    nor for a thread (whose memory every member can question)."""
    if asker is None:
        return _PUBLIC
    return sa.or_(_PUBLIC, sa.and_(answers.c.channel_id == asker.channel_id, answers.c.user_id == asker.user_id))


def _memory_statement(private: bool) -> sa.ClauseElement:
    """A member's current conversation in a channel (that of their latest delivered answer there) and its newest
    turns they may remember, newest first, in one statement (built once: a question's reads are the bot's hot path).
    One row per turn; with no turn to remember, one row whose turn columns are NULL; no row when there is no
    conversation. Parameters: channel, user, limit (≥ 1)."""
    a = answers.c
    mine = sa.and_(a.channel_id == sa.bindparam("channel"), a.user_id == sa.bindparam("user"), a.delivered)
    newest = sa.select(a.conversation_id).where(mine).order_by(a.id.desc()).limit(1)
    latest_row = newest.add_columns(a.created_at.label("latest_at")).subquery("latest")
    # In a channel, a member's own private turns are theirs to remember in a private turn (the `_seen_by` rule).
    seen = sa.true() if private else _PUBLIC
    turns = (
        sa.select(a.id, a.question, a.answer, a.created_at)
        .where(mine, seen, a.conversation_id == newest.scalar_subquery())
        .order_by(a.id.desc())
        .limit(sa.bindparam("limit"))
        .subquery("turns")
    )
    return (
        sa.select(
            latest_row.c.conversation_id, latest_row.c.latest_at, turns.c.question, turns.c.answer, turns.c.created_at
        )
        .select_from(latest_row.outerjoin(turns, sa.true()))
        .order_by(turns.c.id.desc())
    )


_MEMORY = {private: _memory_statement(private) for private in (False, True)}
_INSERT_ANSWER = sa.insert(answers).returning(answers.c.id)  # built once: every answer is stored


@attrs.frozen
class Turn:
    """One question and answer of a conversation, oldest first when listed."""

    question: str
    answer: str
    conversation_id: str


@attrs.frozen
class Memory:
    """What a new turn remembers of the conversation it goes on with (None: there is none, it starts one)."""

    conversation_id: str | None
    turns: list[Turn]


def _answer(row: Any) -> Answer:
    return from_row(
        Answer, row, message_ids=[int(m) for m in cast(list[Any], row.message_ids or [])], images=image_refs(row.images)
    )


class AnswerStore:
    """Queries over the answers table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, new: NewAnswer, message_ids: list[int] | None = None) -> Answer:
        """Store an answer (every column given: the stored answer is what was written, and its new id)."""
        created_at, ids = utcnow(), list(message_ids or [])
        values = attrs.asdict(new) | {
            "message_ids": [str(m) for m in ids],
            "images": [attrs.asdict(i) for i in new.images] or None,
            "created_at": created_at,
            "delivered": True,
        }
        ((row,),) = await self._db.write((_INSERT_ANSWER, values))
        return Answer(**attrs.asdict(new, recurse=False), id=int(row["id"]), message_ids=ids, created_at=created_at)

    async def set_message_ids(self, answer_id: int, message_ids: list[int]) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(answers).where(answers.c.id == answer_id).values(message_ids=[str(m) for m in message_ids])
            )

    async def mark_undelivered(self, answer_id: int) -> None:
        """Discord never got the answer's final message: it stays stored, but out of conversation memory."""
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.update(answers).where(answers.c.id == answer_id).values(delivered=False))

    async def get(self, answer_id: int) -> Answer | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(answers).where(answers.c.id == answer_id))).first()
        return None if row is None else _answer(row)

    async def shown_as(self, channel_id: int, message_id: int) -> Answer | None:
        """The answer one of whose messages in this channel is `message_id` (message ids are kept as JSON strings)."""
        shown = sa.cast(answers.c.message_ids, sa.Text).contains(f'"{message_id}"')
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(answers).where(answers.c.channel_id == channel_id, shown).order_by(answers.c.id.desc())
                )
            ).all()
        # The text match is a filter; the list decides (a longer id cannot match a quoted one, but be exact anyway).
        found = [a for a in map(_answer, rows) if message_id in a.message_ids]
        return found[0] if found else None

    async def latest(self, channel_id: int, user_id: int) -> Answer | None:
        """The user's most recent answer in this channel."""
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(answers)
                    .where(answers.c.channel_id == channel_id, answers.c.user_id == user_id)
                    .order_by(answers.c.id.desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else _answer(row)

    async def recent_for_user(
        self, guild_id: int | None, user_id: int, *, search: str = "", limit: int = 25
    ) -> list[Answer]:
        """The user's newest answers in a guild (or DMs), optionally those whose question contains `search`."""
        query = sa.select(answers).where(answers.c.user_id == user_id)
        query = query.where(answers.c.guild_id.is_(None) if guild_id is None else answers.c.guild_id == guild_id)
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(answers.c.question.ilike(f"%{escaped}%", escape="\\"))
        async with self._db.reading() as conn:
            rows = (await conn.execute(query.order_by(answers.c.id.desc()).limit(limit))).all()
        return [_answer(r) for r in rows]

    async def memory(
        self, channel_id: int, user_id: int, *, limit: int, max_age: dt.timedelta, private: bool = False
    ) -> Memory:
        """The current conversation here and its recent turns that the user's new turn may remember, oldest first.

        The current conversation is the one of the user's latest answer in this channel (younger than `max_age`);
        older conversations are not mixed in. A public turn (`private` False) remembers its public turns only; a
        private or DM turn also the user's own private turns here. Privacy decides what is remembered, never which
        conversation goes on: a public turn after a private one continues it without its private turns, so the
        asker's next private turn still has them.
        """
        since = utcnow() - max_age
        params = {"channel": channel_id, "user": user_id, "limit": max(limit, 1)}
        rows = await self._db.fetch_statement(_MEMORY[private], params)
        if not rows or as_time(rows[0]["latest_at"]) < since:
            return Memory(None, [])
        current = str(rows[0]["conversation_id"])
        turns: list[Turn] = []
        for row in rows if limit > 0 else ():
            if row["question"] is None or as_time(row["created_at"]) < since:
                break
            turns.insert(0, Turn(question=row["question"], answer=row["answer"], conversation_id=current))
        return Memory(current, turns)

    async def conversation(
        self, conversation_id: str, *, limit: int, private_asker: PrivateAsker | None = None
    ) -> list[Turn]:
        """The conversation's latest delivered public turns, whoever asked them (a thread's shared memory), oldest
        first; for a private turn (`private_asker`), its asker's private turns in that place too."""
        if limit <= 0:
            return []
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(answers.c.question, answers.c.answer, answers.c.conversation_id)
                    .where(answers.c.conversation_id == conversation_id, answers.c.delivered, _seen_by(private_asker))
                    .order_by(answers.c.id.desc())
                    .limit(limit)
                )
            ).all()
        return [Turn(question=r.question, answer=r.answer, conversation_id=r.conversation_id) for r in reversed(rows)]
