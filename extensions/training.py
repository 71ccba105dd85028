"""/train and /jobs: check a dataset, confirm, start a fine-tuning job, follow it, cancel it, use its model."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

import hikari
import lightbulb
import yuyo

from bot import keys
from bot.app import Services
from bot.discord import attachments
from bot.discord.handlers import Handlers
from bot.discord.permissions import require_admin
from bot.discord.training import STATUS_EMOJI, job_embed, summary_embed
from bot.errors import InvalidInput, NotFound
from bot.store.jobs import TrainingJob
from bot.training.builder import CorrectionExample, jsonl
from bot.training.datasets import DatasetReport, DatasetRules, validate_path
from bot.training.prepared import PreparedDataset, new_id
from bot.training.starting import start_training
from bot.training.trainer import Hyperparameters, Method

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
_log = logging.getLogger(__name__)

DATASET_EXTENSIONS = {"jsonl", "csv"}
DATASET_TYPES = {"application/jsonl", "application/x-ndjson", "application/json", "text/csv", "text/plain"}
SUFFIX = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
PAGE_SIZE = 10
TRAIN = "start training"


async def base_model_choices(
    ctx: lightbulb.AutocompleteContext[str], services: Services = lightbulb.di.INJECTED
) -> None:
    typed = str(ctx.focused.value or "").lower()
    models = [m for m in services.settings.training.base_models if typed in m.lower()]
    await ctx.respond([(m[:100], m) for m in models[:25]])


def rules_for(services: Services, base_model: str) -> DatasetRules:
    training = services.settings.training
    return DatasetRules(
        min_examples=training.min_examples,
        max_tokens_per_example=training.max_tokens_per_example,
        epochs=training.epochs,
        price_per_million=training.prices_per_million_tokens.get(base_model),
        encoding=training.encoding,
    )


async def check_file(services: Services, source: Path, fmt: str, base_model: str) -> tuple[DatasetReport, Path]:
    """Validate off the event loop, writing the JSONL that would be uploaded."""
    out = services.prepared.new_path()
    rules = rules_for(services, base_model)
    kind = "csv" if fmt == "csv" else "jsonl"
    try:
        report = await asyncio.to_thread(validate_path, source, kind, rules, out, services.token_counter)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return report, out


@loader.command
class Train(lightbulb.SlashCommand, name="train", description="Fine-tune a model from a file or from corrections"):
    data = lightbulb.attachment(
        "data", "A .jsonl (chat or DPO lines) or .csv (question,answer[,rejected])", default=None
    )
    source = lightbulb.string(
        "source",
        "Or train from this server's data",
        choices=[lightbulb.Choice("approved corrections", "corrections")],
        default=None,
    )
    method = lightbulb.string(
        "method",
        "supervised (examples) or dpo (preferred vs rejected answers); default: what the data holds",
        choices=[lightbulb.Choice("supervised", "sft"), lightbulb.Choice("dpo", "dpo")],
        default=None,
    )
    base_model = lightbulb.string("base_model", "The model to fine-tune", autocomplete=base_model_choices, default=None)
    suffix = lightbulb.string("suffix", "A short name for the new model (a-z, 0-9, - or _)", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, TRAIN)
        assert ctx.guild_id is not None
        training = services.settings.training
        if (self.data is None) == (self.source is None):
            raise InvalidInput("Give either a `data` file or `source: approved corrections` (one of the two).")
        base_model = (self.base_model or training.default_base_model).strip()
        if base_model not in training.base_models:
            names = ", ".join(f"`{m}`" for m in training.base_models)
            raise InvalidInput(f"`{base_model}` is not a base model this bot trains. Choose one of: {names}.")
        suffix = (self.suffix or "").strip().lower() or None
        if suffix is not None and not SUFFIX.match(suffix):
            raise InvalidInput("The suffix may use a-z, 0-9, - and _ only, up to 40 characters.")
        max_bytes = int(training.max_upload_mb * 1024 * 1024)
        if self.data is not None:
            # Size and type are checked before a single byte is downloaded.
            attachments.check_attachment(
                self.data,
                max_bytes=max_bytes,
                extensions=DATASET_EXTENSIONS,
                media_types=DATASET_TYPES,
                what="a training file",
            )
        await ctx.defer(ephemeral=True)
        if self.data is not None:
            fmt = attachments.extension(self.data.filename)
            upload = services.prepared.new_path(".upload")
            try:
                with open(upload, "wb") as f:  # noqa: ASYNC230 - small writes of streamed chunks
                    async for chunk in attachments.chunks(self.data, max_bytes=max_bytes, what="the training file"):
                        f.write(chunk)
                report, out = await check_file(services, upload, "csv" if fmt == "csv" else "jsonl", base_model)
            finally:
                upload.unlink(missing_ok=True)
            source = "uploaded file"
        else:
            found = await services.corrections.with_status(ctx.guild_id, "approved")
            if not found:
                raise NotFound("There are no approved corrections yet. Review some with `/corrections review`.")
            method: Method = "dpo" if self.method == "dpo" else "sft"
            prompt = services.settings.llm.system_prompt or None
            examples = [
                CorrectionExample(c.question_for_training, c.original_answer, c.corrected_answer, prompt) for c in found
            ]
            raw = services.prepared.new_path(".raw")
            try:
                raw.write_bytes(jsonl(examples, method))
                report, out = await check_file(services, raw, "jsonl", base_model)
            finally:
                raw.unlink(missing_ok=True)
            source = f"{len(found)} approved corrections"
        if not report.ok:
            out.unlink(missing_ok=True)
            raise InvalidInput(f"The training data has problems:\n```\n{report.error_summary()[:1800]}\n```")
        assert report.kind is not None
        if self.method is not None and self.method != report.kind:
            out.unlink(missing_ok=True)
            held = "preference pairs (DPO)" if report.kind == "dpo" else "plain examples (supervised)"
            raise InvalidInput(f"The data holds {held}, which does not fit method `{self.method}`.")
        prepared = PreparedDataset(
            id=new_id(),
            path=out,
            report=report,
            method=report.kind,
            base_model=base_model,
            suffix=suffix,
            guild_id=ctx.guild_id,
            channel_id=ctx.channel_id,
            requester_id=ctx.user.id,
            source=source,
            created=time.monotonic(),
        )
        services.prepared.add(prepared)
        row = (
            hikari.impl.MessageActionRowBuilder()
            .add_interactive_button(
                hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.TRAIN_CONFIRM, "confirm", prepared.id), label="Confirm"
            )
            .add_interactive_button(
                hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.TRAIN_CONFIRM, "cancel", prepared.id), label="Cancel"
            )
        )
        embed = summary_embed(report, method=report.kind, base_model=base_model, source=source)
        # Replaces the deferred "thinking…" response (a follow-up would leave it hanging).
        await ctx.interaction.edit_initial_response(embed=embed, components=[row])


@handlers.button(keys.TRAIN_CONFIRM)
async def on_train_button(ctx: yuyo.ComponentContext, services: Services) -> None:
    action, _, prepared_id = ctx.id_metadata.partition(".")
    interaction = ctx.interaction
    require_admin(interaction.app, interaction.member, interaction.guild_id, services.settings.discord, TRAIN)
    update = hikari.ResponseType.MESSAGE_UPDATE
    if action == "cancel":
        services.prepared.discard(prepared_id, interaction.guild_id)
        await ctx.create_initial_response(
            "Cancelled: nothing was uploaded.", response_type=update, components=[], embeds=[]
        )
        return
    prepared = services.prepared.take(prepared_id, interaction.guild_id)
    await ctx.defer(defer_type=hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    hyper = Hyperparameters(
        n_epochs=services.settings.training.epochs,
        beta=services.settings.training.dpo_beta if prepared.method == "dpo" else None,
    )
    result = await start_training(prepared, trainer=services.trainer, requests=services.requests, hyperparameters=hyper)
    services.watcher.poke()
    job = result.job
    if job is None:
        await ctx.edit_initial_response(
            "⏳ The training service did not confirm the start. Nothing is lost and nothing will start twice: "
            f"I'll check and post in <#{prepared.channel_id}> whether the job runs.",
            components=[],
            embeds=[],
        )
        return
    await ctx.edit_initial_response(
        f"🚀 Started training job #{job.id} (`{job.remote_id}`). I'll post in <#{job.channel_id}> when it ends; "
        "follow it with `/jobs show`.",
        components=[],
        embeds=[job_embed(job)],
    )


# --- /jobs ----------------------------------------------------------------------------------------------------------

jobs_group = lightbulb.Group("jobs", "Training jobs in this server")


async def job_choices(ctx: lightbulb.AutocompleteContext[int], services: Services = lightbulb.di.INJECTED) -> None:
    """This server's jobs, newest first, filtered by what was typed; the label shows the status."""
    guild_id = ctx.interaction.guild_id
    if guild_id is None:
        await ctx.respond([])
        return
    found = await services.jobs.search(guild_id, str(ctx.focused.value or ""))
    await ctx.respond([(_job_label(j), j.id) for j in found])


