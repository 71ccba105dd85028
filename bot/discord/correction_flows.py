"""`/corrections` from the command's side: a review step from a button or the edit form, the list page a pager
button names, who is looking (admins see more), answers queued by their 👍, and the export file."""

from __future__ import annotations

import hikari
import yuyo

from bot.discord import custom_ids as keys
from bot.discord.corrections import STATUS_EMOJI, Card, Viewer, edit_form, next_card, queued_correction, viewer_of
from bot.discord.settings import DiscordSettings
from bot.errors import InvalidInput, NotFound
from bot.finetuning.builder import corrections_dataset
from bot.finetuning.held_out import split_approved
from bot.finetuning.settings import TrainingSettings
from bot.i18n import N_, _
from bot.store.corrections import Correction, CorrectionStore
from bot.store.votes import VoteStore

OUT_OF_DATE = N_("This button is out of date. Run the command again.")


async def review_target(corrections: CorrectionStore, guild_id: int, metadata: str) -> tuple[str, Correction]:
    """What a review button asks ("approve", "reject" or "edit") of which correction in this server's queue."""
    action, _sep, rest = metadata.partition(".")
    (correction_id,) = keys.ids(rest, 1)
    if action not in ("approve", "reject", "edit"):
        raise InvalidInput(_(OUT_OF_DATE))
    return action, await queued_correction(corrections, guild_id, correction_id)


async def review_step(ctx: yuyo.ComponentContext, corrections: CorrectionStore, guild_id: int) -> None:
    """A review button: the edit form for "edit", else the correction approved or rejected and the next one shown."""
    action, correction = await review_target(corrections, guild_id, ctx.id_metadata)
    if action == "edit":
        await ctx.create_modal_response(
            _("Edit correction #{id}", id=correction.id),
            keys.custom_id(keys.REVIEW_EDIT_MODAL, correction.id),
            components=edit_form(correction),
        )
        return
    card = await review(corrections, guild_id, correction, action, ctx.interaction.user.id)
    await ctx.create_initial_response(
        card.content,
        response_type=hikari.ResponseType.MESSAGE_UPDATE,
        embeds=card.embeds,
        components=card.components,
    )


async def review(
    corrections: CorrectionStore, guild_id: int, correction: Correction, action: str, reviewer_id: int
) -> Card:
    """Approve or reject, then the next pending correction."""
    status = "approved" if action == "approve" else "rejected"
    await corrections.review(correction.id, reviewer_id, status)
    done = (
        _("Correction #{id} approved.", id=correction.id)
        if status == "approved"
        else _("Correction #{id} rejected.", id=correction.id)
    )
    return await next_card(corrections, guild_id, f"{STATUS_EMOJI[status]} {done}")


async def approve_edited(
    corrections: CorrectionStore, guild_id: int, metadata: str, reviewer_id: int, text: str
) -> Card:
    """The edit form's text approved as the corrected answer, then the next pending correction."""
    (correction_id,) = keys.ids(metadata, 1)
    await queued_correction(corrections, guild_id, correction_id)  # a forged id from another server's queue
    await corrections.review(correction_id, reviewer_id, "approved", corrected_answer=text)
    return await next_card(corrections, guild_id, _("✅ Correction #{id} edited and approved.", id=correction_id))


def viewer(
    interaction: hikari.CommandInteraction | hikari.ComponentInteraction, guild_id: int, discord: DiscordSettings
) -> Viewer:
    return viewer_of(
        interaction.app,
        interaction.member,
        user_id=interaction.user.id,
        channel_id=interaction.channel_id,
        guild_id=guild_id,
        discord=discord,
    )


def page_named(metadata: str) -> tuple[int, str | None, int | None]:
    """The offset, status (None: all) and author (None: anyone) a list page button carries."""
    raw_offset, _sep, rest = metadata.partition(".")
    raw_status, _sep, raw_author = rest.partition(".")
    if raw_status not in ("all", *STATUS_EMOJI):
        raise InvalidInput(_(OUT_OF_DATE))
    offset, author = keys.ids(f"{raw_offset}.{raw_author}", 2)
    return offset, None if raw_status == "all" else raw_status, author or None


async def endorse(votes: VoteStore, guild_id: int, min_votes: int, by: int) -> str:
    """Queue the answers with `min_votes` or more 👍 (and no correction) for review; says how many."""
    endorsed = await votes.endorse(guild_id, min_votes, by)
    if not endorsed.correction_ids:
        raise NotFound(
            _(
                "No public answer has {votes} or more 👍, more 👍 than 👎, and no correction yet.",
                votes=min_votes,
            )
        )
    return _(
        "Queued {count} answer(s) with {votes}+ 👍 for review. Approve them in "
        "`/corrections review`: approved ones are exported and trained on as supervised examples.",
        count=len(endorsed.correction_ids),
        votes=min_votes,
    )


async def export_file(
    corrections: CorrectionStore,
    guild_id: int,
    status: str,
    fmt: str,
    *,
    training: TrainingSettings,
    system_prompt: str | None,
) -> tuple[str, hikari.Bytes]:
    """The server's corrections of `status` as training lines (sft or dpo), and what the file holds; approved ones
    leave out the held-out test set."""
    found = await corrections.with_status(guild_id, status)
    if fmt == "dpo":  # an endorsed answer (voted 👍, kept as given) has no worse answer to pair with
        found = [c for c in found if c.kind == "correction"]
    held_out = ""
    if status == "approved":  # the test set stays out of every training file
        parts = split_approved(found, training)
        found, held_out = parts.training, " " + _("({count} held out for testing)", count=len(parts.held_out))
    if not found:
        raise NotFound(_("There are no {status} corrections to export yet.", status=_(status)))
    data = corrections_dataset(found, "dpo" if fmt == "dpo" else "sft", system_prompt)
    text = _(
        "{count} {status} correction(s) as {format} training lines{held_out}.",
        count=len(found),
        status=_(status),
        format=fmt.upper(),
        held_out=held_out,
    )
    return text, hikari.Bytes(data, f"corrections-{status}-{fmt}.jsonl", mimetype="application/jsonl")
