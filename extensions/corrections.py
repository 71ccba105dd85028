"""Corrections: the Correct button and /correct open a form; admins review, list, count and export them."""

from __future__ import annotations

import logging

import attrs
import hikari
import lightbulb
import yuyo

from bot import keys
from bot.app import Services
from bot.discord.forms import Field, rows, submitted
from bot.discord.handlers import Handlers
from bot.discord.permissions import is_admin, require_admin, role_names
from bot.errors import InvalidInput, NotFound
from bot.store.answers import Answer
from bot.store.corrections import Actor, Correction, check_may_correct, review_guild
from bot.training.builder import CorrectionExample, jsonl

loader = lightbulb.Loader()
handlers = Handlers()
loader.add(handlers)
_log = logging.getLogger(__name__)

PAGE_SIZE = 10
REVIEW = "review corrections"
STATUS_EMOJI = {"pending": "🕓", "approved": "✅", "rejected": "❌"}

# Modal field ids.
QUESTION, ORIGINAL, CORRECTED, NOTE, TRANSCRIPT = "question", "original", "corrected", "note", "transcript"


def correction_form(answer: Answer) -> list[hikari.api.ModalActionRowBuilder]:
    """The form for one answer. For spoken questions, the first field is what the bot heard, and may be fixed."""
    heard = answer.transcript is not None
    fields = [
        Field(
            TRANSCRIPT if heard else QUESTION,
            "What the bot heard (fix it if wrong)" if heard else "The question",
            value=answer.transcript or answer.question,
        ),
        Field(ORIGINAL, "The bot's answer", value=answer.answer),
        Field(CORRECTED, "The correct answer", required=True, placeholder="What the bot should have said"),
        Field(NOTE, "Note for reviewers (optional)", max_length=1000),
    ]
    return rows(fields)


def form_title(answer: Answer) -> str:
    """A private or DM answer is shared with the reviewers once corrected: the form says so (titles hold 45 chars)."""
    return "Correct (reviewers will see this answer)" if answer.seen_only_by_asker else "Correct this answer"


async def answer_for(services: Services, answer_id: int, actor: Actor) -> Answer:
    """The answer, if the actor may open it for correcting (see `check_may_correct`)."""
    answer = await services.answers.get(answer_id)
    if answer is None:
        raise NotFound(f"There is no answer #{answer_id}.")
    check_may_correct(answer, actor)
    review_guild(answer, services.settings.discord.dm_review_guild)  # refuses DM answers when nobody reviews them
    return answer


def actor_of(interaction: hikari.ComponentInteraction | hikari.ModalInteraction) -> Actor:
    message = interaction.message
    return Actor(
        user_id=int(interaction.user.id),
        guild_id=interaction.guild_id,
        channel_id=int(interaction.channel_id),
        message_id=int(message.id) if message is not None else None,
    )


@handlers.button(keys.CORRECT_BUTTON)
async def on_correct_button(ctx: yuyo.ComponentContext, services: Services) -> None:
    (answer_id,) = keys.ids(ctx.id_metadata, 1)
    answer = await answer_for(services, answer_id, actor_of(ctx.interaction))
    await ctx.create_modal_response(
        form_title(answer), keys.custom_id(keys.CORRECTION_MODAL, answer.id), components=correction_form(answer)
    )


async def recent_answers(ctx: lightbulb.AutocompleteContext[int], services: Services = lightbulb.di.INJECTED) -> None:
    """The caller's recent answers in this guild, newest first, filtered by what they typed."""
    typed = str(ctx.focused.value or "").strip()
    found = await services.answers.recent_for_user(
        ctx.interaction.guild_id, ctx.interaction.user.id, search="" if typed.isdigit() else typed, limit=25
    )
    if typed.isdigit():
        found = [a for a in found if str(a.id).startswith(typed)] or found
    await ctx.respond([(_label(a), a.id) for a in found])


def _label(answer: Answer) -> str:
    question = " ".join(answer.question.split())
    label = f"#{answer.id} · {question}"
    return label if len(label) <= 100 else label[:99] + "…"


