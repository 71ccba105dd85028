"""The training service's own database: files and jobs shown in OpenAI's shapes, jobs and events paged newest first,
a job found by its request tag, state changes that happen only from the expected state, and writers waking waiters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from bot.training_service.job_spec import Hyperparameters
from bot.training_service.store import StoredFile, StoredJob, TrainerStore

HYPERPARAMETERS = Hyperparameters(n_epochs=3, batch_size=4, learning_rate_multiplier=1.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TrainerStore]:
    opened = await TrainerStore.open(tmp_path / "trainer" / "jobs.sqlite3")
    yield opened
    await opened.close()


def job(n: int, *, tag: str | None = None) -> StoredJob:
    return StoredJob(
        id=f"ftjob-{n}",
        model="qwen2.5-1.5b-instruct",
        training_file="file-1",
        method="supervised",
        hyperparameters=HYPERPARAMETERS,
        suffix="support",
        metadata={"teachbot_request": tag} if tag else None,
        seed=42,
        status="queued",
        fine_tuned_model=None,
        error=None,
        created_at=1_700_000_000 + n,
        finished_at=None,
        trained_tokens=None,
        attempts=0,
        published=False,
    )


async def test_a_file_is_kept_shown_as_openai_does_and_deleted_once(store: TrainerStore) -> None:
    file = StoredFile(id="file-1", filename="train.jsonl", purpose="fine-tune", bytes=2048, created_at=1_700_000_000)
    await store.add_file(file)
    assert await store.get_file("file-1") == file and await store.file_ids() == {"file-1"}
    assert file.payload()["object"] == "file" and file.payload()["status"] == "processed"
    assert await store.delete_file("file-1")
    assert not await store.delete_file("file-1")
    assert await store.get_file("file-1") is None


async def test_a_job_reads_back_as_written_in_openais_shape(store: TrainerStore) -> None:
    await store.add_job(job(1, tag="req-1"))
    stored = await store.get_job("ftjob-1")
    assert stored is not None and stored == job(1, tag="req-1")
    shown = stored.payload()
    assert (shown["object"], shown["status"], shown["user_provided_suffix"]) == ("fine_tuning.job", "queued", "support")
    assert shown["method"] == {"type": "supervised", "supervised": {"hyperparameters": HYPERPARAMETERS.to_json()}}
    assert shown["metadata"] == {"teachbot_request": "req-1"}
    assert await store.get_job("ftjob-missing") is None


async def test_jobs_page_newest_first_and_a_job_is_found_by_its_request_tag(store: TrainerStore) -> None:
    for n in range(5):
        await store.add_job(job(n, tag=f"req-{n}"))
    first, more = await store.list_jobs(2)
    assert [j.id for j in first] == ["ftjob-4", "ftjob-3"] and more
    rest, more = await store.list_jobs(10, after="ftjob-3")
    assert [j.id for j in rest] == ["ftjob-2", "ftjob-1", "ftjob-0"] and not more
    tagged, _ = await store.list_jobs(10, metadata={"teachbot_request": "req-2"})
    assert [j.id for j in tagged] == ["ftjob-2"]
    assert (await store.list_jobs(10, metadata={"teachbot_request": "req-9"}))[0] == []


async def test_a_status_change_happens_only_from_the_expected_state(store: TrainerStore) -> None:
    await store.add_job(job(1))
    await store.add_job(job(2))
    assert await store.update_job("ftjob-1", status="succeeded", fine_tuned_model="ft:q:support:1", finished_at=5)
    # A cancel that arrives after the job finished changes nothing.
    assert not await store.update_job("ftjob-1", status="cancelled", only_from={"queued", "running"})
    assert await store.update_job("ftjob-2", status="failed", error={"message": "out of memory"}, only_from={"queued"})
    first, second = await store.get_job("ftjob-1"), await store.get_job("ftjob-2")
    assert first is not None and (first.status, first.fine_tuned_model, first.finished) == (
        "succeeded",
        "ft:q:support:1",
        True,
    )
    assert second is not None and second.error == {"message": "out of memory"}
    await store.add_job(attrs.evolve(job(3), status="running"))
    await store.add_job(job(4))
    assert [j.id for j in await store.jobs_with_status("queued", "running")] == ["ftjob-3", "ftjob-4"]  # queue order


async def test_events_page_newest_first_per_job(store: TrainerStore) -> None:
    await store.add_job(job(1))
    for n in range(3):
        await store.add_event("ftjob-1", f"step {n}", kind="metrics", data={"step": n})
    await store.add_event("ftjob-other", "not this job's")
    newest, more = await store.list_events("ftjob-1", 2)
    assert [e["message"] for e in newest] == ["step 2", "step 1"] and more
    assert newest[0]["data"] == {"step": 2} and newest[0]["type"] == "metrics"
    older, more = await store.list_events("ftjob-1", 10, after=newest[-1]["id"])
    assert [e["message"] for e in older] == ["step 0"] and not more


async def test_a_write_wakes_whoever_waits_for_a_change(store: TrainerStore) -> None:
    await store.add_job(job(1))
    # The waiter starts first (tasks run in the order gathered), then the write wakes it.
    await asyncio.wait_for(asyncio.gather(store.wait_for_change(), store.add_event("ftjob-1", "started")), 10)
