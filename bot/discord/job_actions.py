"""`/jobs` from the command's side: a job's loss plot and events, cancelling one, and activating a finished one's
model (asked again when it scored worse in its test)."""

from __future__ import annotations

import asyncio

import hikari

from bot.discord import custom_ids as keys
from bot.discord.model_tests import score_line
from bot.discord.training import cancel_row, job_embed, job_in_guild
from bot.errors import InvalidInput, NotFound
from bot.evaluation.scorecard import stored_scorecard
from bot.finetuning.backends import Trainers
from bot.finetuning.watcher import JobWatcher
from bot.i18n import _
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import ModelTestStore


async def loss_plot_embed(jobs: JobStore, job: TrainingJob) -> hikari.Embed:
    """The job's status and progress, with its loss plot drawn."""
    from bot.finetuning.plot import render_loss_plot  # Pillow drawing, imported when first needed

    points = await jobs.metrics(job.id)
    png = await asyncio.to_thread(render_loss_plot, points, f"job #{job.id} · {job.base_model}")
    return job_embed(job).set_image(hikari.Bytes(png, f"job-{job.id}-loss.png", mimetype="image/png"))


async def events_text(jobs: JobStore, job: TrainingJob) -> str:
    """The job's latest events, as a code block that fits a message."""
    events = await jobs.events(job.id, limit=15)
    text = "\n".join(f"{e.created_at:%H:%M:%S} {e.level}: {e.message}" for e in events) or _("No events yet.")
    return _("Events of job #{id}:", id=job.id) + f"\n```\n{text[-1900:]}\n```"


def cancel_question(job: TrainingJob) -> tuple[str, list[hikari.api.MessageActionRowBuilder]]:
    """Asks to confirm cancelling a job that still runs, with the button that does it."""
    if job.finished:
        raise InvalidInput(
            _("Job #{id} already {status}; there is nothing to cancel.", id=job.id, status=_(job.status))
        )
    question = _(
        "Cancel training job #{id} (`{remote_id}`)? Work done so far is lost.",
        id=job.id,
        remote_id=job.remote_id,
    )
    return question, [cancel_row(job)]


async def cancel(jobs: JobStore, trainers: Trainers, watcher: JobWatcher, guild_id: int, metadata: str) -> str:
    """Cancel the job a confirm button names, where it runs; says its status now."""
    (job_id,) = keys.ids(metadata.partition(".")[2], 1)
    job = await job_in_guild(jobs, guild_id, job_id)
    trainer = trainers.for_job(job.backend)  # where it runs, which need not be today's default backend
    if trainer is None:
        raise NotFound(
            _(
                "Job #{id} runs on backend `{backend}`, which this bot no longer has configured.",
                id=job.id,
                backend=job.backend,
            )
        )
    remote = await trainer.cancel(job.remote_id)
    await jobs.update_from_remote(job.id, remote)
    watcher.poke()
    return _("🛑 Training job #{id} is {status}.", id=job.id, status=_(remote.status))


async def worse_warning(tests: ModelTestStore, job: TrainingJob) -> str | None:
    """What to ask before activating a model that scored worse than the current one in its test (None: it did not)."""
    card = await stored_scorecard(tests, await tests.for_job(job.id))
    if card is None or not card.worse:
        return None
    return _(
        "⚠️ `{model}` scored worse than the current model in its test: {score}.\nActivate it anyway?",
        model=job.fine_tuned_model,
        score=score_line(card),
    )


async def activate(guilds: GuildSettingsStore, job: TrainingJob, by: int) -> str:
    """The finished job's model answers in its server from now on."""
    assert job.fine_tuned_model is not None
    await guilds.set_active_model(job.guild_id, job.fine_tuned_model, by)
    return _(
        "✅ This server now uses `{model}`. `/model rollback` returns to the previous model.",
        model=job.fine_tuned_model,
    )