@loader.command
class Correct(lightbulb.SlashCommand, name="correct", description="Correct one of the bot's answers to you"):
    answer = lightbulb.integer(
        "answer", "Which answer (default: your latest in this channel)", default=None, autocomplete=recent_answers
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if self.answer is None:
            latest = await services.answers.latest(ctx.channel_id, ctx.user.id)
            if latest is None:
                raise NotFound("You have no answer from the bot in this channel yet. Ask something first!")
            answer_id = latest.id
        else:
            answer_id = self.answer
        answer = await answer_for(services, answer_id, Actor(ctx.user.id, ctx.guild_id, ctx.channel_id))
        await ctx.respond_with_modal(
            form_title(answer), keys.custom_id(keys.CORRECTION_MODAL, answer.id), components=correction_form(answer)
        )


@handlers.modal(keys.CORRECTION_MODAL)
async def on_correction_submitted(ctx: yuyo.ModalContext, services: Services) -> None:
    # The modal's id is as untrusted as any: the same check as opening the form.
    (answer_id,) = keys.ids(ctx.id_metadata, 1)
    answer = await answer_for(services, answer_id, actor_of(ctx.interaction))
    values = submitted(ctx.interaction)
    heard = values.get(TRANSCRIPT)
    result = await services.corrections.submit(
        answer,
        ctx.interaction.user.id,
        values.get(CORRECTED, ""),
        values.get(NOTE, "").strip() or None,
        corrected_transcript=heard.strip() if heard is not None and heard.strip() != answer.transcript else None,
        guild_id=review_guild(answer, services.settings.discord.dm_review_guild),
    )
    c = result.correction
    verb = "Updated your pending correction" if result.updated else "Thanks! Saved your correction"
    await ctx.create_initial_response(
        f"{verb} #{c.id} for answer #{answer.id}; an admin will review it.\n>>> {_clip(c.corrected_answer, 1500)}",
        ephemeral=True,
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- review -------------------------------------------------------------------------------------------------------

group = lightbulb.Group("corrections", "Review, list and export corrections")


def review_card(c: Correction) -> tuple[hikari.Embed, list[hikari.api.MessageActionRowBuilder]]:
    embed = hikari.Embed(title=f"Correction #{c.id} · answer #{c.answer_id}", color=0xF1C40F)
    embed.add_field("Question", _clip(c.question, 1024))
    if c.corrected_transcript:
        embed.add_field("Corrected transcript", _clip(c.corrected_transcript, 1024))
    embed.add_field("Bot's answer", _clip(c.original_answer, 1024))
    embed.add_field("Proposed answer", _clip(c.corrected_answer, 1024))
    if c.note:
        embed.add_field("Note", _clip(c.note, 1024))
    embed.set_footer(f"by user {c.author_id} · model {c.model}")
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SUCCESS, keys.custom_id(keys.REVIEW_BUTTON, "approve", c.id), label="Approve"
        )
        .add_interactive_button(
            hikari.ButtonStyle.DANGER, keys.custom_id(keys.REVIEW_BUTTON, "reject", c.id), label="Reject"
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY, keys.custom_id(keys.REVIEW_BUTTON, "edit", c.id), label="Edit"
        )
    )
    return embed, [row]


@attrs.frozen
class Card:
    content: str
    embeds: list[hikari.Embed]
    components: list[hikari.api.MessageActionRowBuilder]


async def next_card(services: Services, guild_id: int) -> Card:
    """The message for the next pending correction, or a 'queue empty' note."""
    pending = await services.corrections.next_pending(guild_id)
    if pending is None:
        return Card("🎉 No corrections are waiting for review.", [], [])
    embed, components = review_card(pending)
    return Card("Pending corrections, oldest first:", [embed], components)


@group.register
class Review(lightbulb.SlashCommand, name="review", description="Review pending corrections one at a time (admins)"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, REVIEW)
        assert ctx.guild_id is not None
        card = await next_card(services, ctx.guild_id)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.REVIEW_BUTTON)
