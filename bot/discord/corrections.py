"""How corrections look and are reached in Discord: the form, who may open it, the review card, the list page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import hikari

from bot.discord import custom_ids as keys
from bot.discord.forms import Field, rows
from bot.discord.message_split import clip
from bot.discord.pager import footer, pager_row
from bot.discord.permissions import is_admin, role_names
from bot.discord.settings import DiscordSettings
from bot.errors import NotFound
from bot.i18n import N_, _
from bot.store.answers import Answer, AnswerStore
from bot.store.corrections import Actor, Correction, CorrectionStats, CorrectionStore, check_may_correct, review_guild
from bot.store.votes import Tally, VoteStats

PAGE_SIZE = 10
STATUS_EMOJI = {"pending": "🕓", "approved": "✅", "rejected": "❌"}
# Statuses as shown (stored in English).
STATUS_NAMES = (N_("pending"), N_("approved"), N_("rejected"))

# Form field ids.
QUESTION, ORIGINAL, CORRECTED, NOTE, TRANSCRIPT = "question", "original", "corrected", "note", "transcript"


@attrs.frozen
class Card:
    """A message to send or to update in place."""

    content: str
    embeds: list[hikari.Embed]
    components: list[hikari.api.MessageActionRowBuilder]


def correction_form(answer: Answer) -> list[hikari.api.ModalActionRowBuilder]:
    """The form for one answer. For spoken questions, the first field is what the bot heard, and may be fixed."""
    heard = answer.transcript is not None
    fields = [
        Field(
            TRANSCRIPT if heard else QUESTION,
            _("What the bot heard (fix it if wrong)") if heard else _("The question"),
            value=answer.transcript or answer.question,
        ),
        Field(ORIGINAL, _("The bot's answer"), value=answer.answer),
        Field(CORRECTED, _("The correct answer"), required=True, placeholder=_("What the bot should have said")),
        Field(NOTE, _("Note for reviewers (optional)"), max_length=1000),
    ]
    return rows(fields)


async def open_correction_form(
    respond: Callable[..., Awaitable[object]], answer: Answer, title: str | None = None
) -> None:
    """Answer an interaction with the correction form of `answer` (`respond`: a command's `respond_with_modal` or a
    component's `create_modal_response`), titled `title` or the form's own title."""
    await respond(
        title or form_title(answer),
        keys.custom_id(keys.CORRECTION_MODAL, answer.id),
        components=correction_form(answer),
    )


def form_title(answer: Answer) -> str:
    """A private or DM answer is shared with the reviewers once corrected: the form says so (titles hold 45 chars)."""
    return _("Correct (reviewers will see this answer)") if answer.seen_only_by_asker else _("Correct this answer")


def wrong_form_title(answer: Answer) -> str:
    """The form 👎 opens: what was wrong, as a correction (a private answer's form keeps its warning)."""
    return form_title(answer) if answer.seen_only_by_asker else _("👎 noted. What was wrong? Correct it")


def voted_notice(tally: Tally) -> str:
    mine = "👍" if tally.mine == "up" else "👎"
    return _(
        "Thanks, your {mine} is counted (tap the other to change it). This answer: 👍 {up} · 👎 {down}",
        mine=mine,
        up=tally.up,
        down=tally.down,
    )


def actor_of(interaction: hikari.ComponentInteraction | hikari.ModalInteraction) -> Actor:
    """Who acts, where, and on which message (a modal opened from a button carries that button's message)."""
    message = interaction.message
    return Actor(
        user_id=int(interaction.user.id),
        guild_id=interaction.guild_id,
        channel_id=int(interaction.channel_id),
        message_id=int(message.id) if message is not None else None,
    )


def answer_id_on(message: hikari.Message, bot_id: int) -> int | None:
    """The answer whose Correct button is on one of the bot's messages (Discord resolves the message, and only the bot
    writes its components): found even before the answer's message ids are stored, a moment after it is shown."""
    if message.author.id != bot_id:
        return None
    for row in message.components:
        if not isinstance(row, hikari.ActionRowComponent):
            continue
        for component in row.components:
            if isinstance(component, hikari.ButtonComponent) and component.custom_id:
                prefix, _sep, metadata = component.custom_id.partition(":")
                if prefix == keys.CORRECT_BUTTON and metadata.isdigit() and len(metadata) <= 20:
                    return int(metadata)
    return None


async def seen_answer(answers: AnswerStore, answer_id: int, actor: Actor) -> Answer:
    """The answer, if the actor could see it (see `check_may_correct`): ids in custom ids can be forged."""
    answer = await answers.get(answer_id)
    if answer is None:
        raise NotFound(_("There is no answer #{answer_id}.", answer_id=answer_id))
    check_may_correct(answer, actor)
    return answer


async def answer_for(answers: AnswerStore, answer_id: int, actor: Actor, dm_review_guild: int | None) -> Answer:
    """The answer, if the actor may open it for correcting (see `check_may_correct`) and someone reviews it."""
    answer = await seen_answer(answers, answer_id, actor)
    review_guild(answer, dm_review_guild)  # refuses DM answers when nobody reviews them
    return answer


def saved_notice(correction: Correction, updated: bool) -> str:
    ids = {"id": correction.id, "answer_id": correction.answer_id}
    said = (
        _("Updated your pending correction #{id} for answer #{answer_id}; an admin will review it.", **ids)
        if updated
        else _("Thanks! Saved your correction #{id} for answer #{answer_id}; an admin will review it.", **ids)
    )
    return f"{said}\n>>> {clip(correction.corrected_answer, 1500)}"


def review_card(c: Correction) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    endorsed = c.kind == "endorsement"
    title = (
        _("Endorsed answer #{id} · answer #{answer_id}", id=c.id, answer_id=c.answer_id)
        if endorsed
        else _("Correction #{id} · answer #{answer_id}", id=c.id, answer_id=c.answer_id)
    )
    embed = hikari.Embed(title=title, color=0x2ECC71 if endorsed else 0xF1C40F)
    embed.add_field(_("Question"), clip(c.question, 1024))
    if c.corrected_transcript:
        embed.add_field(_("Corrected transcript"), clip(c.corrected_transcript, 1024))
    if endorsed:
        embed.add_field(_("Bot's answer, voted good (approve to train on it as is)"), clip(c.corrected_answer, 1024))
    else:
        embed.add_field(_("Bot's answer"), clip(c.original_answer, 1024))
        embed.add_field(_("Proposed answer"), clip(c.corrected_answer, 1024))
    if c.note:
        embed.add_field(_("Votes") if endorsed else _("Note"), clip(c.note, 1024))
    if c.private:
        embed.add_field(_("Privacy"), _("🔒 This answer was private to its asker; only reviewers see it here."))
    embed.set_footer(_("by user {author_id} · model {model}", author_id=c.author_id, model=c.model))
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.REVIEW_BUTTON, "approve", c.id), label=_("Approve")
        )
        .add_interactive_button(
            hikari.ButtonStyle.DANGER, keys.custom_id(keys.REVIEW_BUTTON, "reject", c.id), label=_("Reject")
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.REVIEW_BUTTON, "edit", c.id), label=_("Edit")
        )
    )
    return embed, [row]


