"""/jobs: follow this server's training jobs (list, progress and loss plot, events), cancel one, activate a model."""

from __future__ import annotations

import asyncio

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of, guild_only
from bot.discord.handlers import Handlers
from bot.discord.model_tests import score_line
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.discord.training import (
    activate_anyway_row,
    cancel_row,
    finished_job,
    job_embed,
    job_in_guild,
    job_label,
    jobs_page,
)
from bot.errors import InvalidInput, NotFound
from bot.evaluation.scorecard import stored_scorecard
from bot.finetuning.backends import Trainers
from bot.finetuning.watcher import JobWatcher
from bot.i18n import N_, _, use_language
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import ModelTestStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
jobs_group = lightbulb.Group("jobs", N_("Training jobs in this server"), localize=True, contexts=GUILD_ONLY)
CANCELLING = N_("cancel training jobs")


async def job_choices(ctx: lightbulb.AutocompleteContext[int], jobs: JobStore = lightbulb.di.INJECTED) -> None:
    """This server's jobs, newest first, filtered by what was typed; the label shows the status."""
    use_language(ctx.interaction.locale)  # autocomplete runs no hooks
    guild_id = ctx.interaction.guild_id
    found = await jobs.search(guild_id, str(ctx.focused.value or "")) if guild_id is not None else []
    await ctx.respond([(job_label(j), j.id) for j in found])


@jobs_group.register
class ListJobs(
    lightbulb.SlashCommand,
    name="list",
    description=N_("This server's training jobs, newest first"),
    localize=True,
    hooks=[guild_only(N_("Training jobs belong to a server: run this in one."))],
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, jobs: JobStore = lightbulb.di.INJECTED) -> None:
        embed, components = await jobs_page(jobs, guild_of(ctx), 0)
        await ctx.respond(embed=embed, components=components, ephemeral=True)


@handlers.button(keys.JOBS_PAGE)
async def on_jobs_page(ctx: yuyo.ComponentContext, jobs: JobStore = lightbulb.di.INJECTED) -> None:
    guild_id = ctx.interaction.guild_id
    if guild_id is None:
        raise InvalidInput(_("Training jobs belong to a server."))
    (offset,) = keys.ids(ctx.id_metadata, 1)
    embed, components = await jobs_page(jobs, guild_id, offset)
    await ctx.create_initial_response(
        response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=[embed], components=components
    )


@jobs_group.register
class ShowJob(
    lightbulb.SlashCommand,
    name="show",
    description=N_("A training job's status, progress and loss plot"),
    localize=True,
):
    job = lightbulb.integer("job", N_("Which job"), localize=True, autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, jobs: JobStore = lightbulb.di.INJECTED) -> None:
        job = await job_in_guild(jobs, ctx.guild_id, self.job)
        await ctx.defer(ephemeral=True)
        from bot.finetuning.plot import render_loss_plot  # Pillow drawing, imported when first needed

        points = await jobs.metrics(job.id)
        png = await asyncio.to_thread(render_loss_plot, points, f"job #{job.id} · {job.base_model}")
        embed = job_embed(job).set_image(hikari.Bytes(png, f"job-{job.id}-loss.png", mimetype="image/png"))
        await ctx.interaction.edit_initial_response(embed=embed)


@jobs_group.register
class JobEvents(lightbulb.SlashCommand, name="events", description=N_("A training job's latest events"), localize=True):
    job = lightbulb.integer("job", N_("Which job"), localize=True, autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, jobs: JobStore = lightbulb.di.INJECTED) -> None:
        job = await job_in_guild(jobs, ctx.guild_id, self.job)
        events = await jobs.events(job.id, limit=15)
        text = "\n".join(f"{e.created_at:%H:%M:%S} {e.level}: {e.message}" for e in events) or _("No events yet.")
        await ctx.respond(_("Events of job #{id}:", id=job.id) + f"\n```\n{text[-1900:]}\n```", ephemeral=True)


@jobs_group.register
class CancelJob(
    lightbulb.SlashCommand,
    name="cancel",
    description=N_("Cancel a running training job (admins)"),
    localize=True,
    hooks=[admin_only(CANCELLING)],
):
    job = lightbulb.integer("job", N_("Which job"), localize=True, autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, jobs: JobStore = lightbulb.di.INJECTED) -> None:
        job = await job_in_guild(jobs, guild_of(ctx), self.job)
        if job.finished:
            raise InvalidInput(
                _("Job #{id} already {status}; there is nothing to cancel.", id=job.id, status=_(job.status))
            )
        await ctx.respond(
            _(
                "Cancel training job #{id} (`{remote_id}`)? Work done so far is lost.",
                id=job.id,
                remote_id=job.remote_id,
            ),
            components=[cancel_row(job)],
            ephemeral=True,
        )


@handlers.button(keys.JOB_CANCEL)
async def on_cancel_button(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    trainers: Trainers = lightbulb.di.INJECTED,
    watcher: JobWatcher = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = require_admin(interaction, discord, CANCELLING)
    (job_id,) = keys.ids(ctx.id_metadata.partition(".")[2], 1)
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
    await ctx.create_initial_response(
        _("🛑 Training job #{id} is {status}.", id=job.id, status=_(remote.status)),
        response_type=hikari.ResponseType.MESSAGE_UPDATE,
        components=[],
    )


async def _activatable(jobs: JobStore, ctx: yuyo.ComponentContext, discord: DiscordSettings) -> TrainingJob:
    guild_id = require_admin(ctx.interaction, discord, N_("switch models"))
    return await finished_job(jobs, guild_id, ctx.id_metadata)


async def _activate(ctx: yuyo.ComponentContext, job: TrainingJob, guilds: GuildSettingsStore) -> None:
    assert job.fine_tuned_model is not None
    await guilds.set_active_model(job.guild_id, job.fine_tuned_model, ctx.interaction.user.id)
    await ctx.create_initial_response(
        _(
            "✅ This server now uses `{model}`. `/model rollback` returns to the previous model.",
            model=job.fine_tuned_model,
        )
    )


@handlers.button(keys.ACTIVATE_MODEL)
async def on_activate(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    guilds: GuildSettingsStore = lightbulb.di.INJECTED,
    tests: ModelTestStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    job = await _activatable(jobs, ctx, discord)
    card = await stored_scorecard(tests, await tests.for_job(job.id))
    if card is not None and card.worse:  # a second, deliberate click
        await ctx.create_initial_response(
            _(
                "⚠️ `{model}` scored worse than the current model in its test: {score}.\nActivate it anyway?",
                model=job.fine_tuned_model,
                score=score_line(card),
            ),
            components=[activate_anyway_row(job.id)],
            ephemeral=True,
        )
        return
    await _activate(ctx, job, guilds)


@handlers.button(keys.ACTIVATE_ANYWAY)
async def on_activate_anyway(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    guilds: GuildSettingsStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    await _activate(ctx, await _activatable(jobs, ctx, discord), guilds)


loader.command(jobs_group)
