"""/corrections: admins review pending corrections; everyone lists and counts them; admins export them."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.corrections import (
    CORRECTED,
    STATUS_EMOJI,
    edit_form,
    list_page,
    next_card,
    queued_correction,
    stats_embed,
    viewer_of,
)
from bot.discord.forms import submitted
from bot.discord.handlers import Handlers
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.errors import InvalidInput, NotFound
from bot.finetuning.builder import corrections_dataset
from bot.finetuning.held_out import split_approved
from bot.finetuning.settings import TrainingSettings
from bot.i18n import N_, _
from bot.llm.settings import LLMSettings
from bot.store.corrections import CorrectionStore
from bot.store.votes import VoteStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)

REVIEW = N_("review corrections")
STATUS_CHOICES = [lightbulb.Choice(s, s, localize=True) for s in STATUS_EMOJI]  # names in bot/discord/corrections

group = lightbulb.Group("corrections", N_("Review, list and export corrections"), localize=True)


@group.register
class Review(
    lightbulb.SlashCommand,
    name="review",
    description=N_("Review pending corrections one at a time (admins)"),
    localize=True,
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, REVIEW)
        assert ctx.guild_id is not None
        card = await next_card(corrections, ctx.guild_id)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.REVIEW_BUTTON)
async def on_review_button(
    ctx: yuyo.ComponentContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = interaction.guild_id
    require_admin(interaction.app, interaction.member, guild_id, discord, REVIEW)
    assert guild_id is not None
    action, _sep, rest = ctx.id_metadata.partition(".")
    (correction_id,) = keys.ids(rest, 1)
    if action not in ("approve", "reject", "edit"):
        raise InvalidInput(_("This button is out of date. Run the command again."))
    correction = await queued_correction(corrections, guild_id, correction_id)
    if action == "edit":
        await ctx.create_modal_response(
            _("Edit correction #{id}", id=correction.id),
            keys.custom_id(keys.REVIEW_EDIT_MODAL, correction.id),
            components=edit_form(correction),
        )
        return
    status = "approved" if action == "approve" else "rejected"
    await corrections.review(correction.id, interaction.user.id, status)
    done = (
        _("Correction #{id} approved.", id=correction.id)
        if status == "approved"
        else _("Correction #{id} rejected.", id=correction.id)
    )
    card = await next_card(corrections, guild_id, f"{STATUS_EMOJI[status]} {done}")
    await ctx.create_initial_response(
        card.content,
        response_type=hikari.ResponseType.MESSAGE_UPDATE,
        embeds=card.embeds,
        components=card.components,
    )


@handlers.modal(keys.REVIEW_EDIT_MODAL)
async def on_review_edit(
    ctx: yuyo.ModalContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = interaction.guild_id
    require_admin(interaction.app, interaction.member, guild_id, discord, REVIEW)
    assert guild_id is not None
    (correction_id,) = keys.ids(ctx.id_metadata, 1)
    await queued_correction(corrections, guild_id, correction_id)  # a forged id from another server's queue
    text = submitted(interaction).get(CORRECTED, "")
    await corrections.review(correction_id, interaction.user.id, "approved", corrected_answer=text)
    card = await next_card(corrections, guild_id, _("✅ Correction #{id} edited and approved.", id=correction_id))
    await ctx.create_initial_response(card.content, ephemeral=True, embeds=card.embeds, components=card.components)


# --- list, stats, export ------------------------------------------------------------------------------------------


@group.register
class List(lightbulb.SlashCommand, name="list", description=N_("List corrections in this server"), localize=True):
    status = lightbulb.string(
        "status", N_("Only corrections with this status"), localize=True, choices=STATUS_CHOICES, default=None
    )
    author = lightbulb.user("author", N_("Only corrections by this member"), localize=True, default=None)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        if ctx.guild_id is None:
            raise InvalidInput(_("Corrections are kept per server: run this in a server."))
        viewer = viewer_of(
            ctx.client.app,
            ctx.member,
            user_id=ctx.user.id,
            channel_id=ctx.channel_id,
            guild_id=ctx.guild_id,
            discord=discord,
        )
        author = self.author.id if self.author else None
        card = await list_page(corrections, ctx.guild_id, self.status, author, 0, viewer=viewer)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.CORRECTIONS_PAGE)
async def on_list_page(
    ctx: yuyo.ComponentContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = interaction.guild_id
    if guild_id is None:
        raise InvalidInput(_("Corrections are kept per server."))
    raw_offset, _sep, rest = ctx.id_metadata.partition(".")
    raw_status, _sep, raw_author = rest.partition(".")
    if raw_status not in ("all", *STATUS_EMOJI):
        raise InvalidInput(_("This button is out of date. Run the command again."))
    offset, author = keys.ids(f"{raw_offset}.{raw_author}", 2)
    status = None if raw_status == "all" else raw_status
    viewer = viewer_of(
        interaction.app,
        interaction.member,
        user_id=interaction.user.id,
        channel_id=interaction.channel_id,
        guild_id=guild_id,
        discord=discord,
    )
    card = await list_page(corrections, guild_id, status, author or None, offset, viewer=viewer)
    await ctx.create_initial_response(
        card.content, response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=card.embeds, components=card.components
    )


@group.register
class Stats(
    lightbulb.SlashCommand, name="stats", description=N_("Corrections by status and by contributor"), localize=True
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        votes: VoteStore = lightbulb.di.INJECTED,
    ) -> None:
        if ctx.guild_id is None:
            raise InvalidInput(_("Corrections are kept per server: run this in a server."))
        embed = stats_embed(await corrections.stats(ctx.guild_id), await votes.stats(ctx.guild_id))
        await ctx.respond(embed=embed, ephemeral=True)


@group.register
class Endorse(
    lightbulb.SlashCommand,
    name="endorse",
    description=N_("Queue answers members voted 👍 (and nobody corrected) for review as training examples (admins)"),
    localize=True,
):
    min_votes = lightbulb.integer(
        "min_votes", N_("How many 👍 an answer needs (default 3)"), localize=True, default=3, min_value=1
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        votes: VoteStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, N_("queue endorsed answers"))
        assert ctx.guild_id is not None
        endorsed = await votes.endorse(ctx.guild_id, self.min_votes, ctx.user.id)
        if not endorsed.correction_ids:
            raise NotFound(
                _(
                    "No public answer has {votes} or more 👍, more 👍 than 👎, and no correction yet.",
                    votes=self.min_votes,
                )
            )
        await ctx.respond(
            _(
                "Queued {count} answer(s) with {votes}+ 👍 for review. Approve them in "
                "`/corrections review`: approved ones are exported and trained on as supervised examples.",
                count=len(endorsed.correction_ids),
                votes=self.min_votes,
            ),
            ephemeral=True,
        )


@group.register
class Export(
    lightbulb.SlashCommand,
    name="export",
    description=N_("Download corrections as a training file (admins)"),
    localize=True,
):
    format = lightbulb.string(
        "format",
        N_("sft: question → corrected answer; dpo: corrected answer preferred over the bot's"),
        localize=True,
        choices=[
            lightbulb.Choice(N_("sft (supervised)"), "sft", localize=True),
            lightbulb.Choice(N_("dpo (preference pairs)"), "dpo", localize=True),
        ],
    )
    status = lightbulb.string(
        "status", N_("Which corrections (default: approved)"), localize=True, choices=STATUS_CHOICES, default="approved"
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        training: TrainingSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, discord, N_("export corrections"))
        assert ctx.guild_id is not None
        await ctx.defer(ephemeral=True)
        found = await corrections.with_status(ctx.guild_id, self.status)
        if self.format == "dpo":  # an endorsed answer (voted 👍, kept as given) has no worse answer to pair with
            found = [c for c in found if c.kind == "correction"]
        held_out = ""
        if self.status == "approved":  # the test set stays out of every training file
            parts = split_approved(found, training)
            found, held_out = parts.training, " " + _("({count} held out for testing)", count=len(parts.held_out))
        if not found:
            raise NotFound(_("There are no {status} corrections to export yet.", status=_(self.status)))
        data = corrections_dataset(found, "dpo" if self.format == "dpo" else "sft", llm.system_prompt or None)
        name = f"corrections-{self.status}-{self.format}.jsonl"
        await ctx.interaction.edit_initial_response(
            _(
                "{count} {status} correction(s) as {format} training lines{held_out}.",
                count=len(found),
                status=_(self.status),
                format=self.format.upper(),
                held_out=held_out,
            ),
            attachment=hikari.Bytes(data, name, mimetype="application/jsonl"),
        )


loader.command(group)
