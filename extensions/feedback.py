"""👍 and 👎 on answers: one changeable vote per member per answer; 👎 goes on to the correction form."""

from __future__ import annotations

import lightbulb
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.corrections import actor_of, open_correction_form, seen_answer, voted_notice, wrong_form_title
from bot.discord.handlers import Handlers
from bot.discord.settings import DiscordSettings
from bot.errors import InvalidInput, NotAllowed
from bot.i18n import _
from bot.store.answers import AnswerStore
from bot.store.corrections import review_guild
from bot.store.votes import VOTES, VoteStore

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)


@handlers.button(keys.VOTE_BUTTON)
async def on_vote(
    ctx: yuyo.ComponentContext,
    answers: AnswerStore = lightbulb.di.INJECTED,
    votes: VoteStore = lightbulb.di.INJECTED,
    discord: DiscordSettings = lightbulb.di.INJECTED,
) -> None:
    choice, _sep, rest = ctx.id_metadata.partition(".")
    (answer_id,) = keys.ids(rest, 1)
    if choice not in VOTES:
        raise InvalidInput(_("This button is out of date. Run the command again."))
    # Only who could see the answer may vote on it (the rule of the correction form).
    answer = await seen_answer(answers, answer_id, actor_of(ctx.interaction))
    tally = await votes.vote(answer, int(ctx.interaction.user.id), "up" if choice == "up" else "down")
    if choice == "down":
        try:
            review_guild(answer, discord.dm_review_guild)
        except NotAllowed:  # nobody reviews corrections of this DM answer: the vote is all there is
            await ctx.create_initial_response(voted_notice(tally), ephemeral=True)
            return
        await open_correction_form(ctx.create_modal_response, answer, wrong_form_title(answer))
        return
    await ctx.create_initial_response(voted_notice(tally), ephemeral=True)
