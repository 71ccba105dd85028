"""Notices to a server's admins about its model: it stopped answering (a fallback answers), or it will shut down."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable

import hikari

from bot.discord.language import guild_locale
from bot.discord.settings import DiscordSettings
from bot.i18n import _, speaking
from bot.llm.retirements import Clock, Shutdown, shutdown_of, utc_now
from bot.llm.settings import LLMSettings
from bot.store.guilds import GuildSettingsStore
from bot.store.jobs import JobStore
from bot.store.model_notices import ModelNoticeStore, NoticeKind
from bot.wiring import cancelled

_log = logging.getLogger(__name__)

SHUTDOWN_CHECK_S = 6 * 3600.0  # shutdown dates are days apart: a few looks a day are plenty


class ModelNotices:
    """Each notice once per server and model (recorded in the database, so also across restarts and processes), in the
    server's configured admin channel, else in the channel of the training job that made the model."""

    def __init__(
        self,
        rest: hikari.api.RESTClient,
        notices: ModelNoticeStore,
        jobs: JobStore,
        guilds: GuildSettingsStore,
        *,
        discord: DiscordSettings,
        llm: LLMSettings,
        guild_ids: Callable[[], Iterable[int]],
        clock: Clock = utc_now,
    ) -> None:
        self._rest = rest
        self._notices = notices
        self._jobs = jobs
        self._guilds = guilds
        self._discord = discord
        self._llm = llm
        self._guild_ids = guild_ids  # the servers the bot is in (those on the default model have no row of their own)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def missing(self, guild_id: int, model: str, fallback: str) -> None:
        """The server's model answered "not found": its admins are told once which model answers instead."""

        def text() -> str:
            return _(
                "⚠️ This server's model `{model}` no longer answers: the provider says it does not exist (retired, "
                "deleted, or a fine-tune shut down). `{fallback}` answers questions here meanwhile, and `{model}` is "
                "tried again now and then. `/model use` moves this server to another model for good.",
                model=model,
                fallback=fallback,
            )

        await self._send(guild_id, model, "missing", text)

    async def answering_again(self, guild_id: int, model: str) -> None:
        """The model answers again: a later outage is told again."""
        await self._notices.release(guild_id, model, "missing")

    async def warn_shutdowns(self) -> int:
        """Tell every server whose model (or its base) shuts down within the lead time, once; returns how many were
        told."""
        now = self._clock()
        chosen = dict(await self._guilds.active_models())
        told = 0
        for guild_id in set(self._guild_ids()) | set(chosen):
            model = chosen.get(guild_id, self._llm.default_model)
            shutdown = shutdown_of(model, self._llm.shutdowns)
            if shutdown is None:
                continue
            days = shutdown.days_left(now)
            if not 0 < days <= self._llm.shutdown_notice_days:
                continue
            told += await self._send(
                guild_id, model, "shutdown", functools.partial(shutdown_text, model, shutdown, days)
            )
        return told

    def start(self) -> None:
        """Look for coming shutdowns now and every few hours, until `stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancelled(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.warn_shutdowns()
            except Exception:
                _log.warning("could not look for coming model shutdowns", exc_info=True)
            await asyncio.sleep(SHUTDOWN_CHECK_S)  # a periodic look, not synchronisation

    async def _send(self, guild_id: int, model: str, kind: NoticeKind, text: Callable[[], str]) -> bool:
        """Post the notice (`text` is made in the server's language) once per server, model and kind."""
        channel = self._discord.admin_channels.get(str(guild_id)) or await self._jobs.channel_of_model(guild_id, model)
        if channel is None:
            _log.warning("guild %d: no admin channel for the %s notice about %s (set [discord.admin_channels])",
                         guild_id, kind, model)  # fmt: skip
            return False
        if not await self._notices.claim(guild_id, model, kind, self._clock()):
            return False  # told already (by this process or another)
        try:
            with speaking(await guild_locale(self._rest, guild_id)):
                shown = text()
            await self._rest.create_message(channel, shown, role_mentions=False, user_mentions=False)
        except hikari.HTTPError as exc:
            # Not posted: forget the claim, so the next look (or the next outage of the model) tries again.
            _log.warning("guild %d: could not post the %s notice about %s: %s", guild_id, kind, model, exc)
            await self._notices.release(guild_id, model, kind)
            return False
        return True


def shutdown_text(model: str, shutdown: Shutdown, days: int) -> str:
    base = "" if shutdown.listed == model else " " + _("(it is built on `{model}`)", model=shutdown.listed)
    counted = {"model": model, "base": base, "date": f"{shutdown.date:%Y-%m-%d}", "days": days}
    if days == 1:
        return _(
            "📅 This server's model `{model}`{base} shuts down on {date}, in {days} day; after that it answers "
            "nothing. `/model use name:<model>` moves this server to a model that stays (train a new one elsewhere "
            "first if it should know this community).",
            **counted,
        )
    return _(
        "📅 This server's model `{model}`{base} shuts down on {date}, in {days} days; after that it answers "
        "nothing. `/model use name:<model>` moves this server to a model that stays (train a new one elsewhere "
        "first if it should know this community).",
        **counted,
    )
