"""Job watcher: status changes and events stored, one end notice (again after a restart), backoff, notify retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from bot.finetuning.backends import Trainers
from bot.finetuning.trainer import JobEvent, RemoteJob, TrainerNotFound, TrainerRemoteError
from bot.finetuning.watcher import JobWatcher
from bot.store.database import Database
from bot.store.jobs import JobStore, NewJob, TrainingJob

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeTrainer:
    """Just enough of a Trainer for the watcher: jobs and events held in memory, failures on demand."""

    def __init__(self) -> None:
        self.jobs: dict[str, RemoteJob] = {}
        self.feed: dict[str, list[JobEvent]] = {}
        self.failing = False
        self.calls = 0
        self.polled: list[str] = []

    def set(self, remote_id: str, status: str, model: str | None = None) -> None:
        done = status in {"succeeded", "failed", "cancelled"}
        self.jobs[remote_id] = RemoteJob(
            remote_id=remote_id,
            status=status,  # type: ignore[arg-type]
            base_model="gpt-4o-mini",
            fine_tuned_model=model,
            error="bad data" if status == "failed" else None,
            created_at=T0,
            finished_at=T0 + dt.timedelta(hours=1) if done else None,
            trained_tokens=None,
            method="sft",
        )

    def emit(self, remote_id: str, step: int, loss: float) -> None:
        feed = self.feed.setdefault(remote_id, [])
        n = len(feed) + 1
        feed.append(
            JobEvent(
                remote_id,
                f"ev-{n:03d}",
                T0 + dt.timedelta(seconds=n),
                "info",
                f"Step {step}",
                "metrics",
                step,
                10,
                loss,
                None,
            )
        )

    async def get(self, remote_id: str) -> RemoteJob:
        self.calls += 1
        self.polled.append(remote_id)
        if self.failing:
            raise TrainerRemoteError("The training service is unavailable.")
        return self.jobs[remote_id]

    async def find_tagged(self, tag: str) -> RemoteJob | None:
        return None  # these tests start no jobs through training requests

    async def find_uploads(self, tag: str) -> list[str]:
        return []

    async def delete_upload(self, file_id: str) -> None:
        return None

    async def events(self, remote_id: str, after: str | None = None, limit: int | None = None) -> list[JobEvent]:
        feed = self.feed.get(remote_id, [])
        ids = [e.event_id for e in feed]
        return feed[ids.index(after) + 1 :] if after in ids else list(feed)


@attrs.define
class Notices:
    sent: list[TrainingJob] = attrs.field(factory=list)
    fail: bool = False
    arrived: asyncio.Event = attrs.field(factory=asyncio.Event)

    async def __call__(self, job: TrainingJob) -> None:
        if self.fail:
            raise RuntimeError("Discord is down")
        self.sent.append(job)
        self.arrived.set()


@pytest.fixture
async def jobs(tmp_path: Path) -> AsyncIterator[JobStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await db.open()
    yield JobStore(db)
    await db.close()


async def add_job(jobs: JobStore, remote_id: str = "ftjob-a") -> TrainingJob:
    return await jobs.add(
        NewJob(1, 10, 20, "openai", remote_id, "gpt-4o-mini", "sft", None, "0" * 64, 12, "validating_files")
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watcher(trainer: FakeTrainer, jobs: JobStore, notices: Notices, clock: Clock | None = None) -> JobWatcher:
    return JobWatcher(
        trainer,  # type: ignore[arg-type]
        jobs,
        notices,
        interval_s=60,
        max_backoff_s=300,
        notice_attempts=5,
        clock=clock or Clock(),
        identity="the-bot",  # one bot process, restarted or not (tests of several processes: test_watcher_claims)
    )


async def test_status_and_events_stored_and_end_announced_once(jobs: JobStore) -> None:
    trainer, notices = FakeTrainer(), Notices()
    job = await add_job(jobs)
    w = watcher(trainer, jobs, notices)
    trainer.set("ftjob-a", "running")
    trainer.emit("ftjob-a", 1, 2.0)
    await w.run_once()
    assert w.watching == 1  # what the metrics show as jobs being watched
    now = await jobs.get(job.id)
    assert now is not None and now.status == "running" and now.steps_done == 1
    assert notices.sent == []
    trainer.emit("ftjob-a", 2, 1.0)
    trainer.set("ftjob-a", "succeeded", "ft:gpt-4o-mini:org::x")
    await w.run_once()
    await w.run_once()
    assert w.watching == 0  # it ended: nothing left to follow
    assert [(n.id, n.status, n.fine_tuned_model) for n in notices.sent] == [
        (job.id, "succeeded", "ft:gpt-4o-mini:org::x")
    ]
    assert await jobs.metrics(job.id) == [(1, 2.0, None), (2, 1.0, None)]
    assert [e.event_id for e in await jobs.events(job.id)] == ["ev-001", "ev-002"]  # each event once


async def test_restart_delivers_a_notice_left_pending(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"
    db = Database(url)
    await db.open()
    trainer, failing = FakeTrainer(), Notices(fail=True)
    job = await add_job(JobStore(db))
    trainer.set("ftjob-a", "failed")
    before = watcher(trainer, JobStore(db), failing)
    await before.run_once()  # Discord was down: nothing announced
    assert failing.sent == [] and [j.id for j in await JobStore(db).unnotified_finished()] == [job.id]
    await before.stop()  # a clean stop releases the job at once (a crashed bot's lease runs out: test_watcher_claims)
    await db.close()

    db = Database(url)  # the bot restarted
    await db.open()
    notices = Notices()
    w = watcher(trainer, JobStore(db), notices)
    w.start()
    try:
        await asyncio.wait_for(notices.arrived.wait(), 10)
        await w.run_once()  # waits for the background round to finish; must not announce again
    finally:
        await w.stop()
    assert [(n.id, n.status, n.error) for n in notices.sent] == [(job.id, "failed", "bad data")]
    assert await JobStore(db).unnotified_finished() == []
    await db.close()


async def test_trainer_errors_back_off_and_the_loop_keeps_going(
    jobs: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    trainer, notices = FakeTrainer(), Notices()
    job = await add_job(jobs)
    trainer.set("ftjob-a", "succeeded", "ft:m")
    trainer.failing = True
    w = watcher(trainer, jobs, notices)
    with caplog.at_level(logging.WARNING, logger="bot.finetuning.watcher"):
        await w.run_once()
        await w.run_once()
    assert any(f"#{job.id}" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert w._delay() == 240  # 60 s doubled per failed round  # pyright: ignore[reportPrivateUsage]
    await w.run_once()
    assert w._delay() == 300  # capped  # pyright: ignore[reportPrivateUsage]
    assert notices.sent == []
    trainer.failing = False
    w.start()
    try:
        w.poke()
        await asyncio.wait_for(notices.arrived.wait(), 10)
        await w.run_once()  # waits for the background round to finish; must not announce again
    finally:
        await w.stop()
    assert [n.id for n in notices.sent] == [job.id]
    assert w._delay() == 60  # pyright: ignore[reportPrivateUsage]


async def test_notify_failure_is_logged_and_retried_after_its_backoff(
    jobs: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    trainer, notices, clock = FakeTrainer(), Notices(fail=True), Clock()
    job = await add_job(jobs)
    trainer.set("ftjob-a", "cancelled")
    w = watcher(trainer, jobs, notices, clock)
    with caplog.at_level(logging.WARNING, logger="bot.finetuning.watcher"):
        await w.run_once()
    assert any(f"#{job.id}" in r.getMessage() for r in caplog.records)
    assert [j.id for j in await jobs.unnotified_finished()] == [job.id]
    notices.fail = False
    clock.now += 60  # the notice's own backoff after one failure: one interval
    await w.run_once()
    assert [(n.id, n.status) for n in notices.sent] == [(job.id, "cancelled")]
    await w.run_once()
    assert len(notices.sent) == 1


async def test_a_job_the_service_no_longer_knows_is_closed_and_announced(jobs: JobStore) -> None:
    trainer, notices = FakeTrainer(), Notices()
    job = await add_job(jobs, "ftjob-gone")  # never known to the trainer: get() raises TrainerNotFound
    w = watcher(trainer, jobs, notices)

    async def unknown(remote_id: str) -> RemoteJob:
        raise TrainerNotFound(f"no job {remote_id}")

    trainer.get = unknown  # type: ignore[method-assign]
    await w.run_once()
    closed = await jobs.get(job.id)
    assert closed is not None and closed.status == "failed" and closed.error is not None
    assert [n.id for n in notices.sent] == [job.id]
    assert await jobs.unfinished() == []


async def test_a_notice_that_keeps_failing_backs_off_alone_and_is_given_up(
    jobs: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    trainer, clock = FakeTrainer(), Clock()
    gone = await add_job(jobs, "ftjob-gone-channel")
    other = await add_job(jobs, "ftjob-other")
    trainer.set("ftjob-gone-channel", "succeeded", "ft:m")
    trainer.set("ftjob-other", "running")
    tries: list[float] = []

    async def notify(job: TrainingJob) -> None:
        if job.id == gone.id:
            tries.append(clock.now)
            raise RuntimeError("404 Unknown Channel")

    w = JobWatcher(
        trainer, jobs, notify, interval_s=60, max_backoff_s=300, notice_attempts=5, clock=clock, identity="the-bot"
    )  # type: ignore[arg-type]
    polls: list[int] = []
    with caplog.at_level(logging.WARNING, logger="bot.finetuning.watcher"):
        for _ in range(20):  # twenty rounds, one interval apart
            trainer.polled.clear()
            trainer.emit("ftjob-other", len(polls) + 1, 1.0)
            await w.run_once()
            polls.append(trainer.polled.count("ftjob-other"))
            assert w._delay() == 60  # a failing notice never slows the rounds  # pyright: ignore[reportPrivateUsage]
            clock.now += 60
    assert polls == [1] * 20  # the other job was checked every round
    followed = await jobs.get(other.id)
    assert followed is not None and followed.steps_done == 20
    # Tried after 1, 2, 4 and 5 (capped at 300 s) intervals, then given up: five tries in all.
    assert [t - tries[0] for t in tries] == [0, 60, 180, 420, 720]
    gave_up = [r for r in caplog.records if "gave up posting the end of training job" in r.getMessage()]
    assert len(gave_up) == 1 and gave_up[0].levelno == logging.WARNING and "after 5 attempts" in gave_up[0].getMessage()
    assert await jobs.unnotified_finished() == []
    stored = await jobs.get(gone.id)
    assert stored is not None and stored.notice_attempts == 5 and stored.notice_given_up_at is not None
    assert stored.notified_at is None  # not pretended delivered


async def test_a_given_up_notice_stays_given_up_after_a_restart(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await db.open()
    trainer, clock, failing = FakeTrainer(), Clock(), Notices(fail=True)
    await add_job(JobStore(db))
    trainer.set("ftjob-a", "failed")
    w = JobWatcher(
        trainer,
        JobStore(db),
        failing,
        interval_s=60,
        max_backoff_s=60,
        notice_attempts=2,
        clock=clock,
        identity="the-bot",
    )  # type: ignore[arg-type]
    await w.run_once()
    clock.now += 60
    await w.run_once()
    notices = Notices()
    await watcher(trainer, JobStore(db), notices).run_once()  # a restarted bot does not try again forever
    assert notices.sent == []
    await db.close()


async def test_each_job_is_followed_on_its_own_backend_and_one_no_longer_configured_is_left_as_it_is(
    jobs: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    openai, azure, notices = FakeTrainer(), FakeTrainer(), Notices()
    fields = (1, 10, 20)
    rest = ("gpt-4o-mini", "sft", None, "0" * 64, 12, "running")
    on_openai = await jobs.add(NewJob(*fields, "openai", "ftjob-1", *rest))
    on_azure = await jobs.add(NewJob(*fields, "azure", "ftjob-1", *rest))  # numbered alike by another backend
    gone = await jobs.add(NewJob(*fields, "together", "ft-x", *rest))
    openai.set("ftjob-1", "running")
    azure.set("ftjob-1", "succeeded", "ft:azure-made")
    trainers = Trainers({"openai": openai, "azure": azure}, "openai")  # type: ignore[dict-item]
    w = JobWatcher(trainers, jobs, notices, interval_s=60, max_backoff_s=300, clock=Clock(), identity="the-bot")
    with caplog.at_level(logging.WARNING, logger="bot.finetuning.watcher"):
        await w.run_once()
        await w.run_once()
    assert [n.fine_tuned_model for n in notices.sent] == ["ft:azure-made"]  # only the Azure job ended
    assert openai.polled == ["ftjob-1", "ftjob-1"] and azure.polled == ["ftjob-1"]
    states = [await jobs.get(j.id) for j in (on_openai, on_azure, gone)]
    assert [s.status for s in states if s is not None] == ["running", "succeeded", "running"]
    warned = [r.getMessage() for r in caplog.records if "no longer configured" in r.getMessage()]
    assert len(warned) == 1 and "'together'" in warned[0]  # said once, not every round
