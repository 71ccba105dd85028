"""/correct, the Correct button and "Correct this answer" on a message: open the correction form for an answer the
caller could already see."""

from __future__ import annotations

import hikari
import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.corrections import (
    CORRECTED,
    NOTE,
    TRANSCRIPT,
    actor_of,
    answer_for,
    answer_id_on,
    open_correction_form,
    saved_notice,
)
from bot.discord.forms import submitted
from bot.discord.handlers import Handlers
from bot.discord.message_split import clip
from bot.discord.permissions import require_reading
from bot.discord.settings import DiscordSettings
from bot.errors import NotFound
from bot.i18n import N_, _
from bot.store.answers import AnswerStore
from bot.store.corrections import Actor, CorrectionStore, review_guild

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)


@handlers.button(keys.CORRECT_BUTTON)
async def on_correct_button(
    ctx: yuyo.ComponentContext,
    answers: AnswerStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    (answer_id,) = keys.ids(ctx.id_metadata, 1)
    answer = await answer_for(answers, answer_id, actor_of(ctx.interaction), discord.dm_review_guild)
    await open_correction_form(ctx.create_modal_response, answer)


async def recent_answers(ctx: lightbulb.AutocompleteContext[int], answers: AnswerStore = lightbulb.di.INJECTED) -> None:
    """The caller's own recent answers in this guild (or DMs), newest first, filtered by what they typed."""
    typed = str(ctx.focused.value or "").strip()
    found = await answers.recent_for_user(
        ctx.interaction.guild_id, ctx.interaction.user.id, search="" if typed.isdigit() else typed, limit=25
    )
    if typed.isdigit():
        found = [a for a in found if str(a.id).startswith(typed)] or found
    await ctx.respond([(clip(f"#{a.id} · {a.question}", 100, one_line=True), a.id) for a in found])


@loader.command
class Correct(
    lightbulb.SlashCommand, name="correct", description=N_("Correct one of the bot's answers to you"), localize=True
):
    answer = lightbulb.integer(
        "answer",
        N_("Which answer (default: your latest in this channel)"),
        localize=True,
        default=None,
        autocomplete=recent_answers,
    )

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        answers: AnswerStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        if self.answer is None:
            latest = await answers.latest(ctx.channel_id, ctx.user.id)
            if latest is None:
                raise NotFound(_("You have no answer from the bot in this channel yet. Ask something first!"))
            answer_id = latest.id
        else:
            answer_id = self.answer
        actor = Actor(ctx.user.id, ctx.guild_id, ctx.channel_id)
        answer = await answer_for(answers, answer_id, actor, discord.dm_review_guild)
        await open_correction_form(ctx.respond_with_modal, answer)


@loader.command
class CorrectThisAnswer(
    lightbulb.MessageCommand,
    name=N_("Correct this answer"),
    description="",
    localize=True,
    contexts=[hikari.ApplicationContextType.GUILD, hikari.ApplicationContextType.BOT_DM],
):
    """On one of the bot's answers, under Apps: the same form, under the same rule, as its Correct button."""

    @lightbulb.invoke
    async def invoke(
        self,
        ctx: lightbulb.Context,
        answers: AnswerStore = lightbulb.di.INJECTED,
        discord: DiscordSettings = lightbulb.di.INJECTED,
    ) -> None:
        require_reading(ctx.member)
        answer_id = answer_id_on(self.target, ctx.interaction.application_id)
        if answer_id is None:  # a long answer's earlier messages carry no buttons
            shown = await answers.shown_as(ctx.channel_id, self.target.id)
            answer_id = shown.id if shown is not None else None
        if answer_id is None:
            raise NotFound(_("That message is not one of the bot's answers: use this on an answer the bot gave."))
        actor = Actor(ctx.user.id, ctx.guild_id, ctx.channel_id, message_id=self.target.id)
        answer = await answer_for(answers, answer_id, actor, discord.dm_review_guild)
        await open_correction_form(ctx.respond_with_modal, answer)


@handlers.modal(keys.CORRECTION_MODAL)
async def on_correction_submitted(
    ctx: yuyo.ModalContext,
    answers: AnswerStore = lightbulb.di.INJECTED,
    corrections: CorrectionStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    # The modal's id is as untrusted as any: the same check as opening the form.
    (answer_id,) = keys.ids(ctx.id_metadata, 1)
    answer = await answer_for(answers, answer_id, actor_of(ctx.interaction), discord.dm_review_guild)
    values = submitted(ctx.interaction)
    heard = values.get(TRANSCRIPT)
    result = await corrections.submit(
        answer,
        ctx.interaction.user.id,
        values.get(CORRECTED, ""),
        values.get(NOTE, "").strip() or None,
        corrected_transcript=heard.strip() if heard is not None and heard.strip() != answer.transcript else None,
        guild_id=review_guild(answer, discord.dm_review_guild),
    )
    await ctx.create_initial_response(saved_notice(result.correction, result.updated), ephemeral=True)
