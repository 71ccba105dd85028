"""Knowledge sources on Discord: who may read a channel (from the gateway cache), reading a channel's history or
pins into passages with progress, keeping them in step with edits, deletions and pins, and re-checking for what was
missed while the bot was away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs
import hikari

from bot.discord.attachments import check_attachment, read
from bot.discord.permissions import channel_permissions
from bot.errors import InvalidInput
from bot.i18n import _
from bot.llm.knowledge import UnreadablePdf, file_passages, message_passages, pdf_passages
from bot.llm.settings import LLMSettings
from bot.store.knowledge import KnowledgeSource, KnowledgeStore, NewPassage, terms_of
from bot.store.passage_search import passage_terms
from bot.wiring import cancelled

_log = logging.getLogger(__name__)

BOT_NEEDS = hikari.Permissions.VIEW_CHANNEL | hikari.Permissions.READ_MESSAGE_HISTORY
TEXT_EXTENSIONS = ("md", "markdown", "txt", "pdf")
TEXT_MEDIA_TYPES = ("text/plain", "text/markdown", "text/x-markdown", "application/pdf")
PAGE = 100  # Discord's most messages per history request
Progress = Callable[[int], Awaitable[None]]


@attrs.frozen
class SyncResult:
    messages: int  # messages read
    changed: int  # messages whose passages were added or rewritten
    removed: int  # messages gone since the last read


def _cache(app: hikari.RESTAware) -> hikari.api.Cache | None:
    return app.cache if isinstance(app, hikari.CacheAware) else None


class CachedChannelAccess:
    """Who can read a channel now, computed from the cache as for voice rooms (threads as their parent channel)."""

    def __init__(self, app: hikari.RESTAware) -> None:
        self._app = app

    def channel_or_parent(self, channel_id: int) -> int:
        cache = _cache(self._app)
        thread = cache.get_thread(channel_id) if cache is not None else None
        return int(thread.parent_id) if thread is not None else channel_id

    async def _role_ids(self, guild_id: int, user_id: int) -> list[int] | None:
        cache = _cache(self._app)
        member = cache.get_member(guild_id, user_id) if cache is not None else None
        if member is None:
            try:
                member = await self._app.rest.fetch_member(guild_id, user_id)
            except hikari.HTTPError:
                return None
        return [int(r) for r in member.role_ids]

    async def can_view(self, guild_id: int, channel_id: int, user_id: int) -> bool:
        cache = _cache(self._app)
        thread = cache.get_thread(channel_id) if cache is not None else None
        if thread is not None and thread.type is hikari.ChannelType.GUILD_PRIVATE_THREAD:
            return False  # its members are not in the cache: only those asking inside it are known to read it
        roles = await self._role_ids(guild_id, user_id)
        if roles is None:
            return False
        perms = channel_permissions(self._app, guild_id, self.channel_or_parent(channel_id), user_id, roles)
        return perms is not None and bool(perms & hikari.Permissions.VIEW_CHANNEL)

    async def open_to_everyone(self, guild_id: int, channel_id: int) -> bool:
        cache = _cache(self._app)
        if cache is None:
            return False
        if (
            thread := cache.get_thread(channel_id)
        ) is not None and thread.type is hikari.ChannelType.GUILD_PRIVATE_THREAD:
            return False  # read by its members only
        channel = cache.get_guild_channel(self.channel_or_parent(channel_id))
        if channel is None:
            return False
        # @everyone alone (user 0 holds no role and owns nothing), and no overwrite that hides it from anyone.
        everyone = channel_permissions(self._app, guild_id, int(channel.id), 0, [])
        if everyone is None or not everyone & hikari.Permissions.VIEW_CHANNEL:
            return False
        return not any(o.deny & hikari.Permissions.VIEW_CHANNEL for o in channel.permission_overwrites.values())

    async def parent_of(self, guild_id: int, channel_id: int) -> int | None:
        del guild_id
        parent = self.channel_or_parent(channel_id)
        return parent if parent != channel_id else None


def bot_permission_problem(app: hikari.RESTAware, guild_id: int, channel_id: int) -> str | None:
    """What stops the bot from reading a channel's history, in words; None when nothing does."""
    if isinstance(app, hikari.GatewayBot) and not app.intents & hikari.Intents.MESSAGE_CONTENT:
        return _(
            "I can't read what messages say: the Message Content intent is off. The operator sets "
            "`knowledge_sources = true` in config.toml and switches the intent on in the Developer Portal "
            "(Bot → Privileged Gateway Intents)."
        )
    cache = _cache(app)
    me = cache.get_me() if cache is not None else None
    member = cache.get_member(guild_id, me.id) if cache is not None and me is not None else None
    channel = CachedChannelAccess(app).channel_or_parent(channel_id)
    perms = (
        channel_permissions(app, guild_id, channel, int(me.id), [int(r) for r in member.role_ids])
        if me is not None and member is not None
        else None
    )
    if perms is None or (perms & BOT_NEEDS) != BOT_NEEDS:
        return _(
            "I need the View Channel and Read Message History permissions in <#{channel_id}>. Ask an admin.",
            channel_id=channel_id,
        )
    return None


