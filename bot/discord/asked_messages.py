"""The message a member asks about (Apps → Ask about this message): read from the channel they act in, with the
pictures the model answering there can take."""

from __future__ import annotations

import hikari

from bot.discord.pictures import picture_attachments
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import _
from bot.llm.answering import Answerer


async def asked_message(rest: hikari.api.RESTClient, channel_id: int, message_id: int) -> hikari.Message:
    try:
        return await rest.fetch_message(channel_id, message_id)
    except hikari.NotFoundError:
        raise NotFound(_("That message is not in this channel any more.")) from None
    except hikari.ForbiddenError:
        raise NotAllowed(_("The bot may not read this channel's messages, so it cannot answer about them.")) from None


async def pictures_read(
    answerer: Answerer, message: hikari.Message, max_images: int, guild_id: int | None
) -> list[hikari.Attachment]:
    """The message's pictures (up to `max_images`), none where the model reads words only: the question goes on with
    the message's text."""
    pictures = picture_attachments(message)[:max_images]
    if pictures:
        try:
            await answerer.check_takes_images(guild_id)
        except InvalidInput:
            return []
    return pictures
