"""Corrections: a member's fix for one of the bot's answers, its review, and the counts and lists over them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import _
from bot.store.answers import Answer, ImageRef, image_refs
from bot.store.database import Database
from bot.store.records import from_row, utcnow
from bot.store.schema import answer_votes, corrections
from bot.store.search_terms import index_text

Status = Literal["pending", "approved", "rejected"]
# correction: a member's fix; endorsement: an answer members voted 👍, queued for review as it was given.
Kind = Literal["correction", "endorsement"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected")
# Discord's modal text inputs hold at most 4,000 characters; notes are kept shorter.
MAX_CORRECTION_CHARS = 4000
MAX_NOTE_CHARS = 1000


@attrs.frozen
class Correction:
    id: int
    answer_id: int
    guild_id: int | None
    channel_id: int
    author_id: int
    asker_id: int | None
    private: bool
    question: str
    original_answer: str
    corrected_answer: str
    note: str | None
    transcript: str | None
    corrected_transcript: str | None
    model: str
    status: Status
    reviewer_id: int | None
    reviewed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # What the answer's model was given: its persona (None for answers older than personas) and pictures.
    system_prompt: str | None = None
    images: tuple[ImageRef, ...] = ()
    kind: Kind = "correction"

    @property
    def question_for_training(self) -> str:
        """The question as the user meant it: a fixed transcript replaces what speech recognition heard."""
        return self.corrected_transcript or self.question


@attrs.frozen
class SubmitResult:
    correction: Correction
    updated: bool  # True when the author's pending correction of this answer was replaced


@attrs.frozen
class Page:
    items: list[Correction]
    total: int


@attrs.frozen
class Contributor:
    author_id: int
    total: int
    approved: int


@attrs.frozen
class CorrectionStats:
    by_status: dict[str, int]
    by_author: list[Contributor]


# Every column but the search terms, which only the search reads.
_SHOWN = [c for c in corrections.c if c.name != "search_terms"]


def _correction(row: Any) -> Correction:
    return from_row(Correction, row, images=image_refs(row.images))


def normalise(text: str) -> str:
    """Whitespace-insensitive form used to spot a "correction" that changes nothing."""
    return " ".join(text.split())


@attrs.frozen
class Actor:
    """Who asks to correct an answer, and from where: the guild and channel they act in, and the message whose
    button (or whose button's form) they used, if any."""

    user_id: int
    guild_id: int | None
    channel_id: int
    message_id: int | None = None


def check_may_correct(answer: Answer, actor: Actor) -> None:
    """Only someone who already saw an answer may open it for correcting (the form shows its question and text).

    Its asker always may. Anyone else only for a public answer, where it was posted: through the button on its
    message, or in the channel it was given in. Private and DM answers were seen by their asker alone. A refusal
    never quotes the answer.
    """
    if answer.user_id == actor.user_id:
        return
    if answer.seen_only_by_asker:
        raise NotAllowed(
            _("Answer #{id} was private to the person who asked, so only they can correct it.", id=answer.id)
        )
    on_its_message = actor.message_id is not None and actor.message_id in answer.message_ids
    if answer.guild_id != actor.guild_id or not (on_its_message or actor.channel_id == answer.channel_id):
        raise NotAllowed(
            _(
                "Answer #{id} was not posted here. Use the Correct button on its message, or `/correct` in its "
                "channel.",
                id=answer.id,
            )
        )


def review_guild(answer: Answer, dm_review_guild: int | None) -> int:
    """Whose reviewers see a correction of `answer`: its server's, or for a DM answer the configured DM queue."""
    if answer.guild_id is not None:
        return answer.guild_id
    if dm_review_guild is None:
        raise NotAllowed(_("Corrections of answers given in DMs are not collected by this bot."))
    return dm_review_guild


def check_text(corrected: str, note: str | None, original: str) -> tuple[str, str | None]:
    corrected = corrected.strip()
    note = (note or "").strip() or None
    if not corrected:
        raise InvalidInput(_("The corrected answer is empty: write what the bot should have said."))
    if len(corrected) > MAX_CORRECTION_CHARS:
        raise InvalidInput(
            _(
                "The corrected answer is {count} characters; the limit is {limit}.",
                count=f"{len(corrected):,}",
                limit=f"{MAX_CORRECTION_CHARS:,}",
            )
        )
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(
            _(
                "The note is {count} characters; the limit is {limit}.",
                count=f"{len(note):,}",
                limit=f"{MAX_NOTE_CHARS:,}",
            )
        )
    if normalise(corrected) == normalise(original):
        raise InvalidInput(_("The corrected answer is the same as the bot's answer: change what was wrong."))
    return corrected, note


class CorrectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def submit(
        self,
        answer: Answer,
        author_id: int,
        corrected_answer: str,
        note: str | None = None,
        *,
        corrected_transcript: str | None = None,
        guild_id: int | None = None,
    ) -> SubmitResult:
        """Store a pending correction; the same author's pending correction of the same answer is updated instead.

        One statement (an upsert on the partial unique index), so two submissions at once cannot make two rows.
        `guild_id` is the review queue (default: the answer's guild)."""
        corrected, note = check_text(corrected_answer, note, answer.answer)
        if corrected_transcript is not None:
            corrected_transcript = corrected_transcript.strip() or None
            if corrected_transcript and len(corrected_transcript) > MAX_CORRECTION_CHARS:
                raise InvalidInput(
                    _(
                        "The transcript is longer than {limit} characters.",
                        limit=f"{MAX_CORRECTION_CHARS:,}",
                    )
                )
        now = utcnow()
        values = {
            "corrected_answer": corrected,
            "note": note,
            "corrected_transcript": corrected_transcript,
            "search_terms": index_text(corrected_transcript or answer.question),
            "updated_at": now,
        }
        row = {
            "answer_id": answer.id,
            "guild_id": answer.guild_id if guild_id is None else guild_id,
            "channel_id": answer.channel_id,
            "author_id": author_id,
            "asker_id": answer.user_id,
            "private": answer.seen_only_by_asker,
            "question": answer.question,
            "original_answer": answer.answer,
            "transcript": answer.transcript,
            "model": answer.model,
            "system_prompt": answer.system_prompt,
            "images": [attrs.asdict(i) for i in answer.images] or None,
            "status": "pending",
            "created_at": now,
            **values,
        }
        dialect = postgresql if self._db.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(corrections).values(**row)
        upsert = insert.on_conflict_do_update(
            index_elements=[corrections.c.answer_id, corrections.c.author_id],
            index_where=sa.text("status = 'pending'"),  # literally the index's predicate, as PostgreSQL needs
            set_=values,
        ).returning(*_SHOWN)
        async with self._db.engine.begin() as conn:
            saved = _correction((await conn.execute(upsert)).one())
        # A new row was created and updated at the same instant; an updated one keeps its creation time.
        return SubmitResult(saved, updated=saved.created_at != saved.updated_at)

    async def get(self, correction_id: int) -> Correction | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(*_SHOWN).where(corrections.c.id == correction_id))).first()
        return None if row is None else _correction(row)

    async def next_pending(self, guild_id: int | None) -> Correction | None:
        """The review queue's head: the pending correction whose answer members voted 👎 most, oldest first."""
        down = (
            sa.select(sa.func.count())
            .where(answer_votes.c.answer_id == corrections.c.answer_id, answer_votes.c.vote == "down")
            .scalar_subquery()
        )
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    sa.select(*_SHOWN)
                    .where(corrections.c.guild_id == guild_id, corrections.c.status == "pending")
                    .order_by(down.desc(), corrections.c.id)
                    .limit(1)
                )
            ).first()
        return None if row is None else _correction(row)

    async def review(
        self, correction_id: int, reviewer_id: int, status: Status, *, corrected_answer: str | None = None
    ) -> Correction:
        """Approve or reject a pending correction; an edited text is checked like a submission."""
        async with self._db.engine.begin() as conn:
            row = (
                await conn.execute(sa.select(*_SHOWN).where(corrections.c.id == correction_id).with_for_update())
            ).first()
            if row is None:
                raise NotFound(_("Correction #{correction_id} does not exist.", correction_id=correction_id))
            current = _correction(row)
            if current.status != "pending":
                raise InvalidInput(
                    _(
                        "Correction #{correction_id} was already {status} by <@{reviewer_id}>.",
                        correction_id=correction_id,
                        status=_(current.status),
                        reviewer_id=current.reviewer_id,
                    )
                )
            values: dict[str, Any] = {"status": status, "reviewer_id": reviewer_id, "reviewed_at": utcnow()}
            if corrected_answer is not None:
                values["corrected_answer"], _note = check_text(corrected_answer, None, current.original_answer)
            values["updated_at"] = values["reviewed_at"]
            result = await conn.execute(
                sa.update(corrections)
                .where(corrections.c.id == correction_id, corrections.c.status == "pending")
                .values(**values)
                .returning(*_SHOWN)
            )
            updated = result.first()
            if updated is None:  # reviewed by someone else in the meantime
                raise InvalidInput(
                    _("Correction #{correction_id} was just reviewed by someone else.", correction_id=correction_id)
                )
            return _correction(updated)

    async def list(
        self,
        guild_id: int | None,
        *,
        status: Status | str | None = None,
        author_id: int | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> Page:
        where = [corrections.c.guild_id == guild_id]
        if status is not None:
            where.append(corrections.c.status == status)
        if author_id is not None:
            where.append(corrections.c.author_id == author_id)
        async with self._db.reading() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(corrections).where(*where))).scalar_one()
            rows = (
                await conn.execute(
                    sa.select(*_SHOWN).where(*where).order_by(corrections.c.id.desc()).offset(offset).limit(limit)
                )
            ).all()
        return Page([_correction(r) for r in rows], int(total))

    async def stats(self, guild_id: int | None) -> CorrectionStats:
        async with self._db.reading() as conn:
            by_status = {
                str(r.status): int(r.n)
                for r in await conn.execute(
                    sa.select(corrections.c.status, sa.func.count().label("n"))
                    .where(corrections.c.guild_id == guild_id)
                    .group_by(corrections.c.status)
                )
            }
            approved = sa.func.sum(sa.case((corrections.c.status == "approved", 1), else_=0))
            authors = [
                Contributor(int(r.author_id), int(r.total), int(r.approved or 0))
                for r in await conn.execute(
                    sa.select(corrections.c.author_id, sa.func.count().label("total"), approved.label("approved"))
                    # An endorsement is the voters' work, not the admin's who queued it.
                    .where(corrections.c.guild_id == guild_id, corrections.c.kind == "correction")
                    .group_by(corrections.c.author_id)
                    .order_by(sa.desc("total"), corrections.c.author_id)
                )
            ]
        return CorrectionStats(by_status, authors)

    async def with_status(self, guild_id: int | None, status: Status | str = "approved") -> list[Correction]:
        """Every correction with `status` in the guild, oldest first (the order training data is written in)."""
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(*_SHOWN)
                    .where(corrections.c.guild_id == guild_id, corrections.c.status == status)
                    .order_by(corrections.c.id)
                )
            ).all()
        return [_correction(r) for r in rows]