class KnowledgeReader:
    """Reads sources into passages and keeps them in step with their channels."""

    def __init__(self, app: hikari.RESTAware, store: KnowledgeStore, settings: LLMSettings) -> None:
        self._app = app
        self._store = store
        self._settings = settings
        self._channels: set[int] = set()  # channels some source reads: most messages are in none
        self._locks: dict[int, asyncio.Lock] = {}
        self._task: asyncio.Task[None] | None = None
        # How many gateway events and re-checks have been applied, for whoever waits on one (`until`).
        self.events_applied = 0
        self.rechecks = 0
        self._applied = asyncio.Condition()

    @property
    def max_file_bytes(self) -> int:
        return int(self._settings.knowledge_max_file_mb * 1024 * 1024)

    # ----- adding ---------------------------------------------------------------------------------------------------

    async def add_channel(
        self, guild_id: int, channel_id: int, *, pinned_only: bool, label: str, added_by: int, progress: Progress
    ) -> tuple[KnowledgeSource, SyncResult]:
        await self.check_channel(guild_id, channel_id, pinned_only=pinned_only)
        source = await self._store.add_source(
            guild_id, "channel", label=label, added_by=added_by, channel_id=channel_id, pinned_only=pinned_only
        )
        self._channels.add(channel_id)
        try:
            result = await self.sync(source, progress)
        except BaseException:
            await self._store.remove_source(guild_id, source.id)  # half a channel would answer half the questions
            raise
        return source, result

    async def check_channel(self, guild_id: int, channel_id: int, *, pinned_only: bool) -> None:
        """Refuse, before anything is read: the bot may not read the channel, or it is a source already."""
        problem = bot_permission_problem(self._app, guild_id, channel_id)
        if problem is not None:
            raise InvalidInput(problem)
        for existing in await self._store.sources(guild_id):
            if existing.channel_id == channel_id and existing.pinned_only == pinned_only:
                raise InvalidInput(
                    _(
                        "<#{channel_id}> is already source #{id}. Use `/knowledge sync` instead.",
                        channel_id=channel_id,
                        id=existing.id,
                    )
                )

    def check_file(self, attachment: hikari.Attachment) -> None:
        """Refuse a file before downloading it: too big, or not Markdown, plain text or PDF."""
        check_attachment(
            attachment,
            max_bytes=self.max_file_bytes,
            extensions=TEXT_EXTENSIONS,
            media_types=TEXT_MEDIA_TYPES,
            what=_("a knowledge file"),
        )

    async def add_file(
        self, guild_id: int, attachment: hikari.Attachment, *, label: str, added_by: int
    ) -> tuple[KnowledgeSource, int]:
        self.check_file(attachment)
        data = await read(attachment, max_bytes=self.max_file_bytes, what=_("the file"))
        if data.startswith(b"%PDF-"):
            try:
                passages = await asyncio.to_thread(pdf_passages, data)
            except UnreadablePdf as exc:
                raise InvalidInput(_("I can't read that PDF: {problem}.", problem=exc)) from None
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidInput(_("The file is not UTF-8 text. Save it as UTF-8 Markdown or plain text.")) from None
            passages = await asyncio.to_thread(file_passages, text)
        if not passages:
            raise InvalidInput(_("The file holds no text."))
        terms = await asyncio.to_thread(terms_of, passages)
        source = await self._store.add_source(
            guild_id, "file", label=label, added_by=added_by, filename=attachment.filename[:200]
        )
        await self._store.add_passages(source, passages, terms)
        await self._store.mark_synced(source.id)
        return source, len(passages)

    async def remove(self, guild_id: int, source_id: int) -> bool:
        source = await self._store.source(guild_id, source_id)
        removed = await self._store.remove_source(guild_id, source_id)
        channel = source.channel_id if removed and source is not None else None
        if channel is not None and not await self._store.sources_reading(channel):
            self._channels.discard(channel)
        return removed

    # ----- reading --------------------------------------------------------------------------------------------------

    async def _each_page(
        self, source: KnowledgeSource, handle: Callable[[list[hikari.PartialMessage]], Awaitable[None]]
    ) -> None:
        """Every message of the source (its pins, or its whole history oldest first), a page at a time: hikari's REST
        client waits out Discord's rate-limit buckets between requests."""
        assert source.channel_id is not None
        rest = self._app.rest
        page: list[hikari.PartialMessage] = []
        iterator = (
            rest.fetch_pins(source.channel_id)
            if source.pinned_only
            else rest.fetch_messages(source.channel_id, after=hikari.Snowflake(0))
        )
        async for message in iterator:
            page.append(message.message if isinstance(message, hikari.PinnedMessage) else message)
            if len(page) == PAGE:
                await handle(page)
                page = []
        if page:
            await handle(page)

    def _passages_of(self, message: hikari.PartialMessage) -> list[NewPassage]:
        me = self._app.cache.get_me() if isinstance(self._app, hikari.CacheAware) else None
        content = message.content if isinstance(message.content, str) else ""
        if me is not None and message.author is not hikari.UNDEFINED and message.author.id == me.id:
            return []  # the bot's own answers are not what the community wrote down
        return message_passages(content, message_id=int(message.id), channel_id=int(message.channel_id))

    async def sync(self, source: KnowledgeSource, progress: Progress | None = None) -> SyncResult:
        """Bring the source's passages in step with its channel: new and edited messages indexed, deleted ones gone."""
        lock = self._locks.setdefault(source.id, asyncio.Lock())
        async with lock:
            stored = await self._store.passage_texts(source.id)
            seen: set[int] = set()
            counts = {"read": 0, "changed": 0}

            async def handle(page: list[hikari.PartialMessage]) -> None:
                by_message = [(m, self._passages_of(m)) for m in page]
                fresh: list[NewPassage] = []
                for message, passages in by_message:
                    seen.add(int(message.id))
                    before = stored.get(int(message.id))
                    now = "\n".join(p.text for p in passages)
                    if before == now or (before is None and not passages):
                        continue
                    counts["changed"] += 1
                    if before is None:
                        fresh.extend(passages)
                    else:
                        terms = await asyncio.to_thread(terms_of, passages)
                        await self._store.replace_message(source, int(message.id), passages, terms)
                terms = await asyncio.to_thread(terms_of, fresh)  # stemming a page is CPU work: off the loop
                newest = max(int(m.id) for m in page)
                await self._store.add_passages(source, fresh, terms, last_message_id=newest)
                counts["read"] += len(page)
                if progress is not None:
                    await progress(counts["read"])

            await self._each_page(source, handle)
            assert source.channel_id is not None
            gone = [m for m in stored if m not in seen]
            await self._store.remove_messages(source.channel_id, gone)
            await self._store.mark_synced(source.id)
        return SyncResult(counts["read"], counts["changed"], len(gone))

    # ----- gateway events -------------------------------------------------------------------------------------------

    def subscribe(self, bot: hikari.GatewayBot) -> None:
        bot.subscribe(hikari.GuildMessageCreateEvent, self._on_create)
        bot.subscribe(hikari.GuildMessageUpdateEvent, self._on_update)
        bot.subscribe(hikari.GuildMessageDeleteEvent, self._on_delete)
        bot.subscribe(hikari.GuildBulkMessageDeleteEvent, self._on_bulk_delete)
        bot.subscribe(hikari.GuildPinsUpdateEvent, self._on_pins)

    async def _message_changed(self, message: hikari.PartialMessage, kind: Literal["create", "update"]) -> None:
        channel_id = int(message.channel_id)
        for source in await self._store.sources_reading(channel_id):
            if source.pinned_only and (kind == "create" or not message.is_pinned):
                if kind == "update":  # unpinned in the same edit: no longer part of a pins-only source
                    await self._store.replace_message(source, int(message.id), [], [])
                continue
            if kind == "update" and not isinstance(message.content, str):
                continue  # an update that did not touch the text (an embed resolving)
            passages = self._passages_of(message)
            terms = await asyncio.to_thread(terms_of, passages)
            await self._store.replace_message(source, int(message.id), passages, terms)

    async def _on_create(self, event: hikari.GuildMessageCreateEvent) -> None:
        if int(event.channel_id) in self._channels:
            await self._guarded(self._message_changed(event.message, "create"), event=True)

    async def _on_update(self, event: hikari.GuildMessageUpdateEvent) -> None:
        if int(event.channel_id) in self._channels:
            await self._guarded(self._message_changed(event.message, "update"), event=True)

    async def _on_delete(self, event: hikari.GuildMessageDeleteEvent) -> None:
        if int(event.channel_id) in self._channels:
            work = self._store.remove_messages(int(event.channel_id), [int(event.message_id)])
            await self._guarded(work, event=True)

    async def _on_bulk_delete(self, event: hikari.GuildBulkMessageDeleteEvent) -> None:
        if int(event.channel_id) in self._channels:
            ids = [int(m) for m in event.message_ids]
            await self._guarded(self._store.remove_messages(int(event.channel_id), ids), event=True)

    async def _on_pins(self, event: hikari.GuildPinsUpdateEvent) -> None:
        if int(event.channel_id) in self._channels:
            await self._guarded(self._pins_changed(int(event.channel_id)), event=True)

    async def _pins_changed(self, channel_id: int) -> None:
        for source in await self._store.sources_reading(channel_id):
            if source.pinned_only:
                await self.sync(source)

    async def _guarded(self, work: Awaitable[object], *, event: bool = False) -> None:
        # No single event may stop the others: a failure is logged and the periodic re-check repairs it.
        try:
            await work
        except Exception:
            _log.warning("could not bring a knowledge source up to date", exc_info=True)
        if event:
            await self._count("events_applied")

    async def _count(self, what: str) -> None:
        async with self._applied:
            setattr(self, what, getattr(self, what) + 1)
            self._applied.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until `condition()` holds, checked after each applied event and re-check (callers bound the wait)."""
        async with self._applied:
            await self._applied.wait_for(condition)

    # ----- start and periodic re-check ------------------------------------------------------------------------------

    async def recheck(self) -> None:
        """Every channel source re-read: what changed while the bot was down (or an event missed) is caught up."""
        cache = _cache(self._app)
        # Only this process's servers (with shards in several processes, each re-reads its own).
        sources = [
            s
            for s in await self._store.all_channel_sources()
            if cache is None or cache.get_guild(s.guild_id) is not None
        ]
        # Added to, never replaced: a source added while this re-check read the list must keep its events.
        self._channels |= {s.channel_id for s in sources if s.channel_id is not None}
        for source in sources:
            await self._guarded(self.sync(source))
        await self._count("rechecks")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        # The stemmers load once, in a worker thread, before any page is read: their import would otherwise hold
        # Python's import lock while the first page is indexed, and every import on the event loop would wait.
        await asyncio.to_thread(passage_terms, "warm")
        while True:
            await self._guarded(self.recheck())
            await asyncio.sleep(self._settings.knowledge_recheck_minutes * 60)

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancelled(task)
