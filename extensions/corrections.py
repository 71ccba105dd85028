"""/corrections: admins review pending corrections; everyone lists and counts them; admins export them."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.checks import GUILD_ONLY, admin_only, guild_of, guild_only
from bot.discord.correction_flows import approve_edited, endorse, export_file, page_named, review_step, viewer
from bot.discord.corrections import CORRECTED, STATUS_EMOJI, list_page, next_card, stats_embed
from bot.discord.forms import submitted
from bot.discord.handlers import Handlers
from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.errors import InvalidInput
from bot.finetuning.settings import TrainingSettings
from bot.i18n import N_, _
from bot.llm.settings import LLMSettings
from bot.store.corrections import CorrectionStore
from bot.store.votes import VoteStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)

REVIEWING = N_("review corrections")
REVIEW = admin_only(REVIEWING)
PER_SERVER = guild_only(N_("Corrections are kept per server: run this in a server."))
STATUS_CHOICES = [lightbulb.Choice(s, s, localize=True) for s in STATUS_EMOJI]  # names in bot/discord/corrections

group = lightbulb.Group("corrections", N_("Review, list and export corrections"), localize=True, contexts=GUILD_ONLY)


@group.register
class Review(
    lightbulb.SlashCommand,
    name="review",
    description=N_("Review pending corrections one at a time (admins)"),
    localize=True,
    hooks=[REVIEW],
):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, corrections: CorrectionStore = lightbulb.di.INJECTED) -> None:
        guild_id = guild_of(ctx)
        card = await next_card(corrections, guild_id)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.REVIEW_BUTTON)
async def on_review_button(
    ctx: yuyo.ComponentContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    await review_step(ctx, corrections, require_admin(ctx.interaction, discord, REVIEWING))


@handlers.modal(keys.REVIEW_EDIT_MODAL)
async def on_review_edit(
    ctx: yuyo.ModalContext,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    interaction = ctx.interaction
    guild_id = require_admin(interaction, discord, REVIEWING)
    text = submitted(interaction).get(CORRECTED, "")
    card = await approve_edited(corrections, guild_id, ctx.id_metadata, interaction.user.id, text)
    await ctx.create_initial_response(card.content, ephemeral=True, embeds=card.embeds, components=card.components)


# --- list, stats, export ------------------------------------------------------------------------------------------


@group.register
class List(
    lightbulb.SlashCommand,
    name="list",
    description=N_("List corrections in this server"),
    localize=True,
    hooks=[PER_SERVER],
):
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
        guild_id = guild_of(ctx)
        author = self.author.id if self.author else None
        card = await list_page(
            corrections, guild_id, self.status, author, 0, viewer=viewer(ctx.interaction, guild_id, discord)
        )
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
    offset, status, author = page_named(ctx.id_metadata)
    card = await list_page(corrections, guild_id, status, author, offset, viewer=viewer(interaction, guild_id, discord))
    await ctx.create_initial_response(
        card.content, response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=card.embeds, components=card.components
    )


@group.register
class Stats(
    lightbulb.SlashCommand,
    name="stats",
    description=N_("Corrections by status and by contributor"),
    localize=True,
    hooks=[PER_SERVER],
):
    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        corrections: CorrectionStore = lightbulb.di.INJECTED,
        votes: VoteStore = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        embed = stats_embed(await corrections.stats(guild_id), await votes.stats(guild_id))
        await ctx.respond(embed=embed, ephemeral=True)


@group.register
class Endorse(
    lightbulb.SlashCommand,
    name="endorse",
    description=N_("Queue answers members voted 👍 (and nobody corrected) for review as training examples (admins)"),
    localize=True,
    hooks=[admin_only(N_("queue endorsed answers"))],
):
    min_votes = lightbulb.integer(
        "min_votes", N_("How many 👍 an answer needs (default 3)"), localize=True, default=3, min_value=1
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, votes: VoteStore = lightbulb.di.INJECTED) -> None:
        await ctx.respond(await endorse(votes, guild_of(ctx), self.min_votes, ctx.user.id), ephemeral=True)


@group.register
class Export(
    lightbulb.SlashCommand,
    name="export",
    description=N_("Download corrections as a training file (admins)"),
    localize=True,
    hooks=[admin_only(N_("export corrections"))],
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
        llm: LLMSettings = lightbulb.di.INJECTED,
        training: TrainingSettings = lightbulb.di.INJECTED,
    ) -> None:
        guild_id = guild_of(ctx)
        await ctx.defer(ephemeral=True)
        text, file = await export_file(
            corrections, guild_id, self.status, self.format, training=training, system_prompt=llm.system_prompt or None
        )
        await ctx.interaction.edit_initial_response(text, attachment=file)


loader.command(group)