def _job_label(job: TrainingJob) -> str:
    label = f"#{job.id} · {job.status} · {job.fine_tuned_model or job.base_model}"
    return label if len(label) <= 100 else label[:99] + "…"


async def _guild_job(services: Services, guild_id: int | None, job_id: int) -> TrainingJob:
    job = await services.jobs.get(job_id)
    if job is None or job.guild_id != guild_id:
        raise NotFound(f"There is no training job #{job_id} in this server.")
    return job


async def jobs_page(
    services: Services, guild_id: int, offset: int
) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    page = await services.jobs.list(guild_id, offset=offset, limit=PAGE_SIZE)
    lines = [
        f"{STATUS_EMOJI.get(j.status, '')} **#{j.id}** {j.status} · `{j.fine_tuned_model or j.base_model}` · "
        f"{j.method} · <@{j.requester_id}>"
        for j in page.items
    ]
    embed = hikari.Embed(title="Training jobs", description="\n".join(lines) or "No training jobs yet.", color=0x5865F2)
    last = min(offset + PAGE_SIZE, page.total)
    if page.total:
        embed.set_footer(f"{offset + 1}–{last} of {page.total}")
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            keys.custom_id(keys.JOBS_PAGE, max(0, offset - PAGE_SIZE)),
            label="◀ Previous",
            is_disabled=offset == 0,
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            keys.custom_id(keys.JOBS_PAGE, offset + PAGE_SIZE),
            label="Next ▶",
            is_disabled=last >= page.total,
        )
    )
    return embed, [row] if page.total > PAGE_SIZE else []


