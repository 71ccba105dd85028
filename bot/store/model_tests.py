"""Model tests: a server's uploaded test questions, each run of /model test, and each question's answers and scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import sqlalchemy as sa

from bot.store.database import Database
from bot.store.records import from_row, utcnow
from bot.store.schema import model_test_items, model_tests, test_questions

TestStatus = Literal["running", "done", "failed"]
SIDES = ("model", "against")


@attrs.frozen
class TestQuestion:
    __test__ = False  # a product word, not a pytest class

    question: str
    expected: str  # the community's corrected answer (or the uploaded test set's answer)
    correction_id: int | None = None


@attrs.frozen
class Side:
    """One model's answer to a test question and how it was graded (score None: ungraded)."""

    answer: str | None = None
    score: int | None = None
    verdict: str | None = None
    reason: str | None = None
    similarity: float | None = None


@attrs.frozen
class TestItem:
    __test__ = False  # a product word, not a pytest class

    position: int
    question: TestQuestion
    model: Side
    against: Side


@attrs.frozen
class NewModelTest:
    guild_id: int
    model: str
    against: str
    with_corrections: bool
    judge_model: str
    source: str  # corrections | upload
    total: int
    job_id: int | None = None
    requested_by: int | None = None


@attrs.frozen
class ModelTest(NewModelTest):
    id: int = 0
    status: TestStatus = "running"
    error: str | None = None
    created_at: dt.datetime = attrs.field(factory=utcnow)
    finished_at: dt.datetime | None = None


def _item(row: Any) -> TestItem:
    sides = [
        Side(
            row._mapping[f"{side}_answer"],
            row._mapping[f"{side}_score"],
            row._mapping[f"{side}_verdict"],
            row._mapping[f"{side}_reason"],
            row._mapping[f"{side}_similarity"],
        )
        for side in SIDES
    ]
    return TestItem(int(row.position), TestQuestion(row.question, row.expected, row.correction_id), *sides)


class ModelTestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def replace_questions(self, guild_id: int, questions: Sequence[TestQuestion], by_user: int) -> None:
        """The server's uploaded test set becomes `questions` (an empty list removes it)."""
        now = utcnow()
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(test_questions).where(test_questions.c.guild_id == guild_id))
            if questions:
                await conn.execute(
                    sa.insert(test_questions),
                    [
                        {
                            "guild_id": guild_id,
                            "question": q.question,
                            "answer": q.expected,
                            "uploaded_by": by_user,
                            "created_at": now,
                        }
                        for q in questions
                    ],
                )

    async def uploaded_questions(self, guild_id: int) -> list[TestQuestion]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(test_questions.c.question, test_questions.c.answer)
                    .where(test_questions.c.guild_id == guild_id)
                    .order_by(test_questions.c.id)
                )
            ).all()
        return [TestQuestion(r.question, r.answer) for r in rows]

    async def start(self, new: NewModelTest) -> ModelTest:
        values = attrs.asdict(new) | {"status": "running", "created_at": utcnow()}
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(sa.insert(model_tests).values(**values).returning(*model_tests.c))).one()
        return from_row(ModelTest, row)

    async def restart(self, test_id: int, total: int) -> None:
        """A test left running by a stopped bot starts over (its graded items are dropped)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(model_test_items).where(model_test_items.c.test_id == test_id))
            await conn.execute(
                sa.update(model_tests)
                .where(model_tests.c.id == test_id)
                .values(status="running", error=None, total=total, finished_at=None)
            )

    async def add_item(self, test_id: int, item: TestItem) -> None:
        values: dict[str, Any] = {
            "test_id": test_id,
            "position": item.position,
            "correction_id": item.question.correction_id,
            "question": item.question.question,
            "expected": item.question.expected,
        }
        for name, side in zip(SIDES, (item.model, item.against), strict=True):
            values |= {f"{name}_{k}": v for k, v in attrs.asdict(side).items()}
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.insert(model_test_items).values(**values))

    async def finish(self, test_id: int, status: TestStatus, error: str | None = None) -> None:
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(model_tests)
                .where(model_tests.c.id == test_id)
                .values(status=status, error=error, finished_at=utcnow())
            )

    async def get(self, test_id: int) -> ModelTest | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(model_tests).where(model_tests.c.id == test_id))).first()
        return None if row is None else from_row(ModelTest, row)

    async def for_job(self, job_id: int) -> ModelTest | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(model_tests).where(model_tests.c.job_id == job_id))).first()
        return None if row is None else from_row(ModelTest, row)

    async def items(self, test_id: int, *, offset: int = 0, limit: int | None = None) -> list[TestItem]:
        query = (
            sa.select(model_test_items)
            .where(model_test_items.c.test_id == test_id)
            .order_by(model_test_items.c.position)
            .offset(offset)
            .limit(limit)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [_item(r) for r in rows]
