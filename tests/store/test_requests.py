"""Training requests store: a job is recorded once whoever finds it, settled requests stay settled, old databases
gain the notice columns."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.finetuning.trainer import RemoteJob
from bot.store.database import Database
from bot.store.jobs import JobStore
from bot.store.requests import JobRequestStore, NewJobRequest

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def remote(remote_id: str = "ftjob-x", status: str = "running") -> RemoteJob:
    return RemoteJob(remote_id, status, "base-1", None, None, T0, None, None, "sft")  # type: ignore[arg-type]


def new(tag: str = "tag-1") -> NewJobRequest:
    return NewJobRequest(tag, 1, 10, 20, "openai", "base-1", "sft", "faq", "ab" * 32, 10)


async def test_a_job_found_by_the_flow_and_the_watcher_at_once_is_recorded_once(db: Database) -> None:
    jobs = JobStore(db)
    requests = JobRequestStore(db, jobs)
    request = await requests.add(new())
    assert await requests.uploaded(request.id, "file-1")
    first, second = await asyncio.gather(
        requests.adopt(request, remote(), notice=False), requests.adopt(request, remote(), notice=True)
    )
    assert first.id == second.id and (await jobs.list(1)).total == 1
    settled = await requests.get(request.id)
    assert settled is not None and (settled.state, settled.job_id, settled.remote_id) == (
        "started",
        first.id,
        "ftjob-x",
    )
    assert [j.suffix for j in await jobs.unfinished()] == ["faq"]


async def test_a_settled_request_is_not_moved_back(db: Database) -> None:
    requests = JobRequestStore(db, JobStore(db))
    request = await requests.add(new())
    assert await requests.abandoned(request.id, notice=False)
    assert not await requests.uploaded(request.id, "file-late")  # the flow learns it was given up: starts nothing
    assert await requests.pending() == []
    # A job that turns up anyway is followed all the same: it costs money.
    job = await requests.adopt(request, remote("ftjob-late"), notice=True)
    settled = await requests.get(request.id)
    assert settled is not None and (settled.state, settled.job_id, settled.notice) == ("started", job.id, "started")
