"""/persona's checks and views: which system prompt the bot is given here, and where it comes from."""

from __future__ import annotations

import hikari

from bot.errors import InvalidInput
from bot.i18n import _
from bot.store.personas import Persona

SHOWN_INLINE = 1500  # longer prompts are shown as an attached text file, so the message stays under Discord's limit


def check_prompt(text: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(_("The persona is empty: write what the bot should be told before every question."))
    if len(text) > limit:
        raise InvalidInput(
            _(
                "The persona is {length} characters long; the limit is {limit}.",
                length=f"{len(text):,}",
                limit=f"{limit:,}",
            )
        )
    return text


def where(persona: Persona | None) -> str:
    if persona is None:
        return _("the bot's default")
    if persona.scope == "channel":
        return _("this channel's persona (<#{channel_id}>)", channel_id=persona.channel_id)
    return _("this server's persona")


def persona_view(title: str, prompt: str) -> tuple[str, hikari.Bytes | None]:
    """The message text, and the prompt as a file when it is too long to quote."""
    if len(prompt) <= SHOWN_INLINE:
        quoted = prompt.replace("```", "'''")
        return f"{title}\n```\n{quoted}\n```", None
    return f"{title}\n" + _("(the prompt is {length} characters: attached)", length=f"{len(prompt):,}"), hikari.Bytes(
        prompt.encode(), "persona.txt", mimetype="text/plain"
    )
