"""The bot's OpenAITrainer (bot/finetuning/openai_trainer.py) against the training service: the bot needs no new
backend to train on its own GPU, only another base_url."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from bot.finetuning.openai_trainer import OpenAITrainer
from bot.finetuning.trainer import (
    Hyperparameters,
    TrainerAuthFailed,
    TrainerNotFound,
    TrainerRejected,
    TrainingRequest,
)
from tests.training_service.service import dpo_jsonl, running_trainer, sft_jsonl, wait_for_job


async def test_the_bots_trainer_runs_sft_and_dpo_jobs_and_reads_their_progress(
    tmp_path: Path, tiny_model: Path
) -> None:
    data = tmp_path / "corrections.jsonl"
    data.write_bytes(sft_jsonl())
    async with (
        running_trainer(tmp_path / "svc", {"tiny": str(tiny_model)}, api_key="k1") as service,
        openai.AsyncOpenAI(api_key="k1", base_url=service.base_url, max_retries=0, timeout=30) as client,
        openai.AsyncOpenAI(api_key="k2", base_url=service.base_url, max_retries=0, timeout=30) as stranger,
    ):
        trainer = OpenAITrainer(client)
        uploaded = await trainer.upload(data, "corrections.jsonl")
        assert uploaded.bytes == len(sft_jsonl())
        started = await trainer.start(
            TrainingRequest(uploaded.id, "tiny", "sft", "guild42", Hyperparameters(n_epochs=2, batch_size=4)),
            tag="request-1",
        )
        # A start whose answer was lost is found again by its tag, as the bot reconciles.
        found = await trainer.find_tagged("request-1")
        assert found is not None and found.remote_id == started.remote_id
        assert await trainer.find_tagged("request-2") is None
        assert (started.status, started.method, started.base_model, started.finished) == (
            "validating_files",
            "sft",
            "tiny",
            False,
        )
        await wait_for_job(service, started.remote_id, lambda j: j["status"] in ("succeeded", "failed"))
        done = await trainer.get(started.remote_id)
        assert done.status == "succeeded" and done.finished and done.error is None
        assert done.fine_tuned_model == f"ft:tiny:guild42:{done.remote_id.removeprefix('ftjob-')}"

        events = await trainer.events(done.remote_id)
        metrics = [e for e in events if e.kind == "metrics"]
        assert [e.step for e in metrics] == [1, 2, 3, 4] and {e.total_steps for e in metrics} == {4}
        assert all(e.train_loss is not None for e in metrics)
        assert metrics[-1].train_loss < metrics[0].train_loss  # type: ignore[operator]
        later = await trainer.events(done.remote_id, after=metrics[1].event_id)
        assert [e.event_id for e in later] == [e.event_id for e in events[events.index(metrics[1]) + 1 :]]
        assert [e.event_id for e in await trainer.events(done.remote_id, limit=2)] == [e.event_id for e in events[-2:]]

        dpo_data = tmp_path / "pairs.jsonl"
        dpo_data.write_bytes(dpo_jsonl())
        dpo = await trainer.start(
            TrainingRequest(
                (await trainer.upload(dpo_data, "p.jsonl")).id,
                "tiny",
                "dpo",
                None,
                Hyperparameters(n_epochs=1, beta=0.2),
            ),
            tag="request-2",
        )
        await wait_for_job(service, dpo.remote_id, lambda j: j["status"] in ("succeeded", "failed"))
        assert (await trainer.get(dpo.remote_id)).status == "succeeded"
        listed = await trainer.list(limit=1, follow=True)
        assert [j.remote_id for j in listed] == [dpo.remote_id, done.remote_id]
        assert [j.method for j in listed] == ["dpo", "sft"]

        with pytest.raises(TrainerRejected, match="already succeeded"):
            await trainer.cancel(done.remote_id)
        with pytest.raises(TrainerNotFound):
            await trainer.get("ftjob-unknown")
        with pytest.raises(TrainerRejected, match="not available for fine-tuning"):
            await trainer.start(TrainingRequest(uploaded.id, "gpt-4.1-mini-2025-04-14", "sft"), tag="request-3")
        with pytest.raises(TrainerAuthFailed):
            await OpenAITrainer(stranger).list()