async def on_review_button(ctx: yuyo.ComponentContext, services: Services) -> None:
    action, _, rest = ctx.id_metadata.partition(".")
    (correction_id,) = keys.ids(rest, 1)
    guild_id = ctx.interaction.guild_id
    require_admin(
        ctx.interaction.app, ctx.interaction.member, guild_id, services.settings.discord, "review corrections"
    )
    assert guild_id is not None
    correction = await services.corrections.get(correction_id)
    if correction is None or correction.guild_id != guild_id:
        raise NotFound(f"Correction #{correction_id} no longer exists.")
    if action == "edit":
        form = rows([Field(CORRECTED, "The correct answer", value=correction.corrected_answer, required=True)])
        await ctx.create_modal_response(
            f"Edit correction #{correction.id}", keys.custom_id(keys.REVIEW_EDIT_MODAL, correction.id), components=form
        )
        return
    status = "approved" if action == "approve" else "rejected"
    await services.corrections.review(correction.id, ctx.interaction.user.id, status)
    card = await next_card(services, guild_id)
    await ctx.create_initial_response(
        f"{STATUS_EMOJI[status]} Correction #{correction.id} {status}. {card.content}",
        response_type=hikari.ResponseType.MESSAGE_UPDATE,
        embeds=card.embeds,
        components=card.components,
    )


@handlers.modal(keys.REVIEW_EDIT_MODAL)
async def on_review_edit(ctx: yuyo.ModalContext, services: Services) -> None:
    guild_id = ctx.interaction.guild_id
    require_admin(
        ctx.interaction.app, ctx.interaction.member, guild_id, services.settings.discord, "review corrections"
    )
    assert guild_id is not None
    (correction_id,) = keys.ids(ctx.id_metadata, 1)
    correction = await services.corrections.get(correction_id)
    if correction is None or correction.guild_id != guild_id:  # a forged id from another server's queue
        raise NotFound(f"Correction #{correction_id} is not in this server's queue.")
    text = submitted(ctx.interaction).get(CORRECTED, "")
    await services.corrections.review(correction_id, ctx.interaction.user.id, "approved", corrected_answer=text)
    card = await next_card(services, guild_id)
    await ctx.create_initial_response(
        f"✅ Correction #{correction_id} edited and approved. {card.content}",
        ephemeral=True,
        embeds=card.embeds,
        components=card.components,
    )


# --- list, stats, export ------------------------------------------------------------------------------------------

STATUS_CHOICES = [lightbulb.Choice(s, s) for s in ("pending", "approved", "rejected")]


@attrs.frozen
class Viewer:
    """Who looks at the list, and where: question snippets are shown only to those who could already see them."""

    user_id: int
    channel_id: int
    reviewer: bool


def snippet(c: Correction, viewer: Viewer) -> str:
    """The question, where the viewer could already see it: reviewers, the asker and the author always; others only
    for a public answer given in the channel they are looking from."""
    if viewer.reviewer or viewer.user_id in (c.author_id, c.asker_id):
        return _clip(" ".join(c.question.split()), 60)
    if c.private:
        return "🔒 *private question*"
    if c.channel_id != viewer.channel_id:
        return f"🔒 *asked in <#{c.channel_id}>*"
    return _clip(" ".join(c.question.split()), 60)


async def list_page(
    services: Services, guild_id: int, status: str | None, author_id: int | None, offset: int, *, viewer: Viewer
) -> Card:
    page = await services.corrections.list(guild_id, status=status, author_id=author_id, offset=offset, limit=PAGE_SIZE)
    if page.total == 0:
        return Card("No corrections match.", [], [])
    lines = [
        f"{STATUS_EMOJI[c.status]} **#{c.id}** by <@{c.author_id}> · answer #{c.answer_id} · {snippet(c, viewer)}"
        for c in page.items
    ]
    last = min(offset + PAGE_SIZE, page.total)
    embed = hikari.Embed(title="Corrections", description="\n".join(lines), color=0x3498DB)
    embed.set_footer(f"{offset + 1}–{last} of {page.total}" + (f" · {status}" if status else ""))
    state = (status or "all", author_id or 0)
    row = (
        hikari.impl.MessageActionRowBuilder()
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            keys.custom_id(keys.CORRECTIONS_PAGE, max(0, offset - PAGE_SIZE), *state),
            label="◀ Previous",
            is_disabled=offset == 0,
        )
        .add_interactive_button(
            hikari.ButtonStyle.SECONDARY,
            keys.custom_id(keys.CORRECTIONS_PAGE, offset + PAGE_SIZE, *state),
            label="Next ▶",
            is_disabled=last >= page.total,
        )
    )
    return Card("", [embed], [row])


