"""Training jobs store: adding, paging, autocomplete search, events stored once, metrics, notices."""

from __future__ import annotations

import datetime as dt

from bot.finetuning.trainer import JobEvent, RemoteJob
from bot.job_status import JobStatus
from bot.store.database import Database
from bot.store.jobs import JobStore, NewJob

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def new(guild: int = 1, remote: str = "ftjob-a", model: str = "gpt-4o-mini", status: JobStatus = "queued") -> NewJob:
    return NewJob(
        guild_id=guild,
        channel_id=10,
        requester_id=20,
        backend="openai",
        remote_id=remote,
        base_model=model,
        method="sft",
        suffix=None,
        dataset_sha256="0" * 64,
        dataset_examples=12,
        status=status,
    )


def event(n: int, *, step: int | None = None, loss: float | None = None, valid: float | None = None) -> JobEvent:
    return JobEvent(
        remote_id="ftjob-a",
        event_id=f"ev-{n:03d}",
        created_at=T0 + dt.timedelta(seconds=n),
        level="info",
        message=f"event {n}",
        kind="metrics" if step is not None else "message",
        step=step,
        total_steps=10 if step is not None else None,
        train_loss=loss,
        valid_loss=valid,
    )


def remote(status: JobStatus, model: str | None = None) -> RemoteJob:
    return RemoteJob(
        remote_id="ftjob-a",
        status=status,  # type: ignore[arg-type]
        base_model="gpt-4o-mini",
        fine_tuned_model=model,
        error=None,
        created_at=T0,
        finished_at=T0 + dt.timedelta(hours=1) if status in {"succeeded", "failed", "cancelled"} else None,
        trained_tokens=None,
        method="sft",
    )


async def test_add_get_and_by_guild_paging(db: Database) -> None:
    jobs = JobStore(db)
    added = [await jobs.add(new(remote=f"ftjob-{i}")) for i in range(5)]
    await jobs.add(new(guild=2, remote="ftjob-other"))
    got = await jobs.get(added[0].id)
    assert got is not None and got.remote_id == "ftjob-0" and got.status == "queued" and got.notified_at is None
    assert got.created_at.tzinfo is not None
    page = await jobs.list(1, offset=1, limit=2)
    assert page.total == 5
    assert [j.remote_id for j in page.items] == ["ftjob-3", "ftjob-2"]  # newest first
    assert await jobs.get(9999) is None


async def test_search_newest_first_filtered_by_what_was_typed(db: Database) -> None:
    jobs = JobStore(db)
    a = await jobs.add(new(remote="ftjob-alpha", model="gpt-4o-mini"))
    b = await jobs.add(new(remote="ftjob-beta", model="gpt-4.1-nano", status="running"))
    c = await jobs.add(new(remote="ftjob-gamma", model="gpt-4o-mini"))
    await jobs.add(new(guild=2, remote="ftjob-alpha2"))
    assert [j.id for j in await jobs.search(1, "")] == [c.id, b.id, a.id]
    assert [j.id for j in await jobs.search(1, "4O-MINI")] == [c.id, a.id]
    assert [j.id for j in await jobs.search(1, "running")] == [b.id]
    assert [j.id for j in await jobs.search(1, "alpha")] == [a.id]  # not the other guild's job
    assert [j.id for j in await jobs.search(1, f"#{b.id}")] == [b.id]
    assert len(await jobs.search(1, "", limit=2)) == 2


async def test_events_stored_once_oldest_first_with_progress_and_metrics(db: Database) -> None:
    jobs = JobStore(db)
    job = await jobs.add(new())
    await jobs.add_events(job.id, [event(1), event(2, step=1, loss=2.5, valid=2.7)])
    # the watcher may see the same events again after a restart
    await jobs.add_events(job.id, [event(2, step=1, loss=2.5, valid=2.7), event(3, step=2, loss=1.5)])
    stored = await jobs.events(job.id)
    assert [e.event_id for e in stored] == ["ev-001", "ev-002", "ev-003"]
    assert stored[0].message == "event 1" and stored[0].remote_id == "ftjob-a"
    assert await jobs.metrics(job.id) == [(1, 2.5, 2.7), (2, 1.5, None)]
    after = await jobs.get(job.id)
    assert after is not None and after.steps_done == 2 and after.total_steps == 10 and after.last_event_id == "ev-003"
    assert [e.event_id for e in await jobs.events(job.id, limit=2)] == ["ev-002", "ev-003"]


async def test_status_updates_unfinished_unnotified_and_models(db: Database) -> None:
    jobs = JobStore(db)
    job = await jobs.add(new())
    other = await jobs.add(new(guild=2, remote="ftjob-b"))
    assert {j.id for j in await jobs.unfinished()} == {job.id, other.id}
    running = await jobs.update_from_remote(job.id, remote("running"))
    assert running.status == "running" and running.finished_at is None and not running.finished
    done = await jobs.update_from_remote(job.id, remote("succeeded", "ft:gpt-4o-mini:org::abc"))
    assert done.finished and done.finished_at is not None and done.fine_tuned_model == "ft:gpt-4o-mini:org::abc"
    assert [j.id for j in await jobs.unfinished()] == [other.id]
    assert [j.id for j in await jobs.unnotified_finished()] == [job.id]
    await jobs.mark_notified(job.id)
    assert await jobs.unnotified_finished() == []
    notified = await jobs.get(job.id)
    assert notified is not None and notified.notified_at is not None
    assert await jobs.succeeded_models(1) == ["ft:gpt-4o-mini:org::abc"]
    assert await jobs.succeeded_models(2) == []


async def test_a_state_read_before_a_cancel_does_not_bring_the_cancelled_job_back(db: Database) -> None:
    # The watcher read "running" from the backend, then a member cancelled, then the watcher stored what it had read.
    jobs = JobStore(db)
    job = await jobs.add(new(status="running"))
    await jobs.update_from_remote(job.id, remote("cancelled"))
    stale = await jobs.update_from_remote(job.id, remote("running"))
    assert stale.status == "cancelled" and stale.finished_at is not None
    stored = await jobs.get(job.id)
    assert stored is not None and stored.status == "cancelled" and stored.finished
    assert await jobs.unfinished() == []
