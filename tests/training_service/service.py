"""Running the training service in-process for tests (reusable from end-to-end tests), and training data.

async with running_trainer(tmp_path / "trainer", {"tiny": str(tiny_model)}, vllm_url=vllm.url) as service:
    client = openai.AsyncOpenAI(api_key=service.config.api_key or "none", base_url=service.base_url)
    job = await wait_for_job(service, job_id, lambda j: j["status"] == "succeeded")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.training_service.config import PublishSettings, TrainerConfig, TrainerSettings
from bot.training_service.service import TrainerService
from tests.training_service.tiny_model import CORPUS

Json = dict[str, Any]

# Small enough to train in about a second on 2 CPU cores; large enough to move the tiny model.
FAST = {
    "learning_rate": 2e-2,
    "epochs": 4,
    "batch_size": 4,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_length": 128,
    "device": "cpu",
    "cancel_grace_s": 5.0,
}


def trainer_config(
    data_dir: Path,
    base_models: dict[str, str],
    *,
    api_key: str | None = None,
    vllm_url: str = "",
    served_dir: str = "",
    **settings: Any,
) -> TrainerConfig:
    publish = PublishSettings(
        vllm_url=vllm_url, served_dir=served_dir, sync_interval_s=settings.pop("sync_interval_s", 3600.0)
    )
    values = {**FAST, **settings}
    return TrainerConfig(
        TrainerSettings(port=0, data_dir=str(data_dir), base_models=base_models, publish=publish, **values),
        api_key=api_key,
        vllm_api_key=None,
    )


@contextlib.asynccontextmanager
async def running_trainer(data_dir: Path, base_models: dict[str, str], **kwargs: Any) -> AsyncIterator[TrainerService]:
    """The service on 127.0.0.1 at a free port; stopped (its training processes ended) on exit."""
    service = TrainerService(trainer_config(data_dir, base_models, **kwargs))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def wait_for_job(
    service: TrainerService, job_id: str, until: Callable[[Json], bool], timeout: float = 60.0
) -> Json:
    """The job's payload once `until(payload)` holds; wakes on every write to the service's database."""

    async def wait() -> Json:
        while True:
            change = asyncio.ensure_future(service.store.wait_for_change())
            job = await service.store.get_job(job_id)
            assert job is not None, job_id
            if until(job.payload()):
                change.cancel()
                return job.payload()
            await change

    return await asyncio.wait_for(wait(), timeout)


async def wait_for_event(
    service: TrainerService, job_id: str, until: Callable[[Json], bool], timeout: float = 60.0
) -> Json:
    """The first event of the job (oldest first) for which `until(event)` holds."""

    async def wait() -> Json:
        while True:
            change = asyncio.ensure_future(service.store.wait_for_change())
            events, _ = await service.store.list_events(job_id, 100)
            for event in reversed(events):
                if until(event):
                    change.cancel()
                    return event
            await change

    return await asyncio.wait_for(wait(), timeout)


def qa_pairs() -> list[tuple[str, str]]:
    return [(q + "?", a) for q, a in (line.split("? ", 1) for line in CORPUS)]


WRONG = "I do not know that."


def sft_jsonl(pairs: list[tuple[str, str]] | None = None) -> bytes:
    lines = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in (pairs or qa_pairs())
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def dpo_jsonl(pairs: list[tuple[str, str]] | None = None) -> bytes:
    lines = [
        {
            "input": {"messages": [{"role": "user", "content": q}]},
            "preferred_output": [{"role": "assistant", "content": a}],
            "non_preferred_output": [{"role": "assistant", "content": WRONG}],
        }
        for q, a in (pairs or qa_pairs())
    ]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)