@group.register
class List(lightbulb.SlashCommand, name="list", description="List corrections in this server"):
    status = lightbulb.string("status", "Only corrections with this status", choices=STATUS_CHOICES, default=None)
    author = lightbulb.user("author", "Only corrections by this member", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Corrections are kept per server: run this in a server.")
        viewer = Viewer(
            ctx.user.id,
            ctx.channel_id,
            is_admin(ctx.member, services.settings.discord, role_names(ctx.client.app, ctx.guild_id), ctx.guild_id),
        )
        author = self.author.id if self.author else None
        card = await list_page(services, ctx.guild_id, self.status, author, 0, viewer=viewer)
        await ctx.respond(card.content, embeds=card.embeds, components=card.components, ephemeral=True)


@handlers.button(keys.CORRECTIONS_PAGE)
async def on_list_page(ctx: yuyo.ComponentContext, services: Services) -> None:
    raw_offset, _, rest = ctx.id_metadata.partition(".")
    raw_status, _, raw_author = rest.partition(".")
    if raw_status not in ("all", *STATUS_EMOJI):
        raise InvalidInput("This button is out of date. Run the command again.")
    offset, author = keys.ids(f"{raw_offset}.{raw_author}", 2)
    guild_id = ctx.interaction.guild_id
    if guild_id is None:
        raise InvalidInput("Corrections are kept per server.")
    status = None if raw_status == "all" else raw_status
    interaction = ctx.interaction
    viewer = Viewer(
        int(interaction.user.id),
        int(interaction.channel_id),
        is_admin(interaction.member, services.settings.discord, role_names(interaction.app, guild_id), guild_id),
    )
    card = await list_page(services, guild_id, status, author or None, offset, viewer=viewer)
    await ctx.create_initial_response(
        card.content, response_type=hikari.ResponseType.MESSAGE_UPDATE, embeds=card.embeds, components=card.components
    )


@group.register
class Stats(lightbulb.SlashCommand, name="stats", description="Corrections by status and by contributor"):
    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        if ctx.guild_id is None:
            raise InvalidInput("Corrections are kept per server: run this in a server.")
        stats = await services.corrections.stats(ctx.guild_id)
        embed = hikari.Embed(title="Corrections", color=0x2ECC71)
        embed.add_field(
            "By status",
            "\n".join(f"{STATUS_EMOJI[s]} {s}: **{stats.by_status.get(s, 0)}**" for s in STATUS_EMOJI),
        )
        top = [f"<@{a.author_id}>: {a.total} ({a.approved} approved)" for a in stats.by_author[:10]]
        embed.add_field("Top contributors", "\n".join(top) or "nobody yet")
        await ctx.respond(embed=embed, ephemeral=True)


@group.register
class Export(lightbulb.SlashCommand, name="export", description="Download corrections as a training file (admins)"):
    format = lightbulb.string(
        "format",
        "sft: question → corrected answer; dpo: corrected answer preferred over the bot's",
        choices=[lightbulb.Choice("sft (supervised)", "sft"), lightbulb.Choice("dpo (preference pairs)", "dpo")],
    )
    status = lightbulb.string(
        "status", "Which corrections (default: approved)", choices=STATUS_CHOICES, default="approved"
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, services: Services = lightbulb.di.INJECTED) -> None:
        require_admin(ctx.client.app, ctx.member, ctx.guild_id, services.settings.discord, "export corrections")
        assert ctx.guild_id is not None
        await ctx.defer(ephemeral=True)
        found = await services.corrections.with_status(ctx.guild_id, self.status)
        if not found:
            raise NotFound(f"There are no {self.status} corrections to export yet.")
        system_prompt = services.settings.llm.system_prompt or None
        examples = [
            CorrectionExample(c.question_for_training, c.original_answer, c.corrected_answer, system_prompt)
            for c in found
        ]
        data = jsonl(examples, "dpo" if self.format == "dpo" else "sft")
        name = f"corrections-{self.status}-{self.format}.jsonl"
        await ctx.interaction.edit_initial_response(
            f"{len(found)} {self.status} correction(s) as {self.format.upper()} training lines.",
            attachment=hikari.Bytes(data, name, mimetype="application/jsonl"),
        )


loader.command(group)
