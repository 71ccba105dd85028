"""/jobs: follow this server's training jobs (list, progress and loss plot, events), cancel one, activate a model."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of, guild_only
from bot.discord.handlers import Handlers
from bot.discord.job_actions import activate, cancel, cancel_question, events_text, loss_plot_embed, worse_warning
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.discord.training import activate_anyway_row, finished_job, job_in_guild, job_label, jobs_page
from bot.errors import InvalidInput
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
        await ctx.interaction.edit_initial_response(embed=await loss_plot_embed(jobs, job))


@jobs_group.register
class JobEvents(lightbulb.SlashCommand, name="events", description=N_("A training job's latest events"), localize=True):
    job = lightbulb.integer("job", N_("Which job"), localize=True, autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, jobs: JobStore = lightbulb.di.INJECTED) -> None:
        job = await job_in_guild(jobs, ctx.guild_id, self.job)
        await ctx.respond(await events_text(jobs, job), ephemeral=True)


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
        question, components = cancel_question(await job_in_guild(jobs, guild_of(ctx), self.job))
        await ctx.respond(question, components=components, ephemeral=True)


@handlers.button(keys.JOB_CANCEL)
async def on_cancel_button(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    trainers: Trainers = lightbulb.di.INJECTED,
    watcher: JobWatcher = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    guild_id = require_admin(ctx.interaction, discord, CANCELLING)
    said = await cancel(jobs, trainers, watcher, guild_id, ctx.id_metadata)
    await ctx.create_initial_response(said, response_type=hikari.ResponseType.MESSAGE_UPDATE, components=[])


async def _activatable(jobs: JobStore, ctx: yuyo.ComponentContext, discord: DiscordSettings) -> TrainingJob:
    guild_id = require_admin(ctx.interaction, discord, N_("switch models"))
    return await finished_job(jobs, guild_id, ctx.id_metadata)


@handlers.button(keys.ACTIVATE_MODEL)
async def on_activate(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    guilds: GuildSettingsStore = lightbulb.di.INJECTED,
    tests: ModelTestStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    job = await _activatable(jobs, ctx, discord)
    if (warning := await worse_warning(tests, job)) is not None:  # a second, deliberate click
        await ctx.create_initial_response(warning, components=[activate_anyway_row(job.id)], ephemeral=True)
        return
    await ctx.create_initial_response(await activate(guilds, job, ctx.interaction.user.id))


@handlers.button(keys.ACTIVATE_ANYWAY)
async def on_activate_anyway(
    ctx: yuyo.ComponentContext,
    jobs: JobStore = lightbulb.di.INJECTED,
    guilds: GuildSettingsStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    job = await _activatable(jobs, ctx, discord)
    await ctx.create_initial_response(await activate(guilds, job, ctx.interaction.user.id))


loader.command(jobs_group)
