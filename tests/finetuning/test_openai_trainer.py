"""The OpenAI backend against the fake fine-tuning API, through the real openai client."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from bot.errors import NotFound
from bot.finetuning.openai_trainer import OpenAITrainer
from bot.finetuning.trainer import (
    Hyperparameters,
    Trainer,
    TrainerAuthFailed,
    TrainerError,
    TrainerNotFound,
    TrainerRateLimited,
    TrainerRejected,
    TrainerRemoteError,
    TrainingRequest,
    upload_name,
)
from tests.fakes.openai import FakeOpenAI

Setup = tuple[FakeOpenAI, OpenAITrainer, Path]
# Base models OpenAI fine-tunes (the fake refuses others, as OpenAI does).
MODELS = ["gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "gpt-4o-2024-08-06", "davinci-002"]
BASE = MODELS[0]
LINE = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with (
        FakeOpenAI() as fake,
        openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=10) as client,
    ):
        data = tmp_path / "d.jsonl"
        data.write_bytes(LINE * 3)
        yield fake, OpenAITrainer(client), data


async def _job(trainer: Trainer, data: Path, base_model: str = BASE) -> str:
    uploaded = await trainer.upload(data, "d.jsonl")
    return (await trainer.start(TrainingRequest(uploaded.id, base_model, "sft"), tag=uuid.uuid4().hex)).remote_id


async def test_sft_upload_and_start_send_the_dataset_and_supervised_method(setup: Setup) -> None:
    fake, trainer, data = setup
    uploaded = await trainer.upload(data, "corrections.jsonl")
    meta, stored = fake.files[uploaded.id]
    assert (stored, uploaded.bytes) == (data.read_bytes(), len(LINE) * 3)
    assert (meta["filename"], meta["purpose"]) == ("corrections.jsonl", "fine-tune")
    request = TrainingRequest(
        uploaded.id,
        "gpt-4.1-mini-2025-04-14",
        "sft",
        "guild42",
        Hyperparameters(n_epochs=3, batch_size=4, learning_rate_multiplier=0.5),
    )
    job = await trainer.start(request, tag="t-sft")
    payload = fake.jobs[job.remote_id].payload
    assert payload["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 0.5}},
    }
    assert payload["metadata"] == {"teachbot_request": "t-sft"}
    assert (payload["model"], payload["training_file"], payload["user_provided_suffix"]) == (
        "gpt-4.1-mini-2025-04-14",
        uploaded.id,
        "guild42",
    )
    assert (job.status, job.method, job.base_model, job.fine_tuned_model, job.finished) == (
        "validating_files",
        "sft",
        "gpt-4.1-mini-2025-04-14",
        None,
        False,
    )


async def test_dpo_job_progresses_and_reports_new_events_oldest_first(setup: Setup) -> None:
    fake, trainer, data = setup
    uploaded = await trainer.upload(data, "d.jsonl")
    job = await trainer.start(
        TrainingRequest(uploaded.id, BASE, "dpo", "v1", Hyperparameters(n_epochs=2, beta=0.2)), tag="t-dpo"
    )
    sent = fake.jobs[job.remote_id].request["method"]
    assert sent == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}}
    auto = {"batch_size": "auto", "learning_rate_multiplier": "auto"}  # not given: OpenAI chooses
    assert fake.jobs[job.remote_id].payload["method"]["dpo"]["hyperparameters"] == auto | {"n_epochs": 2, "beta": 0.2}
    first = await trainer.events(job.remote_id)
    fake.advance(job.remote_id, "running", steps=3)
    running = await trainer.get(job.remote_id)
    assert (running.status, running.finished, running.finished_at) == ("running", False, None)
    later = await trainer.events(job.remote_id, after=first[-1].event_id)
    assert [e.step for e in later if e.kind == "metrics"] == [1, 2, 3]
    assert later[0].message == "Fine-tuning job started"
    fake.advance(job.remote_id, "succeeded")
    done = await trainer.get(job.remote_id)
    assert done.finished and done.status == "succeeded" and done.method == "dpo"
    assert done.fine_tuned_model is not None and done.fine_tuned_model.startswith(f"ft:{BASE}:")
    assert done.fine_tuned_model.endswith(job.remote_id[-8:]) and ":v1:" in done.fine_tuned_model
    assert done.trained_tokens and done.trained_tokens > 0 and done.finished_at is not None
    assert [j.remote_id for j in await trainer.list()] == [job.remote_id]


async def test_failed_job_carries_the_backends_reason(setup: Setup) -> None:
    fake, trainer, data = setup
    remote_id = await _job(trainer, data)
    fake.advance(remote_id, "failed", error="Too few examples: 3 given, at least 10 required.")
    failed = await trainer.get(remote_id)
    assert (failed.status, failed.finished, failed.fine_tuned_model) == ("failed", True, None)
    assert failed.error == "Too few examples: 3 given, at least 10 required."
    last = (await trainer.events(remote_id))[-1]
    assert (last.level, last.message) == ("error", failed.error)


async def test_metrics_events_span_pages_and_limit_keeps_the_newest(setup: Setup) -> None:
    fake, trainer, data = setup
    remote_id = await _job(trainer, data)
    fake.advance(remote_id, "running", steps=150)  # more than one page of 100
    fake.advance(remote_id, "succeeded")
    events = await trainer.events(remote_id)
    metrics = [e for e in events if e.kind == "metrics"]
    assert [e.step for e in metrics] == list(range(1, 151))
    assert {e.total_steps for e in metrics} == {150}
    losses = [e.train_loss for e in metrics if e.train_loss is not None]
    assert len(losses) == 150 and losses[0] > losses[-1]
    assert events[0].message.startswith("Created fine-tuning job") and events[-1].kind == "message"
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    newest = await trainer.events(remote_id, limit=5)
    assert [e.event_id for e in newest] == [e.event_id for e in events[-5:]]
    since = await trainer.events(remote_id, after=metrics[139].event_id)
    assert [e.step for e in since if e.kind == "metrics"] == list(range(141, 151))
    assert since[-1].event_id == events[-1].event_id


async def test_list_pages_newest_first_and_follows_has_more(setup: Setup) -> None:
    fake, trainer, data = setup
    ids = [await _job(trainer, data, base_model=model) for model in MODELS]
    newest_first = ids[::-1]
    first = await trainer.list(limit=2)
    assert [j.remote_id for j in first] == newest_first[:2]
    second = await trainer.list(limit=2, after=first[-1].remote_id)
    assert [j.remote_id for j in second] == newest_first[2:4]
    everything = await trainer.list(limit=2, follow=True)
    assert [j.remote_id for j in everything] == newest_first
    assert [j.base_model for j in everything] == MODELS[::-1]
    list_calls = [r for r in fake.requests if r[0] == "GET" and r[1] == "/fine_tuning/jobs"]
    assert len(list_calls) == 2 + 3  # the followed listing took three pages of two


async def test_cancel_stops_a_running_job_and_a_finished_one_is_refused(setup: Setup) -> None:
    fake, trainer, data = setup
    remote_id = await _job(trainer, data)
    fake.advance(remote_id, "running", steps=2)
    cancelled = await trainer.cancel(remote_id)
    assert (cancelled.status, cancelled.finished) == ("cancelled", True)
    assert (await trainer.get(remote_id)).status == "cancelled"
    assert (await trainer.events(remote_id))[-1].message == "Fine-tuning job cancelled"
    with pytest.raises(TrainerRejected, match=r"refused to cancel the job: Job .* has already finished"):
        await trainer.cancel(remote_id)


async def test_backend_errors_become_short_messages(setup: Setup) -> None:
    fake, trainer, data = setup
    with pytest.raises(TrainerNotFound, match="does not know that job") as missing:
        await trainer.get("ftjob-missing")
    assert isinstance(missing.value, NotFound) and isinstance(missing.value, TrainerError)
    fake.fail_next(429)
    with pytest.raises(TrainerRateLimited, match="rate-limiting"):
        await trainer.list()
    with pytest.raises(TrainerRejected, match="refused to start the job: invalid training_file"):
        await trainer.start(TrainingRequest("file-nope", BASE, "sft"), tag="t-bad")
    fake.fail_next(500, path_prefix="/files")
    with pytest.raises(TrainerRemoteError) as remote:
        await trainer.upload(data, "d.jsonl")
    assert "fake 500" not in str(remote.value) and "Try again" in str(remote.value)
    fake.api_key = "sk-rotated"
    with pytest.raises(TrainerAuthFailed, match="API key"):
        await trainer.events("ftjob-any")


async def test_a_server_that_does_not_answer_is_reported_unreachable(setup: Setup) -> None:
    fake, _, _ = setup
    async with openai.AsyncOpenAI(
        api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=0.3
    ) as impatient:
        fake.delay_next(1.0)
        with pytest.raises(TrainerRemoteError, match="could not be reached"):
            await OpenAITrainer(impatient).get("ftjob-any")


async def test_big_dataset_is_streamed_not_read_whole(setup: Setup, tmp_path: Path) -> None:
    fake, trainer, _ = setup
    fake.keep_uploads = False  # the fake runs in this process: it only hashes, so the peak measures the client
    big = tmp_path / "big.jsonl"
    block = LINE * 8192  # ~0.75 MB of valid lines
    with big.open("wb") as f:
        while f.tell() < 50 * 1024 * 1024:
            f.write(block)
    size = big.stat().st_size
    tracemalloc.start()
    try:
        uploaded = await trainer.upload(big, "big.jsonl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uploaded.bytes == size
    digest = hashlib.sha256()
    with big.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert fake.file_sha256[uploaded.id] == digest.hexdigest()
    assert peak < size // 5, f"uploading {size} bytes peaked at {peak} bytes of Python memory"


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like a pipe or a download in progress."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


async def test_upload_from_streams_seekable_or_not(setup: Setup) -> None:
    fake, trainer, _ = setup
    payload = LINE * 100 + b'{"nonce": "%s"}' % os.urandom(16).hex().encode()  # a last line of its own, no newline
    from_memory = await trainer.upload(io.BytesIO(payload), "memory.jsonl")
    from_pipe = await trainer.upload(io.BufferedReader(_Pipe(payload)), "pipe.jsonl")
    for uploaded, name in ((from_memory, "memory.jsonl"), (from_pipe, "pipe.jsonl")):
        meta, stored = fake.files[uploaded.id]
        assert (stored, meta["filename"], uploaded.bytes) == (payload, name, len(payload))


async def test_retried_upload_resends_the_whole_file_and_a_pipe_is_not_retried(setup: Setup) -> None:
    fake, _, data = setup
    async with openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2, timeout=10) as client:
        trainer = OpenAITrainer(client)
        fake.fail_next(500, path_prefix="/files", retry_after=0.01)
        uploaded = await trainer.upload(data, "d.jsonl")
        assert fake.files[uploaded.id][1] == data.read_bytes()
        fake.fail_next(500, path_prefix="/files", retry_after=0.01)
        from_memory = await trainer.upload(io.BytesIO(LINE * 7), "m.jsonl")
        assert fake.files[from_memory.id][1] == LINE * 7
        tries_before = sum(1 for r in fake.requests if r[1] == "/files")
        fake.fail_next(500, path_prefix="/files", retry_after=0.01)
        with pytest.raises(TrainerRemoteError):
            # A pipe cannot be rewound: a retry would send a truncated dataset, so it is sent once only.
            await trainer.upload(io.BufferedReader(_Pipe(LINE * 7)), "p.jsonl")
        assert sum(1 for r in fake.requests if r[1] == "/files") == tries_before + 1


async def test_a_start_that_times_out_is_not_retried_and_its_job_is_found_by_tag(setup: Setup) -> None:
    fake, _, data = setup
    async with openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=2, timeout=0.3) as client:
        trainer = OpenAITrainer(client)
        uploaded = await trainer.upload(data, upload_name("tag-1"))
        fake.slow_next("POST", "/fine_tuning/jobs", seconds=0.8)
        with pytest.raises(TrainerRemoteError, match="could not be reached"):
            await trainer.start(TrainingRequest(uploaded.id, BASE, "sft"), tag="tag-1")
        assert len(fake.jobs) == 1  # a client retry would have started a second, untracked job
        await _job(trainer, data)  # another request's job is not mistaken for it
        found = await trainer.find_tagged("tag-1")
        assert found is not None and fake.jobs_tagged("teachbot_request", "tag-1") == [found.remote_id]
        assert await trainer.find_tagged("tag-2") is None


async def test_uploads_are_found_by_their_tag_name_and_deleted(setup: Setup) -> None:
    fake, trainer, data = setup
    mine = [(await trainer.upload(data, upload_name("tag-1"))).id for _ in range(2)]
    other = await trainer.upload(data, upload_name("tag-2"))
    assert sorted(await trainer.find_uploads("tag-1")) == sorted(mine)
    for file_id in mine:
        await trainer.delete_upload(file_id)
    await trainer.delete_upload(mine[0])  # already gone: nothing to do
    assert list(fake.files) == [other.id] and await trainer.find_uploads("tag-1") == []
