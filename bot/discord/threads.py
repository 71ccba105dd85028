"""Conversation threads: /ask (or a configured channel) opens a thread on the answer, and every message in a thread
the bot opened continues that conversation."""

from __future__ import annotations

import datetime as dt
import logging

import hikari

from bot.errors import AfterAnswer, ServiceUnavailable
from bot.i18n import _
from bot.store.threads import BotThread, ThreadStore

_log = logging.getLogger(__name__)
MAX_NAME = 100  # Discord's limit on a thread's name


def thread_name(question: str) -> str:
    """The question's first line, cut to fit; mentions and markup are left to Discord to show as text."""
    first = " ".join(question.strip().splitlines()[0].split()) if question.strip() else ""
    if not first:
        return _("Conversation")
    return first if len(first) <= MAX_NAME else first[: MAX_NAME - 1] + "…"


class ConversationThreads:
    """Opens threads on answers and recognises the bot's threads (from the cache first, then the database)."""

    def __init__(self, app: hikari.RESTAware, store: ThreadStore) -> None:
        self._app = app
        self._store = store

    async def open(
        self, *, guild_id: int, channel_id: int, message_id: int, question: str, conversation_id: str, user_id: int
    ) -> BotThread:
        """A public thread on the answer's message, recorded as the conversation's; the answer stays if this fails.

        Discord gives a thread started from a message the message's id, so it is recorded under that id first: a
        message posted in the thread the moment it appears already finds it (even in another process)."""
        planned = BotThread(message_id, guild_id, channel_id, conversation_id)
        await self._store.add(planned, user_id)
        try:
            thread = await self._app.rest.create_message_thread(
                channel_id, message_id, thread_name(question), auto_archive_duration=dt.timedelta(days=1)
            )
        except hikari.HTTPError as exc:
            await self._store.remove(message_id)
            _log.warning("could not open a thread in %s on %s: %s", channel_id, message_id, exc)
            raise AfterAnswer(
                ServiceUnavailable(
                    _("I answered, but could not open a thread here (the bot needs Create Public Threads).")
                )
            ) from exc
        if int(thread.id) != message_id:  # not as Discord documents it, but then the record follows the thread
            await self._store.remove(message_id)
            planned = BotThread(int(thread.id), guild_id, channel_id, conversation_id)
            await self._store.add(planned, user_id)
        return planned

    async def find(self, channel_id: int) -> BotThread | None:
        """The bot's conversation thread with this id, or None. A channel the cache knows as an ordinary channel, or
        as someone else's thread, is answered from the cache alone."""
        cache = self._app.cache if isinstance(self._app, hikari.CacheAware) else None
        if cache is not None:
            if cache.get_guild_channel(channel_id) is not None:
                return None
            thread = cache.get_thread(channel_id)
            me = cache.get_me()
            if thread is not None and me is not None and thread.owner_id != me.id:
                return None
        return await self._store.get(channel_id)
