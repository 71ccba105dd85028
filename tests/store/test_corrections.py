from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from bot.store.answers import Answer, AnswerStore, NewAnswer
from bot.store.corrections import CorrectionStore
from bot.store.database import Database


async def _answer(db: Database, question: str = "Capital of Australia?", user: int = 1) -> Answer:
    return await AnswerStore(db).add(
        NewAnswer(
            guild_id=5,
            channel_id=10,
            user_id=user,
            conversation_id="c",
            source="slash",
            model="m",
            question=question,
            answer="Sydney.",
        )
    )


async def test_review_approves_once_and_a_second_review_is_refused(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await _answer(db)
    saved = (await store.submit(answer, 7, "Canberra.")).correction
    approved = await store.review(saved.id, 99, "approved")
    assert approved.status == "approved" and approved.reviewer_id == 99
    with pytest.raises(InvalidInput, match="already approved"):
        await store.review(saved.id, 98, "rejected")
    assert await store.next_pending(5) is None


async def test_edit_then_approve_checks_the_new_text(db: Database) -> None:
    store = CorrectionStore(db)
    answer = await _answer(db)
    saved = (await store.submit(answer, 7, "Canberra")).correction
    with pytest.raises(InvalidInput, match="same as the bot's answer"):
        await store.review(saved.id, 99, "approved", corrected_answer="Sydney.")
    edited = await store.review(saved.id, 99, "approved", corrected_answer="Canberra is the capital.")
    assert edited.corrected_answer == "Canberra is the capital."


async def test_list_pages_and_filters_and_stats_count_by_author(db: Database) -> None:
    store = CorrectionStore(db)
    for i in range(12):
        answer = await _answer(db, f"question {i}")
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
