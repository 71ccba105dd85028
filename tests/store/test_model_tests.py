"""/model test's per-server budget and one-test-at-a-time rule, kept in the database: two bot processes on one database
(two Database objects on one SQLite file or PostgreSQL database) start at most one test per server at a time, and
count each other's calls against the server's budget."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.store.database import Database
from bot.store.model_tests import ModelTestStore, NewModelTest

GUILD, OTHER_GUILD = 10, 11
WINDOW = dt.timedelta(hours=24)
LONG_AGO = dt.timedelta(hours=1)  # no test here has run this long


def admin_test(guild_id: int = GUILD, total: int = 3) -> NewModelTest:
    return NewModelTest(guild_id, "good-model", "bad-model", False, "judge", "upload", total, requested_by=7)


@pytest.fixture
async def other_process(db: Database) -> AsyncIterator[ModelTestStore]:
    """A second process's store on the same database."""
    second = Database(db.url)
    await second.open()
    yield ModelTestStore(second)
    await second.close()


async def test_two_processes_starting_a_test_in_one_server_at_once_start_one(
    db: Database, other_process: ModelTestStore
) -> None:
    here = ModelTestStore(db)
    reservations = await asyncio.gather(
        *(
            store.reserve(admin_test(), calls=12, budget=100, window=WINDOW, stale_after=LONG_AGO)
            for store in (here, other_process, here, other_process)
        )
    )
    started = [r.test for r in reservations if r.test is not None]
    assert len(started) == 1
    assert all(r.running == started[0] for r in reservations if r.test is None)
    elsewhere = await here.reserve(admin_test(OTHER_GUILD), calls=12, budget=100, window=WINDOW, stale_after=LONG_AGO)
    assert elsewhere.test is not None  # another server is not held up


async def test_every_process_counts_against_one_budget_and_a_finished_test_counts_the_calls_it_made(
    db: Database, other_process: ModelTestStore
) -> None:
    here = ModelTestStore(db)
    first = (await here.reserve(admin_test(), calls=12, budget=20, window=WINDOW, stale_after=LONG_AGO)).test
    assert first is not None and first.calls == 12
    assert (await other_process.budget_use(GUILD, WINDOW)).used == 12  # reserved while it runs
    await here.finish(first.id, "done", calls=5)  # some answers failed: they were never graded

    second = await other_process.reserve(admin_test(), calls=12, budget=20, window=WINDOW, stale_after=LONG_AGO)
    assert second.test is not None and second.budget is not None and second.budget.used == 5
    await other_process.finish(second.test.id, "done", calls=12)

    refused = await here.reserve(admin_test(), calls=12, budget=20, window=WINDOW, stale_after=LONG_AGO)
    assert refused.test is None and refused.running is None and refused.budget is not None
    assert refused.budget.used == 17
    # 12 fit again once the first test (5 calls) leaves the window: 12 + 12 > 20, so only when the second leaves too.
    assert refused.budget.frees_enough_at(12, 20) == second.test.created_at + WINDOW
    assert refused.budget.frees_enough_at(3, 20) is None  # fits now
    assert refused.budget.frees_enough_at(21, 20) is None  # never: more than the whole budget
    assert (await here.budget_use(GUILD, dt.timedelta(0))).used == 0  # a window that has passed counts nothing


async def test_a_test_left_running_by_a_stopped_process_stops_blocking_the_server_but_stays_counted(
    db: Database, other_process: ModelTestStore
) -> None:
    here = ModelTestStore(db)
    left = (await here.reserve(admin_test(), calls=12, budget=100, window=WINDOW, stale_after=LONG_AGO)).test
    assert left is not None  # its process dies: it is never finished
    blocked = await other_process.reserve(admin_test(), calls=12, budget=100, window=WINDOW, stale_after=LONG_AGO)
    assert blocked.running is not None and blocked.running.id == left.id

    later = await other_process.reserve(admin_test(), calls=12, budget=100, window=WINDOW, stale_after=dt.timedelta(0))
    assert later.test is not None and later.budget is not None and later.budget.used == 12
    abandoned = await here.get(left.id)
    assert abandoned is not None and abandoned.status == "failed" and abandoned.calls == 12
