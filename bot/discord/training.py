"""How training jobs look in Discord: the end-of-job notice, the summary before Confirm, the job card."""

from __future__ import annotations

import hikari

from bot.discord import custom_ids as keys
from bot.discord.language import guild_locale
from bot.discord.message_split import DISCORD_LIMIT, clip
from bot.discord.model_tests import notice_line
from bot.discord.pager import footer, pager_row
from bot.errors import InvalidInput, NotFound
from bot.evaluation.scorecard import stored_scorecard
from bot.finetuning.training_files import DatasetReport
from bot.i18n import N_, _, speaking
from bot.store.jobs import JobStore, TrainingJob
from bot.store.model_tests import ModelTestStore
from bot.store.requests import JobRequest

# Job statuses as shown (stored as the provider names them).
STATUS_NAMES = (N_("validating_files"), N_("queued"), N_("running"), N_("succeeded"), N_("failed"), N_("cancelled"))
STATUS_EMOJI = {
    "validating_files": "🔎",
    "queued": "⏳",
    "running": "🏃",
    "succeeded": "✅",
    "failed": "❌",
    "cancelled": "🛑",
}


def activate_anyway_row(job_id: int) -> hikari.api.MessageActionRowBuilder:
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.DANGER, keys.custom_id(keys.ACTIVATE_ANYWAY, job_id), label=_("Activate anyway")
    )


def activate_button(job_id: int) -> hikari.api.MessageActionRowBuilder:
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.ACTIVATE_MODEL, job_id), label=_("Activate this model")
    )


def job_notice(job: TrainingJob, tested: str = "") -> tuple[str, list[hikari.api.MessageActionRowBuilder]]:
    """The end-of-job notice; `tested` is the line with the new model's test result, next to Activate."""
    who = f"<@{job.requester_id}>"
    if job.status == "succeeded":
        return (
            _("✅ {who} training job #{id} finished: `{model}`.", who=who, id=job.id, model=job.fine_tuned_model)
            + "\n"
            + (f"{tested}\n" if tested else "")
            + _("An admin can switch this server to it now, or later with `/model use`."),
            [activate_button(job.id)],
        )
    if job.status == "failed":
        head = _("❌ {who} training job #{id} failed: ", who=who, id=job.id)
        # A training service's error can be a whole traceback; cut, so the notice fits in one Discord message.
        return head + clip(job.error or _("no reason given"), DISCORD_LIMIT - len(head)), []
    return _("🛑 {who} training job #{id} was cancelled.", who=who, id=job.id), []


def request_notice(request: JobRequest, job: TrainingJob | None) -> str:
    """What the watcher found out about a start the training service did not confirm."""
    who = f"<@{request.requester_id}>"
    if job is not None:
        return _(
            "🚀 {who} the training service confirmed your training request: it is job #{id} "
            "(`{remote_id}`). I'll post here when it ends; follow it with `/jobs show`.",
            who=who,
            id=job.id,
            remote_id=job.remote_id,
        )
    return _(
        "⚠️ {who} the training service never started your training request (`{model}`), so nothing "
        "runs and its upload was deleted. Run `/train` again.",
        who=who,
        model=request.base_model,
    )


BACKENDS = {"openai": N_("OpenAI fine-tuning"), "local": N_("this bot's training service (your GPU)")}


def summary_embed(
    report: DatasetReport, *, method: str, base_model: str, source: str, backend: str = "openai"
) -> hikari.Embed:
    embed = hikari.Embed(title=_("Ready to train"), color=0x5865F2)
    embed.add_field(_("Where"), _(BACKENDS[backend]) if backend in BACKENDS else backend, inline=True)
    embed.add_field(_("Data"), source, inline=True)
    embed.add_field(_("Method"), _("DPO (preference pairs)") if method == "dpo" else _("supervised"), inline=True)
    embed.add_field(_("Base model"), f"`{base_model}`", inline=True)
    embed.add_field(_("Examples"), f"{report.examples:,}", inline=True)
    tokens = _(
        "{total} (≈{billed} billed)", total=f"{report.total_tokens:,}", billed=f"{report.billed_tokens_estimate:,}"
    )
    embed.add_field(_("Tokens"), tokens, inline=True)
    cost = _("unknown for this model") if report.estimated_cost is None else f"≈ ${report.estimated_cost:,.2f}"
    embed.add_field(_("Estimated cost"), cost, inline=True)
    embed.set_footer(_("dataset sha256 {sha}", sha=report.sha256[:12]))
    return embed


