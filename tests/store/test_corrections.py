from __future__ import annotations

import asyncio

import pytest

from bot.errors import InvalidInput
from bot.store.answers import AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.database import Database
from tests.store.conftest import stored_answer


async def test_review_approves_once_and_a_second_review_is_refused(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await stored_answer(db)
    saved = (await store.submit(answer, 7, "Canberra.")).correction
    approved = await store.review(saved.id, 99, "approved")
    assert approved.status == "approved" and approved.reviewer_id == 99
    with pytest.raises(InvalidInput, match="already approved"):
        await store.review(saved.id, 98, "rejected")
    assert await store.next_pending(5) is None


async def test_edit_then_approve_checks_the_new_text(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await stored_answer(db)
    saved = (await store.submit(answer, 7, "Canberra")).correction
    with pytest.raises(InvalidInput, match="same as the bot's answer"):
        await store.review(saved.id, 99, "approved", corrected_answer="Sydney.")
    edited = await store.review(saved.id, 99, "approved", corrected_answer="Canberra is the capital.")
    assert edited.corrected_answer == "Canberra is the capital."


async def test_list_pages_and_filters_and_stats_count_by_author(db: Database) -> None:
    store = CorrectionStore(db)
    for i in range(12):
        answer = await stored_answer(db, f"question {i}")
        await store.submit(answer, author_id=100 + i % 2, corrected_answer=f"fixed {i}")
    first = await store.list(5, offset=0, limit=10)
    assert first.total == 12 and len(first.items) == 10
    assert first.items[0].question == "question 11"  # newest first
    by_author = await store.list(5, author_id=101)
    assert by_author.total == 6
    pending = await store.next_pending(5)
    assert pending is not None
    await store.review(pending.id, 1, "approved")
    stats = await store.stats(5)
    assert stats.by_status == {"pending": 11, "approved": 1}
    assert [(a.author_id, a.total, a.approved) for a in stats.by_author] == [(100, 6, 1), (101, 6, 0)]
    assert [c.question for c in await store.with_status(5, "approved")] == ["question 0"]


async def test_two_submissions_at_once_make_one_pending_correction(db: Database) -> None:
    other = Database(db.url)  # a second connection pool, as a second process would have
    await other.open()
    try:
        stores = [CorrectionStore(db), CorrectionStore(other)]
        answers = [await stored_answer(db, f"question {i}") for i in range(15)]
        results = await asyncio.gather(
            *(stores[i % 2].submit(a, 7, f"Canberra, take {i}.") for a in answers for i in range(4))
        )
    finally:
        await other.close()
    store = stores[0]
    page = await store.list(5, limit=100)
    assert page.total == len(answers)
    assert sorted(r.updated for r in results) == [False] * len(answers) + [True] * 3 * len(answers)
    answer = answers[0]
    # Once reviewed, the same author may propose again: a new pending row beside the approved one.
    first = next(c for c in page.items if c.answer_id == answer.id)
    await store.review(first.id, 99, "approved")
    again = await store.submit(answer, 7, "Canberra (ACT).")
    assert not again.updated and (await store.list(5)).total == len(answers) + 1


async def test_a_correction_remembers_who_asked_and_whether_the_answer_was_private(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await AnswerStore(db).add(
        NewAnswer(
            guild_id=None,
            channel_id=3,
            user_id=1,
            conversation_id="c",
            source="message",
            model="m",
            question="my secret",
            answer="Sydney.",
        )
    )
    saved = (await store.submit(answer, 1, "Canberra.", guild_id=5)).correction
    assert (saved.asker_id, saved.private, saved.guild_id) == (1, True, 5)
