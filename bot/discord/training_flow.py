"""`/train` from the command's side: a job's kept data trained again, the summary with what the server's budget has
left, and a confirmed dataset started as a job."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import hikari

from bot.discord.training import summary_embed
from bot.discord.usage import budget_left_text
from bot.errors import NotFound
from bot.finetuning.awaiting_confirm import PreparedDataset
from bot.finetuning.backends import Backend
from bot.finetuning.kept import KeptDatasets
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.starting import start_training
from bot.finetuning.trainer import Hyperparameters, Trainer
from bot.finetuning.watcher import JobWatcher
from bot.i18n import _
from bot.llm.usage import UsageLedger
from bot.store.jobs import JobStore, TrainingJob
from bot.store.requests import JobRequestStore


@attrs.frozen
class Again:
    """A job of this server whose training data is still kept, to train again (on another base model, say)."""

    job: TrainingJob
    path: Path

    @property
    def described(self) -> str:
        return _("the data of job #{id} ({count} examples)", id=self.job.id, count=self.job.dataset_examples)

    def choices(
        self, base_model: str | None, suffix: str | None, method: str | None, backend: Backend
    ) -> tuple[str | None, str | None, str | None]:
        """What was not given is the job's: its base model where the backend trains it, its suffix and method."""
        if base_model is None and self.job.base_model in backend.base_models:
            base_model = self.job.base_model
        return base_model, suffix or self.job.suffix, method or self.job.method


async def again_of(jobs: JobStore, kept: KeptDatasets, training: TrainingSettings, guild_id: int, job_id: int) -> Again:
    job = await jobs.get(job_id)
    if job is None or job.guild_id != guild_id:
        raise NotFound(_("This server has no training job #{id}.", id=job_id))
    path = kept.path_of(job.dataset_sha256)
    if path is None:
        raise NotFound(
            _(
                "Job #{id}'s training data is no longer kept (kept {days} days).",
                id=job.id,
                days=f"{training.keep_datasets_days:g}",
            )
        )
    return Again(job, path)


async def summary_with_budget(prepared: PreparedDataset, backend: Backend, ledger: UsageLedger) -> hikari.Embed:
    """What the dataset holds and would cost, and what the server's monthly budget has left after it."""
    report = prepared.report
    embed = summary_embed(
        report, method=prepared.method, base_model=prepared.base_model, source=prepared.source, backend=backend.label
    )
    estimate = await ledger.estimate_spend(prepared.guild_id, report.billed_tokens_estimate, report.estimated_cost)
    return embed.add_field(_("This server's budget"), budget_left_text(estimate), inline=False)


async def start_confirmed(
    prepared: PreparedDataset,
    *,
    trainer: Trainer,
    requests: JobRequestStore,
    watcher: JobWatcher,
    kept: KeptDatasets,
    ledger: UsageLedger,
    training: TrainingSettings,
) -> TrainingJob | None:
    """Start the confirmed dataset's job (None: the backend did not confirm it yet) and count it at its estimate."""
    # Kept before the upload (which deletes the prepared file): `/train again:<job>` trains it elsewhere later.
    await asyncio.to_thread(kept.keep, prepared.path, prepared.report.sha256)
    hyper = Hyperparameters(n_epochs=training.epochs, beta=training.dpo_beta if prepared.method == "dpo" else None)
    result = await start_training(prepared, trainer=trainer, requests=requests, hyperparameters=hyper)
    watcher.poke()
    report = prepared.report
    await ledger.record_training(
        prepared.guild_id, prepared.requester_id, prepared.base_model, report.billed_tokens_estimate,
        report.estimated_cost,
    )  # fmt: skip
    return result.job