def job_embed(job: TrainingJob) -> hikari.Embed:
    embed = hikari.Embed(
        title=_("Training job #{id}", id=job.id),
        description=f"`{job.remote_id}`",
        color=0x2ECC71 if job.finished else 0xF1C40F,
    )
    embed.add_field(_("Status"), f"{STATUS_EMOJI.get(job.status, '')} {_(job.status)}", inline=True)
    embed.add_field(_("Method"), job.method, inline=True)
    embed.add_field(_("Base model"), f"`{job.base_model}`", inline=True)
    if job.total_steps:
        done = job.steps_done or 0
        filled = round(20 * done / job.total_steps)
        bar = f"`{'█' * filled}{'░' * (20 - filled)}`"
        embed.add_field(_("Progress"), _("{bar} {done}/{total} steps", bar=bar, done=done, total=job.total_steps))
    if job.fine_tuned_model:
        embed.add_field(_("Model"), f"`{job.fine_tuned_model}`")
    if job.error:
        embed.add_field(_("Error"), job.error[:1024])
    embed.add_field(_("Examples"), f"{job.dataset_examples:,}", inline=True)
    embed.add_field(_("Requested by"), f"<@{job.requester_id}>", inline=True)
    embed.set_footer(_("started {when} UTC", when=f"{job.created_at:%Y-%m-%d %H:%M}"))
    return embed


class JobAnnouncer:
    """Posts the job watcher's notices in the channel where the job was started, mentioning who started it."""

    def __init__(self, rest: hikari.api.RESTClient, tests: ModelTestStore) -> None:
        self._rest = rest
        self._tests = tests

    async def job_ended(self, job: TrainingJob) -> None:
        tested = ""
        with speaking(await guild_locale(self._rest, job.guild_id)):  # a notice to the server, in its language
            if job.status == "succeeded":
                test = await self._tests.for_job(job.id)
                tested = notice_line(test, await stored_scorecard(self._tests, test))
            content, components = job_notice(job, tested)
        await self._rest.create_message(
            job.channel_id, content, components=components, user_mentions=[job.requester_id]
        )

    async def request_settled(self, request: JobRequest, job: TrainingJob | None) -> None:
        with speaking(await guild_locale(self._rest, request.guild_id)):
            notice = request_notice(request, job)
        await self._rest.create_message(request.channel_id, notice, user_mentions=[request.requester_id])


JOBS_PAGE_SIZE = 10
DATASET_EXTENSIONS = {"jsonl", "csv"}
DATASET_TYPES = {"application/jsonl", "application/x-ndjson", "application/json", "text/csv", "text/plain"}


def confirm_row(prepared_id: str) -> hikari.api.MessageActionRowBuilder:
    return (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.TRAIN_CONFIRM, "confirm", prepared_id), label=_("Confirm")
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.TRAIN_CONFIRM, "cancel", prepared_id), label=_("Cancel")
        )
    )


def cancel_row(job: TrainingJob) -> hikari.api.MessageActionRowBuilder:
    return hikari.impl.MessageActionRowBuilder().add_interactive_button(
        hikari.ButtonStyle.DANGER,
        keys.custom_id(keys.JOB_CANCEL, "confirm", job.id),
        label=_("Cancel job #{id}", id=job.id),
    )


def job_label(job: TrainingJob) -> str:
    return clip(f"#{job.id} · {_(job.status)} · {job.fine_tuned_model or job.base_model}", 100)


async def job_in_guild(jobs: JobStore, guild_id: int | None, job_id: int) -> TrainingJob:
    """The job, if it belongs to this server (ids arrive from options and buttons)."""
    job = await jobs.get(job_id)
    if job is None or job.guild_id != guild_id:
        raise NotFound(_("There is no training job #{job_id} in this server.", job_id=job_id))
    return job


async def finished_job(jobs: JobStore, guild_id: int | None, metadata: str) -> TrainingJob:
    """The job named by an Activate button, if it is this server's and has a model to activate."""
    (job_id,) = keys.ids(metadata, 1)
    job = await job_in_guild(jobs, guild_id, job_id)
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise InvalidInput(_("Job #{id} has no finished model to activate.", id=job.id))
    return job


async def jobs_page(
    jobs: JobStore, guild_id: int, offset: int
) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    page = await jobs.list(guild_id, offset=offset, limit=JOBS_PAGE_SIZE)
    lines = [
        f"{STATUS_EMOJI.get(j.status, '')} **#{j.id}** {_(j.status)} · `{j.fine_tuned_model or j.base_model}` · "
        f"{j.method} · <@{j.requester_id}>"
        for j in page.items
    ]
    embed = hikari.Embed(
        title=_("Training jobs"), description="\n".join(lines) or _("No training jobs yet."), color=0x5865F2
    )
    if page.total:
        embed.set_footer(footer(offset, JOBS_PAGE_SIZE, page.total))
    return embed, pager_row(keys.JOBS_PAGE, offset, JOBS_PAGE_SIZE, page.total)


def started_notice(job: TrainingJob | None, channel_id: int) -> str:
    if job is None:
        return _(
            "⏳ The training service did not confirm the start. Nothing is lost and nothing will start twice: "
            "I'll check and post in <#{channel_id}> whether the job runs.",
            channel_id=channel_id,
        )
    return _(
        "🚀 Started training job #{id} (`{remote_id}`). I'll post in <#{channel_id}> when it ends; "
        "follow it with `/jobs show`.",
        id=job.id,
        remote_id=job.remote_id,
        channel_id=job.channel_id,
    )
