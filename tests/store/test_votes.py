"""Votes on answers, on SQLite and PostgreSQL: one changeable vote per member, counts, queue order, endorsements."""

from __future__ import annotations

import asyncio

from bot.store.answers import Answer, AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from bot.store.votes import Tally, VoteStore

GUILD = 10


async def _answer(db: Database, question: str, *, guild: int | None = GUILD, private: bool = False) -> Answer:
    new = NewAnswer(guild, 20, 1, "c1", "slash", "gpt-x", question, f"Answer to {question}", private=private)
    return await AnswerStore(db).add(new, message_ids=[1000 + len(question)])


async def test_a_member_has_one_vote_per_answer_and_may_change_it(db: Database) -> None:
    votes = VoteStore(db)
    answer = await _answer(db, "Is the sky blue?")
    assert await votes.vote(answer, 1, "up") == Tally(1, 0, "up")
    # Two taps at once keep one row.
    await asyncio.gather(votes.vote(answer, 2, "up"), votes.vote(answer, 2, "up"))
    assert await votes.vote(answer, 2, "down") == Tally(1, 1, "down")
    other_guild = await _answer(db, "Elsewhere?", guild=11)
    await votes.vote(other_guild, 3, "up")
    stats = await votes.stats(GUILD)
    assert (stats.up, stats.down, stats.answers) == (1, 1, 1)


async def test_the_review_queue_puts_the_most_down_voted_answer_first(db: Database) -> None:
    votes, corrections = VoteStore(db), CorrectionStore(db)
    older = await _answer(db, "Older question?")
    newer = await _answer(db, "Newer question, more wrong?")
    await corrections.submit(older, 5, "Fixed")
    await corrections.submit(newer, 5, "Fixed too")
    head = await corrections.next_pending(GUILD)
    assert head is not None and head.answer_id == older.id
    await votes.vote(newer, 6, "down")
    head = await corrections.next_pending(GUILD)
    assert head is not None and head.answer_id == newer.id


async def test_only_public_well_voted_uncorrected_answers_are_endorsed_once(db: Database) -> None:
    votes, corrections = VoteStore(db), CorrectionStore(db)
    good = await _answer(db, "Good?")
    disputed = await _answer(db, "Disputed?")
    corrected = await _answer(db, "Corrected?")
    private = await _answer(db, "Private?", private=True)
    elsewhere = await _answer(db, "Other guild?", guild=11)
    for voter in (1, 2):
        for answer in (good, disputed, corrected, private, elsewhere):
            await votes.vote(answer, voter, "up")
    for voter in (3, 4):
        await votes.vote(disputed, voter, "down")
    await corrections.submit(corrected, 9, "A fix")

    endorsed = await votes.endorse(GUILD, 2, queued_by=99)
    assert len(endorsed.correction_ids) == 1
    made = await corrections.get(endorsed.correction_ids[0])
    assert made is not None and made.kind == "endorsement" and made.status == "pending"
    assert made.answer_id == good.id and made.corrected_answer == good.answer and made.note == "👍 2 · 👎 0"
    assert (await votes.endorse(GUILD, 2, queued_by=99)).correction_ids == []
    # The admin who queued it is not counted as a contributor.
    assert [a.author_id for a in (await corrections.stats(GUILD)).by_author] == [9]
