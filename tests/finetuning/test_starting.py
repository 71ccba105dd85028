"""Starting a paid job at most once and never losing it: through the real openai client and the strict fake OpenAI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import openai
import pytest

from bot.finetuning.awaiting_confirm import PreparedDataset
from bot.finetuning.openai_trainer import OpenAITrainer
from bot.finetuning.starting import start_training
from bot.finetuning.trainer import TAG_KEY, Hyperparameters, TrainerRejected, TrainerRemoteError, upload_name
from bot.finetuning.training_files import DatasetReport
from bot.finetuning.watcher import JobWatcher
from bot.store.database import Database
from bot.store.jobs import JobStore, TrainingJob
from bot.store.requests import JobRequest, JobRequestStore, NewJobRequest
from tests.fakes.openai import FakeOpenAI

BASE = "gpt-4.1-mini-2025-04-14"  # a model OpenAI fine-tunes
LINE = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@attrs.define
class Setup:
    fake: FakeOpenAI
    trainer: OpenAITrainer
    jobs: JobStore
    requests: JobRequestStore
    tmp: Path
    told: list[tuple[JobRequest, TrainingJob | None]] = attrs.field(factory=list)
    ended: list[TrainingJob] = attrs.field(factory=list)

    def prepared(self) -> PreparedDataset:
        path = self.tmp / f"{time.monotonic_ns()}.jsonl"
        path.write_bytes(LINE * 10)
        report = DatasetReport("sft", 10, 100, 300, None, [], 0, "ab" * 32)
        return PreparedDataset("p1", path, report, "sft", BASE, "faq", 1, 10, 20, "uploaded file", time.monotonic())

    async def start(self) -> tuple[JobRequest, TrainingJob | None]:
        result = await start_training(
            self.prepared(), trainer=self.trainer, requests=self.requests, hyperparameters=Hyperparameters()
        )
        return result.request, result.job

    def watcher(self, grace_s: float = 600.0) -> JobWatcher:
        async def ended(job: TrainingJob) -> None:
            self.ended.append(job)

        async def told(request: JobRequest, job: TrainingJob | None) -> None:
            self.told.append((request, job))

        return JobWatcher(
            self.trainer,
            self.jobs,
            ended,
            interval_s=60,
            max_backoff_s=300,
            requests=self.requests,
            notify_request=told,
            start_grace_s=grace_s,
            identity="the-bot",  # each watcher made here stands for the same bot process (claims are its own)
        )


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await db.open()
    jobs = JobStore(db)
    # The client as the bot builds it: it retries on its own (2), with a short timeout for the test.
    async with (
        FakeOpenAI() as fake,
        openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2, timeout=0.3) as client,
    ):
        yield Setup(fake, OpenAITrainer(client), jobs, JobRequestStore(db, jobs), tmp_path)
    await db.close()


async def test_a_start_whose_answer_is_lost_starts_one_job_and_follows_it(setup: Setup) -> None:
    setup.fake.slow_next("POST", "/fine_tuning/jobs", seconds=0.8)
    request, job = await setup.start()
    assert len(setup.fake.jobs) == 1  # not retried into a second, untracked job
    (remote_id,) = setup.fake.jobs
    assert job is not None and job.remote_id == remote_id
    assert (request.state, request.remote_id, request.job_id) == ("started", remote_id, job.id)
    assert setup.fake.jobs[remote_id].payload["metadata"] == {TAG_KEY: request.tag}
    assert setup.fake.files[setup.fake.jobs[remote_id].payload["training_file"]][0]["filename"] == upload_name(
        request.tag
    )
    setup.fake.advance(remote_id, "succeeded")
    await setup.watcher().run_once()
    assert [(j.id, j.status) for j in setup.ended] == [(job.id, "succeeded")]


async def test_a_job_started_before_a_crash_is_adopted_not_started_again(setup: Setup) -> None:
    # The bot recorded the request and the upload, the backend started the job, the bot died before recording it.
    request = await setup.requests.add(
        NewJobRequest("crashed-tag", 1, 10, 20, "openai", BASE, "sft", None, "ab" * 32, 10)
    )
    uploaded = await setup.trainer.upload(setup.prepared().path, upload_name(request.tag))
    assert await setup.requests.uploaded(request.id, uploaded.id)
    raw = setup.trainer._client  # pyright: ignore[reportPrivateUsage]
    started = await raw.fine_tuning.jobs.create(model=BASE, training_file=uploaded.id, metadata={TAG_KEY: request.tag})
    watcher = setup.watcher()  # the restarted bot
    await watcher.run_once()
    assert list(setup.fake.jobs) == [started.id]
    (job,) = await setup.jobs.unfinished()
    assert (job.remote_id, job.channel_id, job.requester_id) == (started.id, 10, 20)
    settled = await setup.requests.get(request.id)
    assert settled is not None and (settled.state, settled.job_id) == ("started", job.id)
    assert [(r.id, j.id if j else None) for r, j in setup.told] == [(request.id, job.id)]  # the channel is told
    setup.fake.advance(started.id, "failed")
    await watcher.run_once()
    await watcher.run_once()
    assert [(j.id, j.status) for j in setup.ended] == [(job.id, "failed")] and len(setup.told) == 1


async def test_a_refused_start_deletes_its_upload(setup: Setup) -> None:
    setup.fake.fail_next(400, path_prefix="/fine_tuning/jobs")
    with pytest.raises(TrainerRejected):
        await setup.start()
    assert setup.fake.jobs == {} and setup.fake.files == {}
    (request,) = [r for r in [await setup.requests.get(1)] if r is not None]
    assert request.state == "failed" and request.upload_deleted_at is not None
    await setup.watcher(grace_s=0).run_once()
    assert setup.told == []  # the admin saw the refusal already


async def test_an_unconfirmed_start_without_a_job_is_given_up_and_its_upload_deleted(setup: Setup) -> None:
    setup.fake.fail_next(502, path_prefix="/fine_tuning/jobs")  # not retried by the client: a 502 may hide a job
    request, job = await setup.start()
    assert job is None and request.state == "unconfirmed" and len(setup.fake.files) == 1
    await setup.watcher().run_once()  # within the grace period: the job may still turn up
    assert len(setup.fake.files) == 1 and setup.told == []
    await setup.watcher(grace_s=0).run_once()
    assert setup.fake.files == {} and setup.fake.jobs == {}
    settled = await setup.requests.get(request.id)
    assert settled is not None and settled.state == "abandoned"
    assert [(r.id, j) for r, j in setup.told] == [(request.id, None)]


async def test_an_upload_whose_answer_was_lost_is_found_by_its_name_and_deleted(setup: Setup) -> None:
    for _ in range(3):  # every try times out after storing the file: the client's retries leave three
        setup.fake.slow_next("POST", "/files", seconds=0.8)
    with pytest.raises(TrainerRemoteError):
        await setup.start()
    assert len(setup.fake.files) == 3 and setup.fake.jobs == {}
    await setup.watcher(grace_s=0).run_once()
    assert setup.fake.files == {}
    settled = await setup.requests.get(1)
    assert settled is not None and settled.state == "abandoned"
