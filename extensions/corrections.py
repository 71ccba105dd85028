"""/corrections: admins review pending corrections; everyone lists and counts them; admins export them."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of
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
from bot.llm.settings import LLMSettings
from bot.store.corrections import CorrectionStore
from bot.store.votes import VoteStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)

REVIEWING = "review corrections"
REVIEW = admin_only(REVIEWING)
STATUS_CHOICES = [lightbulb.Choice(s, s) for s in STATUS_EMOJI]

group = lightbulb.Group("corrections", "Review, list and export corrections", contexts=GUILD_ONLY)


@group.register
class Review(
    lightbulb.SlashCommand,
    name="review",
    description="Review pending corrections one at a time (admins)",
    hooks=[REVIEW],
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        card = await next_card(corrections, guild_id)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.REVIEW_BUTTON)
async def on_review_button(
    ctx: yuyo.ComponentContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = require_admin(interaction, discord, REVIEWING)
    action, _, rest = ctx.id_metadata.partition(".")
    (correction_id,) = keys.ids(rest, 1)
    if action not in ("approve", "reject", "edit"):
        raise InvalidInput("This button is out of date. Run the command again.")
    correction = await queued_correction(corrections, guild_id, correction_id)
    if action == "edit":
        await ctx.create_modal_response(
            f"Edit correction #{correction.id}",
            keys.custom_id(keys.REVIEW_EDIT_MODAL, correction.id),
            components=edit_form(correction),
        )
        return
    status = "approved" if action == "approve" else "rejected"
    await corrections.review(correction.id, interaction.user.id, status)
    card = await next_card(corrections, guild_id, f"{STATUS_EMOJI[status]} Correction #{correction.id} {status}.")
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
    guild_id = require_admin(interaction, discord, REVIEWING)
    (correction_id,) = keys.ids(ctx.id_metadata, 1)
    await queued_correction(corrections, guild_id, correction_id)  # a forged id from another server's queue
    text = submitted(interaction).get(CORRECTED, "")
    await corrections.review(correction_id, interaction.user.id, "approved", corrected_answer=text)
    card = await next_card(corrections, guild_id, f"✅ Correction #{correction_id} edited and approved.")
    await ctx.create_initial_response(card.content, ephemeral=True, embeds=card.embeds, components=card.components)


# --- list, stats, export ------------------------------------------------------------------------------------------


@group.register
class List(lightbulb.SlashCommand, name="list", description="List corrections in this server"):
    status = lightbulb.string("status", "Only corrections with this status", choices=STATUS_CHOICES, default=None)
    author = lightbulb.user("author", "Only corrections by this member", default=None)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Corrections are kept per server: run this in a server.")
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
        raise InvalidInput("Corrections are kept per server.")
    raw_offset, _, rest = ctx.id_metadata.partition(".")
    raw_status, _, raw_author = rest.partition(".")
    if raw_status not in ("all", *STATUS_EMOJI):
        raise InvalidInput("This button is out of date. Run the command again.")
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
class Stats(lightbulb.SlashCommand, name="stats", description="Corrections by status and by contributor"):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        votes: VoteStore = lightbulb.di.INJECTED,
    ) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Corrections are kept per server: run this in a server.")
        embed = stats_embed(await corrections.stats(ctx.guild_id), await votes.stats(ctx.guild_id))
        await ctx.respond(embed=embed, ephemeral=True)


@group.register
class Endorse(
    lightbulb.SlashCommand,
    name="endorse",
    description="Queue answers members voted 👍 (and nobody corrected) for review as training examples (admins)",
    hooks=[admin_only("queue endorsed answers")],
):
    min_votes = lightbulb.integer("min_votes", "How many 👍 an answer needs (default 3)", default=3, min_value=1)

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        votes: VoteStore = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        endorsed = await votes.endorse(guild_id, self.min_votes, ctx.user.id)
        if not endorsed.correction_ids:
            raise NotFound(f"No public answer has {self.min_votes} or more 👍, more 👍 than 👎, and no correction yet.")
        await ctx.respond(
            f"Queued {len(endorsed.correction_ids)} answer(s) with {self.min_votes}+ 👍 for review. Approve them in "
            "`/corrections review`: approved ones are exported and trained on as supervised examples.",
            ephemeral=True,
        )


@group.register
class Export(
    lightbulb.SlashCommand,
    name="export",
    description="Download corrections as a training file (admins)",
    hooks=[admin_only("export corrections")],
):
    format = lightbulb.string(
        "format",
        "sft: question → corrected answer; dpo: corrected answer preferred over the bot's",
        choices=[lightbulb.Choice("sft (supervised)", "sft"), lightbulb.Choice("dpo (preference pairs)", "dpo")],
    )
    status = lightbulb.string(
        "status", "Which corrections (default: approved)", choices=STATUS_CHOICES, default="approved"
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        llm: LLMSettings = lightbulb.di.INJECTED,
        training: TrainingSettings = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        await ctx.defer(ephemeral=True)
        found = await corrections.with_status(guild_id, self.status)
        if self.format == "dpo":  # an endorsed answer (voted 👍, kept as given) has no worse answer to pair with
            found = [c for c in found if c.kind == "correction"]
        held_out = ""
        if self.status == "approved":  # the test set stays out of every training file
            parts = split_approved(found, training)
            found, held_out = parts.training, f" ({len(parts.held_out)} held out for testing)"
        if not found:
            raise NotFound(f"There are no {self.status} corrections to export yet.")
        data = corrections_dataset(found, "dpo" if self.format == "dpo" else "sft", llm.system_prompt or None)
        name = f"corrections-{self.status}-{self.format}.jsonl"
        await ctx.interaction.edit_initial_response(
            f"{len(found)} {self.status} correction(s) as {self.format.upper()} training lines{held_out}.",
            attachment=hikari.Bytes(data, name, mimetype="application/jsonl"),
        )


loader.command(group)