async def queued_correction(corrections: CorrectionStore, guild_id: int, correction_id: int) -> Correction:
    """The correction, if it is in this server's review queue (ids arrive from buttons and forms)."""
    correction = await corrections.get(correction_id)
    if correction is None or correction.guild_id != guild_id:
        raise NotFound(_("Correction #{correction_id} is not in this server's queue.", correction_id=correction_id))
    return correction


def edit_form(correction: Correction) -> list[hikari.api.ModalActionRowBuilder]:
    return rows([Field(CORRECTED, _("The correct answer"), value=correction.corrected_answer, required=True)])


async def next_card(corrections: CorrectionStore, guild_id: int, done: str = "") -> Card:
    """The message for the next pending correction, or a 'queue empty' note; `done` says what just happened."""
    pending = await corrections.next_pending(guild_id)
    prefix = f"{done} " if done else ""
    if pending is None:
        return Card(prefix + _("🎉 No corrections are waiting for review."), [], [])
    embed, components = review_card(pending)
    return Card(prefix + _("Pending corrections, oldest first:"), [embed], components)


@attrs.frozen
class Viewer:
    """Who looks at the list, and where: question snippets are shown only to those who could already see them."""

    user_id: int
    channel_id: int
    reviewer: bool


def viewer_of(
    app: hikari.RESTAware,
    member: hikari.InteractionMember | None,
    *,
    user_id: int,
    channel_id: int,
    guild_id: int,
    discord: DiscordSettings,
) -> Viewer:
    return Viewer(user_id, channel_id, is_admin(member, discord, role_names(app, guild_id), guild_id))


def snippet(c: Correction, viewer: Viewer) -> str:
    """The question, where the viewer could already see it: reviewers, the asker and the author always; others only
    for a public answer given in the channel they are looking from."""
    if viewer.reviewer or viewer.user_id in (c.author_id, c.asker_id):
        return clip(c.question, 60, one_line=True)
    if c.private:
        return _("🔒 *private question*")
    if c.channel_id != viewer.channel_id:
        return _("🔒 *asked in <#{channel_id}>*", channel_id=c.channel_id)
    return clip(c.question, 60, one_line=True)


async def list_page(
    corrections: CorrectionStore,
    guild_id: int,
    status: str | None,
    author_id: int | None,
    offset: int,
    *,
    viewer: Viewer,
) -> Card:
    page = await corrections.list(guild_id, status=status, author_id=author_id, offset=offset, limit=PAGE_SIZE)
    if page.total == 0:
        return Card(_("No corrections match."), [], [])
    lines = [
        f"{STATUS_EMOJI[c.status]} **#{c.id}** "
        + (
            _("👍 endorsed <@{author_id}> · answer #{answer_id}", author_id=c.author_id, answer_id=c.answer_id)
            if c.kind == "endorsement"
            else _("by <@{author_id}> · answer #{answer_id}", author_id=c.author_id, answer_id=c.answer_id)
        )
        + f" · {snippet(c, viewer)}"
        for c in page.items
    ]
    embed = hikari.Embed(title=_("Corrections"), description="\n".join(lines), color=0x3498DB)
    embed.set_footer(footer(offset, PAGE_SIZE, page.total) + (f" · {_(status)}" if status else ""))
    state = (status or "all", author_id or 0)
    return Card("", [embed], pager_row(keys.CORRECTIONS_PAGE, offset, PAGE_SIZE, page.total, *state))


def stats_embed(stats: CorrectionStats, votes: VoteStats) -> hikari.Embed:
    embed = hikari.Embed(title=_("Corrections"), color=0x2ECC71)
    embed.add_field(
        _("By status"), "\n".join(f"{STATUS_EMOJI[s]} {_(s)}: **{stats.by_status.get(s, 0)}**" for s in STATUS_EMOJI)
    )
    top = [
        _("<@{author_id}>: {total} ({approved} approved)", author_id=a.author_id, total=a.total, approved=a.approved)
        for a in stats.by_author[:10]
    ]
    embed.add_field(_("Top contributors"), "\n".join(top) or _("nobody yet"))
    embed.add_field(
        _("Votes on answers"),
        _("👍 **{up}** · 👎 **{down}** on {answers} answer(s)", up=votes.up, down=votes.down, answers=votes.answers),
    )
    return embed
