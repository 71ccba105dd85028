"""/train: check a dataset (a file or the approved corrections), show what it would cost, start the job on Confirm."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import attachments
from bot.discord import custom_ids as keys
from bot.discord.choices import name_choices
from bot.discord.handlers import Handlers
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.discord.training import (
    DATASET_EXTENSIONS,
    DATASET_TYPES,
    confirm_row,
    job_embed,
    started_notice,
    summary_embed,
)
from bot.discord.usage import budget_left_text
from bot.errors import InvalidInput
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger
from bot.store.corrections import CorrectionStore
from bot.store.requests import JobRequestStore
from bot.training.prepared import PreparedDatasets
from bot.training.preparing import DatasetPreparer
from bot.training.settings import TrainingSettings
from bot.training.starting import start_training
from bot.training.trainer import Hyperparameters, Trainer
from bot.training.watcher import JobWatcher

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
TRAIN = "start training"


async def base_model_choices(
    ctx: lightbulb.AutocompleteContext[str], training: TrainingSettings = lightbulb.di.INJECTED
) -> None:
    typed = str(ctx.focused.value or "").lower()
    models = [m for m in training.base_models if typed in m.lower()]
    await ctx.respond(name_choices(models))


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
    async def invoke(
        self,
        ctx: lightbulb.Context,
        *,
        preparer: DatasetPreparer = lightbulb.di.INJECTED,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        training: TrainingSettings = lightbulb.di.INJECTED,
        ledger: UsageLedger = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, TRAIN)
        assert ctx.guild_id is not None
        if (self.data is None) == (self.source is None):
            raise InvalidInput("Give either a `data` file or `source: approved corrections` (one of the two).")
        ask = preparer.ask(
            self.base_model,
            self.suffix,
            self.method,
            guild_id=ctx.guild_id,
            channel_id=ctx.channel_id,
            requester_id=ctx.user.id,
        )
        limit = preparer.max_upload_bytes
        if self.data is not None:  # size and type are checked before a single byte is downloaded
            attachments.check_attachment(
                self.data,
                max_bytes=limit,
                extensions=DATASET_EXTENSIONS,
                media_types=DATASET_TYPES,
                what="a training file",
            )
        await ctx.defer(ephemeral=True)
        await ledger.check(ctx.guild_id, None)  # a spent monthly budget: no job can start, so none is prepared
        if self.data is not None:
            fmt = "csv" if attachments.extension(self.data.filename) == "csv" else "jsonl"
            chunks = attachments.chunks(self.data, max_bytes=limit, what="the training file")
            prepared = await preparer.from_upload(chunks, fmt, ask)
        else:
            approved = await corrections.with_status(ctx.guild_id, "approved")
            prepared = await preparer.from_corrections(approved, ask, llm.system_prompt or None)
        embed = summary_embed(
            prepared.report,
            method=prepared.method,
            base_model=prepared.base_model,
            source=prepared.source,
            backend=training.backend,
        )
        report = prepared.report
        estimate = await ledger.estimate_spend(ctx.guild_id, report.billed_tokens_estimate, report.estimated_cost)
        embed.add_field("This server's budget", budget_left_text(estimate), inline=False)
        # Replaces the deferred "thinking…" response (a follow-up would leave it hanging).
        await ctx.interaction.edit_initial_response(embed=embed, components=[confirm_row(prepared.id)])


@handlers.button(keys.TRAIN_CONFIRM)
async def on_train_button(
    ctx: yuyo.ComponentContext,
    *,
    prepared_datasets: PreparedDatasets = lightbulb.di.INJECTED,
    trainer: Trainer = lightbulb.di.INJECTED,
    requests: JobRequestStore = lightbulb.di.INJECTED,
    watcher: JobWatcher = lightbulb.di.INJECTED,
    training: TrainingSettings = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
    ledger: UsageLedger = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    require_admin(interaction.app, interaction.member, interaction.guild_id, discord, TRAIN)
    action, _, prepared_id = ctx.id_metadata.partition(".")
    update = hikari.ResponseType.MESSAGE_UPDATE
    if action == "cancel":
        prepared_datasets.discard(prepared_id, interaction.guild_id)
        await ctx.create_initial_response(
            "Cancelled: nothing was uploaded.", response_type=update, components=[], embeds=[]
        )
        return
    # A spent monthly budget starts no job (one read; the dataset stays ready: a raised budget lets Confirm start it).
    await ledger.check(interaction.guild_id, None)
    prepared = prepared_datasets.take(prepared_id, interaction.guild_id)
    await ctx.defer(defer_type=hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    hyper = Hyperparameters(n_epochs=training.epochs, beta=training.dpo_beta if prepared.method == "dpo" else None)
    result = await start_training(prepared, trainer=trainer, requests=requests, hyperparameters=hyper)
    watcher.poke()
    report = prepared.report
    await ledger.record_training(
        prepared.guild_id, prepared.requester_id, prepared.base_model, report.billed_tokens_estimate,
        report.estimated_cost,
    )  # fmt: skip
    job = result.job
    await ctx.edit_initial_response(
        started_notice(job, prepared.channel_id), components=[], embeds=[job_embed(job)] if job is not None else []
    )
