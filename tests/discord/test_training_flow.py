"""`/train again:<job>`: only this server's jobs whose data is still kept can be trained again, and what the admin
leaves out (base model, suffix, method) is taken from the job where the chosen backend allows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord.training_flow import again_of
from bot.errors import NotFound
from bot.finetuning.backends import configured_backends
from bot.finetuning.kept import KeptDatasets
from bot.finetuning.settings import TrainingSettings
from bot.store.database import Database
from bot.store.jobs import JobStore, NewJob

DIGEST = "ab" * 32
TRAINING = TrainingSettings(keep_datasets_days=30)


async def job_with_data(db: Database, guild: int = 5, base_model: str = "gpt-4o-mini-2024-07-18") -> int:
    added = await JobStore(db).add(
        NewJob(
            guild_id=guild,
            channel_id=10,
            requester_id=20,
            backend="openai",
            remote_id=f"ftjob-{guild}-{base_model}",
            base_model=base_model,
            method="dpo",
            suffix="support",
            dataset_sha256=DIGEST,
            dataset_examples=120,
            status="succeeded",
        )
    )
    return added.id


def kept(tmp_path: Path, keep: bool = True) -> KeptDatasets:
    datasets = KeptDatasets(tmp_path / "kept", keep_days=30)
    if keep:
        source = tmp_path / "train.jsonl"
        source.write_text('{"messages": []}\n')
        datasets.keep(source, DIGEST)
    return datasets


async def test_a_kept_job_is_trained_again_with_its_own_choices_unless_others_are_given(
    db: Database, tmp_path: Path
) -> None:
    job_id = await job_with_data(db)
    again = await again_of(JobStore(db), kept(tmp_path), TRAINING, 5, job_id)
    assert again.path.read_text() == '{"messages": []}\n'
    assert again.described == f"the data of job #{job_id} (120 examples)"
    openai = configured_backends(TRAINING)["openai"]
    assert again.choices(None, None, None, openai) == ("gpt-4o-mini-2024-07-18", "support", "dpo")
    assert again.choices("gpt-4.1-mini-2025-04-14", "v2", "sft", openai) == ("gpt-4.1-mini-2025-04-14", "v2", "sft")


async def test_a_base_model_the_backend_does_not_train_is_left_to_the_backends_default(
    db: Database, tmp_path: Path
) -> None:
    job_id = await job_with_data(db, base_model="qwen2.5-1.5b-instruct")
    again = await again_of(JobStore(db), kept(tmp_path), TRAINING, 5, job_id)
    openai = configured_backends(TRAINING)["openai"]
    assert again.choices(None, None, None, openai) == (None, "support", "dpo")


async def test_another_servers_job_or_data_no_longer_kept_is_refused(db: Database, tmp_path: Path) -> None:
    theirs = await job_with_data(db, guild=6)
    with pytest.raises(NotFound, match=rf"^This server has no training job #{theirs}\.$"):
        await again_of(JobStore(db), kept(tmp_path), TRAINING, 5, theirs)
    mine = await job_with_data(db)
    with pytest.raises(NotFound, match=rf"^Job #{mine}'s training data is no longer kept \(kept 30 days\)\.$"):
        await again_of(JobStore(db), kept(tmp_path / "elsewhere", keep=False), TRAINING, 5, mine)
