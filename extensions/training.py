"""/train: check a dataset (a file or the approved corrections), show what it would cost, start the job on Confirm."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
from bot.discord.choices import name_choices
from bot.discord.dataset_upload import dataset_upload
from bot.discord.handlers import Handlers
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.discord.training import confirm_row, job_embed, started_notice
from bot.discord.training_flow import again_of, start_confirmed, summary_with_budget
from bot.errors import InvalidInput
from bot.finetuning.awaiting_confirm import PreparedDatasets
from bot.finetuning.backends import Trainers
from bot.finetuning.cutoff import TrainingClosed, TrainingCutoff
from bot.finetuning.kept import KeptDatasets
from bot.finetuning.preparing import DatasetPreparer
from bot.finetuning.settings import TrainingSettings
from bot.finetuning.watcher import JobWatcher
from bot.i18n import N_, _
from bot.llm.settings import LLMSettings
from bot.llm.usage import UsageLedger
from bot.store.corrections import CorrectionStore
from bot.store.jobs import JobStore
from bot.store.requests import JobRequestStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
TRAINING = N_("start training")
TRAIN = admin_only(TRAINING)


async def base_model_choices(
    ctx: lightbulb.AutocompleteContext[str], preparer: DatasetPreparer = lightbulb.di.INJECTED
) -> None:
    typed = str(ctx.focused.value or "").lower()
    chosen = ctx.get_option("backend")
    backends = preparer.backends
    named = backends.get(str(chosen.value)) if chosen is not None else None
    # The base models of the backend already chosen; else every backend's (each name once).
    offered = named.base_models if named is not None else [m for b in backends.values() for m in b.base_models]
    models = [m for m in dict.fromkeys(offered) if typed in m.lower()]
    await ctx.respond(name_choices(models))


async def backend_choices(ctx: lightbulb.AutocompleteContext[str], trainers: Trainers = lightbulb.di.INJECTED) -> None:
    typed = str(ctx.focused.value or "").lower()
    await ctx.respond(name_choices([n for n in trainers.names if typed in n.lower()]))


@loader.command
class Train(
    lightbulb.SlashCommand,
    name="train",
    description=N_("Fine-tune a model from a file or from corrections"),
    localize=True,
    contexts=GUILD_ONLY,
    hooks=[TRAIN],
):
    data = lightbulb.attachment(
        "data", N_("A .jsonl (chat or DPO lines) or .csv (question,answer[,rejected])"), localize=True, default=None
    )
    source = lightbulb.string(
        "source",
        N_("Or train from this server's data"),
        localize=True,
        choices=[lightbulb.Choice(N_("approved corrections"), "corrections", localize=True)],
        default=None,
    )
    method = lightbulb.string(
        "method",
        N_("supervised (examples) or dpo (preferred vs rejected answers); default: what the data holds"),
        localize=True,
        choices=[lightbulb.Choice(N_("supervised"), "sft", localize=True), lightbulb.Choice("dpo", "dpo")],
        default=None,
    )
    again = lightbulb.integer(
        "again",
        N_("Or train a job's data again (kept for a while), e.g. on another base model"),
        localize=True,
        default=None,
    )
    backend = lightbulb.string(
        "backend",
        N_("Where to train (a configured backend); default: the usual one"),
        localize=True,
        autocomplete=backend_choices,
        default=None,
    )
    base_model = lightbulb.string(
        "base_model", N_("The model to fine-tune"), localize=True, autocomplete=base_model_choices, default=None
    )
    suffix = lightbulb.string(
        "suffix", N_("A short name for the new model (a-z, 0-9, - or _)"), localize=True, default=None
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        *,
        preparer: DatasetPreparer = lightbulb.di.INJECTED,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        training: TrainingSettings = lightbulb.di.INJECTED,
        cutoff: TrainingCutoff = lightbulb.di.INJECTED,
        jobs: JobStore = lightbulb.di.INJECTED,
        kept: KeptDatasets = lightbulb.di.INJECTED,
        ledger: UsageLedger = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        backend = preparer.backend(self.backend)  # a name that is not configured is refused here
        cutoff.check(backend.name)  # before anything is downloaded or uploaded
        if [self.data, self.source, self.again].count(None) != 2:
            raise InvalidInput(
                _("Give either a `data` file, `source: approved corrections`, or `again: <job>` (one of the three).")
            )
        base_model, suffix, method = self.base_model, self.suffix, self.method
        again = None if self.again is None else await again_of(jobs, kept, training, guild_id, self.again)
        if again is not None:
            base_model, suffix, method = again.choices(base_model, suffix, method, backend)
        ask = preparer.ask(
            base_model,
            suffix,
            method,
            guild_id=guild_id,
            channel_id=ctx.channel_id,
            requester_id=ctx.user.id,
            backend=backend.name,
        )
        # Size and type are checked before a single byte is downloaded.
        upload = dataset_upload(self.data, max_bytes=preparer.max_upload_bytes, what="training file")
        await ctx.defer(ephemeral=True)
        await ledger.check(guild_id, None)  # a spent monthly budget: no job can start, so none is prepared
        if upload is not None:
            prepared = await preparer.from_upload(upload.chunks(), upload.format, ask)
        elif again is not None:
            prepared = await preparer.from_kept(again.path, ask, again.described)
        else:
            approved = await corrections.with_status(guild_id, "approved")
            prepared = await preparer.from_corrections(approved, ask, llm.system_prompt or None)
        embed = await summary_with_budget(prepared, backend, ledger)
        # Replaces the deferred "thinking…" response (a follow-up would leave it hanging).
        note = cutoff.note(backend.name)
        await ctx.interaction.edit_initial_response(
            f"⏳ {note}" if note else None, embed=embed, components=[confirm_row(prepared.id)]
        )


@handlers.button(keys.TRAIN_CONFIRM)
async def on_train_button(
    ctx: yuyo.ComponentContext,
    *,
    prepared_datasets: PreparedDatasets = lightbulb.di.INJECTED,
    trainers: Trainers = lightbulb.di.INJECTED,
    requests: JobRequestStore = lightbulb.di.INJECTED,
    watcher: JobWatcher = lightbulb.di.INJECTED,
    training: TrainingSettings = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
    cutoff: TrainingCutoff = lightbulb.di.INJECTED,
    kept: KeptDatasets = lightbulb.di.INJECTED,
    ledger: UsageLedger = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = require_admin(interaction, discord, TRAINING)
    action, _sep, prepared_id = ctx.id_metadata.partition(".")
    update = hikari.ResponseType.MESSAGE_UPDATE
    if action == "cancel":
        prepared_datasets.discard(prepared_id, guild_id)
        await ctx.create_initial_response(
            _("Cancelled: nothing was uploaded."), response_type=update, components=[], embeds=[]
        )
        return
    # A spent monthly budget starts no job (one read; the dataset stays ready: a raised budget lets Confirm start it).
    await ledger.check(guild_id, None)
    prepared = prepared_datasets.take(prepared_id, guild_id)
    backend = prepared.backend or None
    try:
        trainer = trainers.of(backend)
        cutoff.check(backend)
    except (TrainingClosed, InvalidInput):
        prepared.path.unlink(missing_ok=True)  # the cut-off passed while Confirm waited (or the backend went)
        raise
    await ctx.defer(defer_type=hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
    job = await start_confirmed(
        prepared, trainer=trainer, requests=requests, watcher=watcher, kept=kept, ledger=ledger, training=training
    )
    await ctx.edit_initial_response(
        started_notice(job, prepared.channel_id), components=[], embeds=[job_embed(job)] if job is not None else []
    )
