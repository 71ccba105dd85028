"""Which messages the bot answers unasked by command (mentions, DMs, chat channels, its threads), and what they ask."""

from __future__ import annotations

import logging
import re

import attrs
import hikari

from bot.discord.errors import describe_error
from bot.discord.hearing import audio_attachment
from bot.discord.pictures import picture_attachments
from bot.discord.settings import DiscordSettings
from bot.discord.threads import ConversationThreads
from bot.metrics import AnswerRoute
from bot.store.threads import BotThread

_log = logging.getLogger(__name__)


@attrs.frozen
class HeardQuestion:
    """What a message asks (its words without the mention, a recording, pictures), the way it came, and the bot's
    thread it goes on in."""

    text: str
    audio: hikari.Attachment | None
    pictures: list[hikari.Attachment]
    route: AnswerRoute
    thread: BotThread | None


def _strip_mention(content: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", "", content).strip()


async def heard_question(
    event: hikari.MessageCreateEvent, discord: DiscordSettings, threads: ConversationThreads
) -> HeardQuestion | None:
    """The question of a message that mentions the bot, arrives in a DM, is posted in a configured chat channel, or
    goes on in a thread the bot opened; None for any other message, or one that asks nothing."""
    message = event.message
    if event.author.is_bot or event.author.is_system or message.webhook_id is not None:
        return None
    me = event.app.get_me() if isinstance(event.app, hikari.GatewayBot) else None
    if me is None:
        return None
    is_dm = message.guild_id is None
    mentions = message.user_mentions_ids
    mentioned = bool(mentions) and me.id in mentions
    thread = None if is_dm else await threads.find(message.channel_id)
    in_thread = thread is not None and (mentioned or discord.answer_in_threads)
    if not (mentioned or in_thread or (is_dm and discord.answer_in_dms) or message.channel_id in discord.chat_channels):
        return None
    text = _strip_mention(message.content or "", me.id)
    audio = audio_attachment(message)
    pictures = picture_attachments(message)
    if not text and audio is None and not pictures:
        return None
    route: AnswerRoute = "dm" if is_dm else "mention" if mentioned else "chat"
    return HeardQuestion(text, audio, pictures, route, thread)


async def tell_error(rest: hikari.api.RESTClient, message: hikari.Message, exc: Exception) -> None:
    """One error path for a message answer: a short reply; unexpected errors are logged with an id."""
    notice = describe_error(exc, "message answer")
    try:
        await rest.create_message(message.channel_id, notice, reply=message.id, user_mentions=False)
    except hikari.HTTPError as send_error:
        _log.warning("could not tell %s about an error: %s", message.author.id, send_error)
