"""Model tests: a server's uploaded test questions, each run of /model test, and each question's answers and scores.

An admin's test is started by `reserve`, which in one transaction (one at a time per server, across processes: a
PostgreSQL advisory lock, or SQLite's write lock) refuses it while another admin test of the server runs, or when its
worst-case model calls do not fit in what the server's budget has left, and otherwise records it with those calls
reserved. `finish` replaces the reservation by the calls made. Admin tests are those without a training job; the test
of a finished job is part of that job (whose cost was confirmed) and is neither limited nor counted here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.database import Database
from bot.store.records import as_utc, from_row, utcnow
from bot.store.schema import model_test_items, model_tests, test_questions

TestStatus = Literal["running", "done", "failed"]
SIDES = ("model", "against")
# First key of pg_advisory_xact_lock(int, int): this lock's own family ("teachbot model tests"); the second is the
# server (folded into 31 bits: two servers sharing a key only take turns).
_LOCK_FAMILY = 0x7EAC_7E57


@attrs.frozen
class EvalQuestion:
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
class EvalItem:
    position: int
    question: EvalQuestion
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
    calls: int = 0  # reserved while it runs, then made
    channel_id: int | None = None
    message_id: int | None = None


@attrs.frozen
class BudgetUse:
    """What a server's admin tests counted within the budget's window, and when the oldest of them leaves it."""

    used: int
    window_starts: dt.datetime
    # (when each counted test leaves the window, its calls), oldest first.
    leaving: tuple[tuple[dt.datetime, int], ...] = ()

    def frees_enough_at(self, needed: int, budget: int) -> dt.datetime | None:
        """When `needed` calls fit again (None: they already do, or never will: more than the whole budget)."""
        if needed > budget or self.used + needed <= budget:
            return None
        used = self.used
        for at, calls in self.leaving:
            used -= calls
            if used + needed <= budget:
                return at
        return None


@attrs.frozen
class Reservation:
    """`reserve`'s answer: the test, started (and the budget's use before it); or the admin test already running; or
    the budget's use, too high for it (no test)."""

    test: ModelTest | None = None
    running: ModelTest | None = None
    budget: BudgetUse | None = None


def _item(row: Any) -> EvalItem:
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
    return EvalItem(int(row.position), EvalQuestion(row.question, row.expected, row.correction_id), *sides)


class ModelTestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def replace_questions(self, guild_id: int, questions: Sequence[EvalQuestion], by_user: int) -> None:
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

    async def uploaded_questions(self, guild_id: int) -> list[EvalQuestion]:
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(test_questions.c.question, test_questions.c.answer)
                    .where(test_questions.c.guild_id == guild_id)
                    .order_by(test_questions.c.id)
                )
            ).all()
        return [EvalQuestion(r.question, r.answer) for r in rows]

    async def start(self, new: NewModelTest) -> ModelTest:
        values = attrs.asdict(new) | {"status": "running", "created_at": utcnow()}
        async with self._db.engine.begin() as conn:
            row = (await conn.execute(sa.insert(model_tests).values(**values).returning(*model_tests.c))).one()
        return from_row(ModelTest, row)

    async def reserve(
        self,
        new: NewModelTest,
        *,
        calls: int,
        budget: int,
        window: dt.timedelta,
        stale_after: dt.timedelta,
    ) -> Reservation:
        """Start an admin's test with `calls` reserved, unless another admin test of the server runs or the calls do
        not fit in `budget` per `window`. A running test older than `stale_after` is one whose process died: it is
        marked failed (its reservation stays counted) and no longer blocks the server."""
        now = utcnow()
        admin_tests = sa.and_(model_tests.c.guild_id == new.guild_id, model_tests.c.job_id.is_(None))
        async with self._db.engine.begin() as conn:
            await self._lock(conn, new.guild_id)
            await conn.execute(
                sa.update(model_tests)
                .where(admin_tests, model_tests.c.status == "running", model_tests.c.created_at < now - stale_after)
                .values(status="failed", error="the bot stopped during the test", finished_at=now)
            )
            running = (
                await conn.execute(
                    sa.select(model_tests)
                    .where(admin_tests, model_tests.c.status == "running")
                    .order_by(model_tests.c.id)
                    .limit(1)
                )
            ).first()
            if running is not None:
                return Reservation(running=from_row(ModelTest, running))
            use = await self._budget_use(conn, new.guild_id, now, window)
            if use.used + calls > budget:
                return Reservation(budget=use)
            values = attrs.asdict(new) | {"status": "running", "created_at": now, "calls": calls}
            row = (await conn.execute(sa.insert(model_tests).values(**values).returning(*model_tests.c))).one()
        return Reservation(test=from_row(ModelTest, row), budget=use)

    async def budget_use(self, guild_id: int, window: dt.timedelta) -> BudgetUse:
        async with self._db.reading() as conn:
            return await self._budget_use(conn, guild_id, utcnow(), window)

    async def _budget_use(
        self, conn: AsyncConnection, guild_id: int, now: dt.datetime, window: dt.timedelta
    ) -> BudgetUse:
        since = now - window
        rows = (
            await conn.execute(
                sa.select(model_tests.c.created_at, model_tests.c.calls)
                .where(
                    model_tests.c.guild_id == guild_id,
                    model_tests.c.job_id.is_(None),
                    model_tests.c.created_at >= since,
                    model_tests.c.calls > 0,
                )
                .order_by(model_tests.c.created_at)
            )
        ).all()
        leaving = tuple((as_utc(r.created_at) + window, int(r.calls)) for r in rows)
        return BudgetUse(sum(c for _, c in leaving), since, leaving)

    async def _lock(self, conn: AsyncConnection, guild_id: int) -> None:
        """Until the transaction ends, nobody else reserves a test in this server (another process included)."""
        if conn.dialect.name == "postgresql":
            key = {"family": _LOCK_FAMILY, "guild": guild_id % 2**31}
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:family, :guild)"), key)
        else:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock, now: one process at a time

    async def show_in(self, test_id: int, channel_id: int, message_id: int) -> None:
        """The message showing the test (a second /model test links to it)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(
                sa.update(model_tests)
                .where(model_tests.c.id == test_id)
                .values(channel_id=channel_id, message_id=message_id)
            )

    async def restart(self, test_id: int, total: int) -> None:
        """A test left running by a stopped bot starts over (its graded items are dropped)."""
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.delete(model_test_items).where(model_test_items.c.test_id == test_id))
            await conn.execute(
                sa.update(model_tests)
                .where(model_tests.c.id == test_id)
                .values(status="running", error=None, total=total, finished_at=None)
            )

    async def add_item(self, test_id: int, item: EvalItem) -> None:
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

    async def finish(
        self, test_id: int, status: TestStatus, error: str | None = None, *, calls: int | None = None
    ) -> None:
        """Ends the test; `calls`: the model calls it made, replacing its reservation."""
        values: dict[str, Any] = {"status": status, "error": error, "finished_at": utcnow()}
        if calls is not None:
            values["calls"] = calls
        async with self._db.engine.begin() as conn:
            await conn.execute(sa.update(model_tests).where(model_tests.c.id == test_id).values(**values))

    async def get(self, test_id: int) -> ModelTest | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(model_tests).where(model_tests.c.id == test_id))).first()
        return None if row is None else from_row(ModelTest, row)

    async def for_job(self, job_id: int) -> ModelTest | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(model_tests).where(model_tests.c.job_id == job_id))).first()
        return None if row is None else from_row(ModelTest, row)

    async def items(self, test_id: int, *, offset: int = 0, limit: int | None = None) -> list[EvalItem]:
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
