"""Members' 👍/👎 on answers: one changeable vote per member per answer, their counts, 👍 answers queued for review."""

from __future__ import annotations

from typing import Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.answers import Answer
from bot.store.database import Database
from bot.store.records import utcnow
from bot.store.schema import answer_votes, answers, corrections
from bot.store.search_terms import index_text

Vote = Literal["up", "down"]
VOTES: tuple[Vote, ...] = ("up", "down")


@attrs.frozen
class Tally:
    """An answer's votes, and what the member who just voted chose."""

    up: int
    down: int
    mine: Vote | None = None


@attrs.frozen
class VoteStats:
    up: int
    down: int
    answers: int  # answers with at least one vote


@attrs.frozen
class Endorsed:
    """The endorsements that queuing well-voted answers made, oldest answer first."""

    correction_ids: list[int]


def _count(vote: Vote) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((answer_votes.c.vote == vote, 1), else_=0)), 0)


class VoteStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def vote(self, answer: Answer, user_id: int, vote: Vote) -> Tally:
        """Record (or change) the member's vote on the answer: one statement, so two taps at once keep one row."""
        now = utcnow()
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        upsert = (
            dialect.insert(answer_votes)
            .values(
                answer_id=answer.id,
                user_id=user_id,
                guild_id=answer.guild_id,
                vote=vote,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=[answer_votes.c.answer_id, answer_votes.c.user_id],
                set_={"vote": vote, "updated_at": now},
            )
        )
        async with self._db.engine.begin() as conn:
            await conn.execute(upsert)
        return attrs.evolve(await self.tally(answer.id), mine=vote)

    async def tally(self, answer_id: int) -> Tally:
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(_count("up").label("up"), _count("down").label("down")).where(
                        answer_votes.c.answer_id == answer_id
                    )
                )
            ).one()
        return Tally(int(row.up), int(row.down))

    async def stats(self, guild_id: int | None) -> VoteStats:
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        _count("up").label("up"),
                        _count("down").label("down"),
                        sa.func.count(sa.distinct(answer_votes.c.answer_id)).label("answers"),
                    ).where(answer_votes.c.guild_id == guild_id)
                )
            ).one()
        return VoteStats(int(row.up), int(row.down), int(row.answers))

    async def endorse(self, guild_id: int, min_up: int, queued_by: int) -> Endorsed:
        """Queue for review, as they were given, the guild's public answers with at least `min_up` 👍, more 👍 than
        👎, and no correction of any status (a corrected answer is taught by its correction). Private answers are
        never queued: their asker's 👍 did not agree to show them to reviewers."""
        up, down = _count("up"), _count("down")
        liked = (
            sa.select(answer_votes.c.answer_id)
            .group_by(answer_votes.c.answer_id)
            .having(up >= min_up, up > down)
            .subquery()
        )
        query = (
            sa.select(answers)
            .join(liked, liked.c.answer_id == answers.c.id)
            .where(
                answers.c.guild_id == guild_id,
                answers.c.private == sa.false(),
                answers.c.delivered,
                ~sa.exists().where(corrections.c.answer_id == answers.c.id),
            )
            .order_by(answers.c.id)
        )
        now = utcnow()
        ids: list[int] = []
        async with self._db.engine.begin() as conn:
            for row in (await conn.execute(query)).all():
                tally = (
                    await conn.execute(
                        sa.select(_count("up").label("up"), _count("down").label("down")).where(
                            answer_votes.c.answer_id == row.id
                        )
                    )
                ).one()
                inserted = await conn.execute(
                    sa.insert(corrections)
                    .values(
                        answer_id=row.id,
                        guild_id=guild_id,
                        channel_id=row.channel_id,
                        author_id=queued_by,
                        asker_id=row.user_id,
                        private=False,
                        question=row.question,
                        search_terms=index_text(row.question),  # found by retrieval once approved, as corrections are
                        original_answer=row.answer,
                        corrected_answer=row.answer,
                        note=f"👍 {int(tally.up)} · 👎 {int(tally.down)}",
                        transcript=row.transcript,
                        model=row.model,
                        system_prompt=row.system_prompt,
                        images=row.images,
                        status="pending",
                        kind="endorsement",
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(corrections.c.id)
                )
                ids.append(int(inserted.scalar_one()))
        return Endorsed(ids)
