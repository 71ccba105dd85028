"""Several bot processes on one database (issue 16): each job is followed by one process at a time, its end is
announced once even when two processes see it end together, a dead process's jobs are taken over when its lease runs
out, and a clean stop hands them over at once.

Each process is a Database (its own engine and connection pool) and a JobWatcher with its own identity, on one SQLite
file or one PostgreSQL database; the training service is one fake both processes ask."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from bot.finetuning.watcher import JobWatcher
from bot.store.database import Database
from bot.store.jobs import JobStore, TrainingJob
from bot.store.requests import JobRequest, JobRequestStore, NewJobRequest
from bot.store.schema import metadata
from tests.finetuning.test_watcher import Clock, FakeTrainer, Notices, add_job
from tests.store.conftest import BACKENDS

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LEASE_S = 60.0


class WallClock:
    """The time every process reads (their hosts' clocks agree), moved on by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@attrs.define
class Process:
    """One bot process: its own connection pool to the shared database, and its watcher."""

    name: str
    db: Database
    jobs: JobStore
    requests: JobRequestStore
    watcher: JobWatcher
    notices: Notices
    told: list[int]


@pytest.fixture(params=BACKENDS)
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/shared.sqlite3"
        return
    database = Database(os.environ["TEST_DATABASE_URL"])
    await database.open()
    async with database.engine.begin() as conn:  # start from empty tables
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await database.close()
    yield os.environ["TEST_DATABASE_URL"]


@pytest.fixture
def trainer() -> FakeTrainer:
    return FakeTrainer()


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
async def processes(url: str, trainer: FakeTrainer, wall: WallClock) -> AsyncIterator[list[Process]]:
    made: list[Process] = []
    for name in ("bot-a", "bot-b"):
        db = Database(url)
        await db.open()
        jobs = JobStore(db)
        requests = JobRequestStore(db, jobs)
        notices = Notices()
        told: list[int] = []

        async def notify_request(request: JobRequest, job: TrainingJob | None, told: list[int] = told) -> None:
            told.append(request.id)

        watcher = JobWatcher(
            trainer,  # type: ignore[arg-type]
            jobs,
            notices,
            interval_s=10,
            max_backoff_s=60,
            requests=requests,
            notify_request=notify_request,
            start_grace_s=0,
            clock=Clock(),
            lease_s=LEASE_S,
            identity=name,
            wall_clock=wall,
        )
        made.append(Process(name, db, jobs, requests, watcher, notices, told))
    yield made
    for process in made:
        await process.db.close()  # a process "killed" by a test has closed already: closing again does nothing


def announced(processes: list[Process]) -> list[tuple[str, int]]:
    return sorted((p.name, job.id) for p in processes for job in p.notices.sent)


async def test_two_processes_seeing_jobs_end_together_poll_each_once_and_announce_each_once(
    processes: list[Process], trainer: FakeTrainer
) -> None:
    a, b = processes
    jobs = [await add_job(a.jobs, f"ftjob-{n}") for n in range(4)]
    for job in jobs:
        trainer.set(job.remote_id, "succeeded", f"ft:{job.remote_id}")
    await asyncio.gather(a.watcher.run_once(), b.watcher.run_once())
    await asyncio.gather(a.watcher.run_once(), b.watcher.run_once())  # and again: nothing is announced twice
    notices = announced(processes)
    assert sorted(job_id for _, job_id in notices) == [job.id for job in jobs]  # each job once, by one process
    assert sorted(trainer.polled) == sorted(job.remote_id for job in jobs)  # each polled once: then it had ended
    assert await a.jobs.unnotified_finished() == []


async def test_a_notice_being_posted_by_one_process_is_left_alone_by_the_other(
    processes: list[Process], trainer: FakeTrainer
) -> None:
    a, b = processes
    job = await add_job(a.jobs)
    trainer.set(job.remote_id, "failed")
    posting, go_on = asyncio.Event(), asyncio.Event()
    sent: list[int] = []

    async def slow_post(ended: TrainingJob) -> None:  # Discord is slow to answer process A
        posting.set()
        await go_on.wait()
        sent.append(ended.id)

    a.watcher._notify = slow_post  # pyright: ignore[reportPrivateUsage]
    first = asyncio.create_task(a.watcher.run_once())
    await asyncio.wait_for(posting.wait(), 10)
    await b.watcher.run_once()  # a whole round of B while A is posting: the job (still owed its notice) is A's
    go_on.set()
    await asyncio.wait_for(first, 10)
    await b.watcher.run_once()
    assert sent == [job.id] and b.notices.sent == []
    assert trainer.polled == [job.remote_id]


async def test_of_processes_racing_to_post_one_notice_exactly_one_may(processes: list[Process]) -> None:
    a, b = processes
    job = await add_job(a.jobs)
    ended = FakeTrainer()
    ended.set(job.remote_id, "failed")
    await a.jobs.update_from_remote(job.id, ended.jobs[job.remote_id])
    lease = dt.timedelta(seconds=LEASE_S)
    tries = [p.jobs.claim_notice(job.id, p.name, now=T0, lease=lease) for p in processes for _ in range(5)]
    won = await asyncio.gather(*tries)
    assert won.count(True) == 5 and (won[:5] == [True] * 5 or won[5:] == [True] * 5)  # one process, renewing
    await b.jobs.mark_notified(job.id)
    assert not await a.jobs.claim_notice(job.id, a.name, now=T0, lease=lease)  # posted: nobody may post it again


async def test_a_dead_process_s_job_is_taken_over_once_its_lease_runs_out_and_announced_once(
    processes: list[Process], trainer: FakeTrainer, wall: WallClock
) -> None:
    dead, alive = processes
    job = await add_job(dead.jobs)
    trainer.set(job.remote_id, "running")
    await dead.watcher.run_once()  # the job is followed by the process about to die
    assert trainer.polled == [job.remote_id]
    await dead.db.close()  # killed: no stop, so its claim stays until the lease runs out
    trainer.set(job.remote_id, "succeeded", "ft:m")

    wall.advance(LEASE_S - 1)
    await alive.watcher.run_once()
    assert trainer.polled == [job.remote_id] and alive.notices.sent == []  # not yet: the lease still runs
    wall.advance(2)
    await alive.watcher.run_once()
    await alive.watcher.run_once()
    assert trainer.polled == [job.remote_id] * 2
    assert [(n.id, n.status, n.fine_tuned_model) for n in alive.notices.sent] == [(job.id, "succeeded", "ft:m")]
    taken = await alive.jobs.get(job.id)
    assert taken is not None and taken.claimed_by == alive.name and taken.notified_at is not None


async def test_a_clean_stop_hands_the_jobs_over_at_once(processes: list[Process], trainer: FakeTrainer) -> None:
    a, b = processes
    job = await add_job(a.jobs)
    trainer.set(job.remote_id, "running")
    await a.watcher.run_once()  # the job is A's
    await b.watcher.run_once()
    assert trainer.polled.count(job.remote_id) == 1
    await a.watcher.stop()
    released = await b.jobs.get(job.id)
    assert released is not None and released.claimed_by is None and released.lease_until is None
    trainer.set(job.remote_id, "cancelled")
    await b.watcher.run_once()  # the same moment: no lease to wait for
    assert [(p.name, j.id, j.status) for p in processes for j in p.notices.sent] == [("bot-b", job.id, "cancelled")]


async def test_two_processes_give_up_an_unconfirmed_request_once_and_tell_its_channel_once(
    processes: list[Process], trainer: FakeTrainer
) -> None:
    a, b = processes
    deleted: list[str] = []

    async def find_uploads(tag: str) -> list[str]:
        return ["file-1"]

    async def delete_upload(file_id: str) -> None:
        deleted.append(file_id)

    trainer.find_uploads = find_uploads  # type: ignore[method-assign]
    trainer.delete_upload = delete_upload  # type: ignore[method-assign]
    request = await a.requests.add(NewJobRequest("tag-1", 1, 10, 20, "openai", "base-1", "sft", None, "ab" * 32, 10))
    assert await a.requests.uploaded(request.id, "file-1")
    assert await a.requests.unconfirmed(request.id)  # the start's answer was lost; no job turns up
    await asyncio.gather(a.watcher.run_once(), b.watcher.run_once())
    await asyncio.gather(a.watcher.run_once(), b.watcher.run_once())
    assert deleted == ["file-1"]
    assert a.told + b.told == [request.id]
    settled = await b.requests.get(request.id)
    assert settled is not None and settled.state == "abandoned" and settled.notified_at is not None
