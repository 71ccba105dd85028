"""`/jobs` actions: a job's events as a message, confirming and cancelling a running job where it runs, and
activating a finished job's model in its server."""

from __future__ import annotations

import pytest

from bot.discord.job_actions import activate, cancel, cancel_question, events_text, worse_warning
from bot.errors import InvalidInput, NotFound
from bot.finetuning.backends import Trainers
from bot.finetuning.trainer import RemoteJob
from bot.store.database import Database
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import ModelTestStore
from tests.store.test_jobs import event, new, remote


class Trainer:
    """A backend that cancels what it is asked to."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    async def cancel(self, remote_id: str) -> RemoteJob:
        self.cancelled.append(remote_id)
        return remote("cancelled")


class Watcher:
    def __init__(self) -> None:
        self.pokes = 0

    def poke(self) -> None:
        self.pokes += 1


async def running_job(jobs: JobStore, guild: int = 5) -> TrainingJob:
    return await jobs.add(new(guild=guild, status="running"))


async def test_a_job_without_events_says_so_and_one_with_events_lists_them_in_a_code_block(db: Database) -> None:
    jobs = JobStore(db)
    job = await running_job(jobs)
    assert await events_text(jobs, job) == f"Events of job #{job.id}:\n```\nNo events yet.\n```"
    await jobs.add_events(job.id, [event(1), event(2)])
    shown = await events_text(jobs, job)
    assert shown.startswith(f"Events of job #{job.id}:\n```\n") and shown.endswith("\n```")
    assert "00:00:01 info: event 1" in shown and "00:00:02 info: event 2" in shown


async def test_many_long_events_still_fit_one_discord_message(db: Database) -> None:
    jobs = JobStore(db)
    job = await running_job(jobs)
    await jobs.add_events(job.id, [event(n) for n in range(40)])
    shown = await events_text(jobs, job)
    assert len(shown) <= 2000 and shown.count("```") == 2


async def test_cancelling_asks_first_with_a_button_for_that_job(db: Database) -> None:
    job = await running_job(JobStore(db))
    question, (row,) = cancel_question(job)
    assert question == f"Cancel training job #{job.id} (`ftjob-a`)? Work done so far is lost."
    (button,) = row.components
    assert button.build()[0]["custom_id"] == f"job-cancel:confirm.{job.id}"  # type: ignore[attr-defined]


async def test_a_finished_job_has_nothing_to_cancel(db: Database) -> None:
    jobs = JobStore(db)
    job = await jobs.update_from_remote((await running_job(jobs)).id, remote("succeeded", "ft:x"))
    with pytest.raises(InvalidInput, match=rf"Job #{job.id} already succeeded; there is nothing to cancel\."):
        cancel_question(job)


async def test_the_confirm_button_cancels_the_job_at_its_backend_and_says_its_status(db: Database) -> None:
    jobs, trainer, watcher = JobStore(db), Trainer(), Watcher()
    job = await running_job(jobs)
    trainers = Trainers({"openai": trainer}, "openai")  # type: ignore[dict-item]
    said = await cancel(jobs, trainers, watcher, 5, f"confirm.{job.id}")  # type: ignore[arg-type]
    assert said == f"🛑 Training job #{job.id} is cancelled."
    assert trainer.cancelled == ["ftjob-a"] and watcher.pokes == 1
    stored = await jobs.get(job.id)
    assert stored is not None and stored.status == "cancelled"


async def test_another_servers_job_or_a_forgotten_backend_is_refused_and_nothing_is_cancelled(db: Database) -> None:
    jobs, trainer, watcher = JobStore(db), Trainer(), Watcher()
    job = await running_job(jobs)
    trainers = Trainers({"openai": trainer}, "openai")  # type: ignore[dict-item]
    with pytest.raises(NotFound, match=rf"There is no training job #{job.id} in this server\."):
        await cancel(jobs, trainers, watcher, 6, f"confirm.{job.id}")  # type: ignore[arg-type]
    elsewhere = Trainers({"local": trainer}, "local")  # type: ignore[dict-item]
    with pytest.raises(NotFound, match="runs on backend `openai`, which this bot no longer has configured"):
        await cancel(jobs, elsewhere, watcher, 5, f"confirm.{job.id}")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="out of date"):
        await cancel(jobs, trainers, watcher, 5, "confirm.x")  # type: ignore[arg-type]
    assert trainer.cancelled == [] and watcher.pokes == 0
    stored = await jobs.get(job.id)
    assert stored is not None and stored.status == "running"


async def test_activating_a_finished_job_makes_its_model_the_servers(db: Database) -> None:
    jobs, guilds = JobStore(db), GuildSettingsStore(db)
    job = await jobs.update_from_remote((await running_job(jobs)).id, remote("succeeded", "ft:gpt-4o-mini:org:a:1"))
    assert await worse_warning(ModelTestStore(db), job) is None  # never tested: nothing to warn about
    said = await activate(guilds, job, by=20)
    assert said.startswith("✅ This server now uses `ft:gpt-4o-mini:org:a:1`.") and "/model rollback" in said
    assert await guilds.active_model(5) == "ft:gpt-4o-mini:org:a:1"
    assert await guilds.active_model(6) is None
