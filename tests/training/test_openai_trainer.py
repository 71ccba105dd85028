"""The OpenAI backend against the fake fine-tuning API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from bot.training.openai_trainer import OpenAITrainer
from bot.training.trainer import Hyperparameters, TrainerError, TrainerNotFound, TrainingRequest
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[FakeOpenAI, OpenAITrainer, Path]]:
    async with (
        FakeOpenAI() as fake,
        openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0) as client,
    ):
        data = tmp_path / "d.jsonl"
        data.write_bytes(b'{"messages": []}\n')
        yield fake, OpenAITrainer(client), data


async def test_jobs_start_progress_and_report_new_events_oldest_first(
    setup: tuple[FakeOpenAI, OpenAITrainer, Path],
) -> None:
    fake, trainer, data = setup
    uploaded = await trainer.upload(data, "d.jsonl")
    job = await trainer.start(
        TrainingRequest(uploaded.id, "base-1", "dpo", "v1", Hyperparameters(n_epochs=2, beta=0.2))
    )
    sent = fake.jobs[job.remote_id].payload["method"]
    assert sent == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "beta": 0.2}}}
    first = await trainer.events(job.remote_id)
    fake.advance(job.remote_id, "running", steps=3)
    later = await trainer.events(job.remote_id, after=first[-1].event_id)
    assert [e.step for e in later if e.kind == "metrics"] == [1, 2, 3]
    assert later[0].message == "Fine-tuning job started"
    fake.advance(job.remote_id, "succeeded")
    done = await trainer.get(job.remote_id)
    assert done.finished and done.fine_tuned_model is not None and done.method == "dpo"
    assert [j.remote_id for j in await trainer.list()] == [job.remote_id]


async def test_backend_errors_become_short_messages(setup: tuple[FakeOpenAI, OpenAITrainer, Path]) -> None:
    fake, trainer, _ = setup
    with pytest.raises(TrainerNotFound):
        await trainer.get("ftjob-missing")
    fake.fail_next(429)
    with pytest.raises(TrainerError, match="rate-limiting"):
        await trainer.list()
    with pytest.raises(TrainerError, match="refused to start the job: invalid training_file"):
        await trainer.start(TrainingRequest("file-nope", "base-1", "sft"))