@jobs_group.register
class ListJobs(lightbulb.SlashCommand, name="list", description="This server's training jobs, newest first"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Training jobs belong to a server: run this in one.")
        embed, components = await jobs_page(services, ctx.guild_id, 0)
        await ctx.respond(embed=embed, components=components, ephemeral=True)


@handlers.button(keys.JOBS_PAGE)
async def on_jobs_page(ctx: yuyo.ComponentContext, services: Services) -> None:
    guild_id = ctx.interaction.guild_id
    if guild_id is None:
        raise InvalidInput("Training jobs belong to a server.")
    (offset,) = keys.ids(ctx.id_metadata, 1)
    embed, components = await jobs_page(services, guild_id, offset)
    await ctx.create_initial_response(
        response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=[embed], components=components
    )


@jobs_group.register
class ShowJob(lightbulb.SlashCommand, name="show", description="A training job's status, progress and loss plot"):
    job = lightbulb.integer("job", "Which job", autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        job = await _guild_job(services, ctx.guild_id, self.job)
        await ctx.defer(ephemeral=True)
        from bot.training.plot import render_loss_plot

        points = await services.jobs.metrics(job.id)
        png = await asyncio.to_thread(render_loss_plot, points, f"job #{job.id} · {job.base_model}")
        embed = job_embed(job).set_image(hikari.Bytes(png, f"job-{job.id}-loss.png", mimetype="image/png"))
        await ctx.interaction.edit_initial_response(embed=embed)


@jobs_group.register
class JobEvents(lightbulb.SlashCommand, name="events", description="A training job's latest events"):
    job = lightbulb.integer("job", "Which job", autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        job = await _guild_job(services, ctx.guild_id, self.job)
        events = await services.jobs.events(job.id, limit=15)
        lines = [f"{e.created_at:%H:%M:%S} {e.level}: {e.message}" for e in events]
        text = "\n".join(lines) or "No events yet."
        await ctx.respond(f"Events of job #{job.id}:\n```\n{text[-1900:]}\n```", ephemeral=True)


@jobs_group.register
class CancelJob(lightbulb.SlashCommand, name="cancel", description="Cancel a running training job (admins)"):
    job = lightbulb.integer("job", "Which job", autocomplete=job_choices)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, "cancel training jobs")
        job = await _guild_job(services, ctx.guild_id, self.job)
        if job.finished:
            raise InvalidInput(f"Job #{job.id} already {job.status}; there is nothing to cancel.")
        row = hikari.impl.MessageActionRowBuilder().add_interactive_button(
            hikari.ButtonStyle.DANGER, keys.custom_id(keys.JOB_CANCEL, "confirm", job.id), label=f"Cancel job #{job.id}"
        )
        await ctx.respond(
            f"Cancel training job #{job.id} (`{job.remote_id}`)? Work done so far is lost.",
            components=[row],
            ephemeral=True,
        )


@handlers.button(keys.JOB_CANCEL)
async def on_cancel_button(ctx: yuyo.ComponentContext, services: Services) -> None:
    interaction = ctx.interaction
    require_admin(
        interaction.app, interaction.member, interaction.guild_id, services.settings.discord, "cancel training jobs"
    )
    (job_id,) = keys.ids(ctx.id_metadata.partition(".")[2], 1)
    job = await _guild_job(services, interaction.guild_id, job_id)
    remote = await services.trainer.cancel(job.remote_id)
    await services.jobs.update_from_remote(job.id, remote)
    services.watcher.poke()
    await ctx.create_initial_response(
        f"🛑 Training job #{job.id} is {remote.status}.",
        response_type=hikari.ResponseType.MESSAGE_UPDATE,
        components=[],
    )


@handlers.button(keys.ACTIVATE_MODEL)
async def on_activate(ctx: yuyo.ComponentContext, services: Services) -> None:
    interaction = ctx.interaction
    require_admin(interaction.app, interaction.member, interaction.guild_id, services.settings.discord, "switch models")
    (job_id,) = keys.ids(ctx.id_metadata, 1)
    job = await _guild_job(services, interaction.guild_id, job_id)
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise InvalidInput(f"Job #{job.id} has no finished model to activate.")
    await services.guilds.set_active_model(job.guild_id, job.fine_tuned_model, interaction.user.id)
    await ctx.create_initial_response(
        f"✅ This server now uses `{job.fine_tuned_model}`. `/model rollback` returns to the previous model."
    )


loader.command(jobs_group)
