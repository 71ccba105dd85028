"""A question about someone's message: its form, the text the model gets, and the quote shown above the answer."""

from __future__ import annotations

import hikari

from bot.discord.forms import Field, rows
from bot.discord.message_split import clip
from bot.discord.pictures import picture_attachments
from bot.i18n import _

QUESTION = "question"
MAX_QUESTION_CHARS = 1000
# The message's text given to the model (Discord messages hold up to 4,000 characters with Nitro).
MAX_MESSAGE_CHARS = 4000
SHOWN_QUOTE_CHARS = 300


def about_form() -> list[hikari.api.ModalActionRowBuilder]:
    return rows(
        [
            Field(
                QUESTION,
                _("Your question about the message"),
                required=True,
                max_length=MAX_QUESTION_CHARS,
                placeholder=_("e.g. Is this right? What does it mean?"),
            )
        ]
    )


def _author(message: hikari.Message) -> str:
    return message.author.global_name or message.author.username


def question_about(message: hikari.Message, question: str, pictures: int) -> str:
    """What the model is asked: the message (its text, and how many of its pictures come along), then the question."""
    text = (message.content or "").strip()[:MAX_MESSAGE_CHARS]
    lines = [f"A message by {_author(message)}:"]
    if text:
        lines.append(f'"""\n{text}\n"""')
    skipped = len(picture_attachments(message)) - pictures
    if pictures:
        lines.append(f"(with {pictures} picture(s), attached)")
    if skipped > 0:
        lines.append(f"(and {skipped} picture(s) you cannot see)")
    lines.append(f"\nQuestion about it: {question}")
    return "\n".join(lines)


def _inert(text: str) -> str:
    """Shown text that pings nobody: Discord reads `@everyone`, `@here` and `<@…>` mentions in interaction replies."""
    return text.replace("@", "@\u200b")


def quoted(message: hikari.Message, question: str, asker: hikari.User) -> str:
    """Above the answer, visibly: the message asked about (cut short) and who asked what about it."""
    text = clip(" ".join((message.content or "").split()), SHOWN_QUOTE_CHARS)
    pictures = len(picture_attachments(message))
    shown = text + (f" 🖼️×{pictures}" if pictures else "")
    who = asker.global_name or asker.username
    return (
        f"> **{_inert(_author(message))}**: {_inert(shown)}\n"
        + _(
            "**{who}** asks: {question}",
            who=_inert(who),
            question=_inert(clip(" ".join(question.split()), SHOWN_QUOTE_CHARS)),
        )
        + "\n\n"
    )
