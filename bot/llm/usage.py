"""What model calls cost and who made them: every call recorded by purpose, server and member, priced from the
configuration, and each server's monthly budget and members' daily quota checked before anything costs money."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from bot.config_tables import non_negative
from bot.errors import OverLimit
from bot.i18n import N_, SOURCE_LANGUAGE, _, current_language
from bot.metrics import Metrics
from bot.store.records import utcnow
from bot.store.usage import Spent, StoredBudget, UsageRow, UsageStore, UsageTotal, day_key, month_key

_log = logging.getLogger(__name__)

# answer: a typed, recorded or pictured question; voice: a spoken turn in a voice channel; test and judge: /model
# test's (and a finished job's) answers and their grading; training: a fine-tuning job's tokens, as estimated.
Purpose = Literal["answer", "voice", "embeddings", "test", "judge", "training"]
PURPOSES: tuple[Purpose, ...] = ("answer", "voice", "embeddings", "test", "judge", "training")
Period = Literal["today", "7d", "30d", "month"]
# Shown translated (bot/i18n.py).
PERIODS: dict[Period, str] = {"today": N_("today (UTC)"), "7d": N_("the last 7 days"), "30d": N_("the last 30 days"),
                              "month": N_("this month (UTC)")}  # fmt: skip
CHART_DAYS = 30
NOTICE_LEVELS = (80, 100)  # per cent of a server's monthly budget at which its admins are told (once each)


@attrs.frozen
class ModelPrice:
    """USD per 1M tokens."""

    input: float = attrs.field(validator=non_negative)
    output: float = attrs.field(validator=non_negative)
    # Prompt tokens the provider served from its cache (None: charged as `input`).
    cached_input: float | None = attrs.field(default=None, validator=non_negative)


@attrs.frozen
class UsageSettings:
    """[usage]: prices per model, and the default budgets (0: none) that a server's admins may change."""

    prices: dict[str, ModelPrice] = attrs.field(factory=dict[str, ModelPrice])
    monthly_tokens: int = attrs.field(default=0, validator=non_negative)
    monthly_usd: float = attrs.field(default=0.0, validator=non_negative)
    member_daily_tokens: int = attrs.field(default=0, validator=non_negative)


@attrs.frozen
class Spender:
    """Who a model call is for, and why: what its tokens are counted under."""

    purpose: Purpose
    guild_id: int | None = None
    user_id: int | None = None


@attrs.frozen
class TokenUsage:
    """What the provider reported for one call."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


@attrs.frozen
class Budget:
    """A server's limits in effect (0: none): its own, else the configured defaults."""

    monthly_tokens: int
    monthly_usd: float
    member_daily_tokens: int
    notice_channel_id: int | None = None

    @property
    def limited(self) -> bool:
        return bool(self.monthly_tokens or self.monthly_usd)

    def share(self, tokens: int, usd: float) -> float:
        """How much of the monthly budget is used, 0–1+ (the larger of the tokens' and the currency's share)."""
        shares = [tokens / self.monthly_tokens if self.monthly_tokens else 0.0]
        shares.append(usd / self.monthly_usd if self.monthly_usd else 0.0)
        return max(shares)


@attrs.frozen
class BudgetNotice:
    """A server has used `level` per cent of its monthly budget (sent once per level and month)."""

    guild_id: int
    level: int
    budget: Budget
    tokens: int
    usd: float


@attrs.frozen
class Estimate:
    """What some calls would spend at most, and what the server has left this month (None: no such limit)."""

    tokens: int
    usd: float | None  # None: a model without a price
    tokens_left: int | None
    usd_left: float | None


@attrs.frozen
class UsageReport:
    """What /usage shows: totals by model and purpose over a period, tokens a day over the last 30 days, and the
    budget with what the month and (for one member) the day have used."""

    period: Period
    totals: list[UsageTotal]
    days: list[str]
    daily_tokens: list[int]
    budget: Budget
    spent: Spent

    @property
    def tokens(self) -> int:
        return sum(t.prompt_tokens + t.completion_tokens for t in self.totals)

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.totals)

    @property
    def unpriced_calls(self) -> int:
        return sum(t.unpriced_calls for t in self.totals)


def period_start(period: Period, now: dt.datetime) -> dt.datetime:
    today = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return today
    if period == "month":
        return today.replace(day=1)
    return today - dt.timedelta(days=(7 if period == "7d" else 30) - 1)


class OverBudget(OverLimit):
    """A server's monthly budget or a member's daily quota is used up: nothing that costs money starts."""


def next_month(at: dt.datetime) -> dt.date:
    first = at.astimezone(dt.UTC).date().replace(day=1)
    return (first + dt.timedelta(days=32)).replace(day=1)


class UsageLedger:
    """Records each call (store, metrics, notices) and checks budgets; one per process, shared by every model call."""

    def __init__(
        self,
        store: UsageStore,
        settings: UsageSettings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self._metrics = metrics
        self._clock = clock
        self._notify: Callable[[BudgetNotice], Awaitable[None]] | None = None
        self._sent: set[tuple[int, str, int]] = set()  # notices this process knows are sent (saves a write)
        self._tasks: set[asyncio.Task[None]] = set()

    def on_notice(self, notify: Callable[[BudgetNotice], Awaitable[None]]) -> None:
        """`notify` tells a server's admins it reached a notice level (run in the background)."""
        self._notify = notify

    def cost(self, model: str, usage: TokenUsage) -> float | None:
        """Estimated USD from `[usage] prices`; None for a model without a price."""
        price = self.settings.prices.get(model)
        if price is None:
            return None
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_price = price.input if price.cached_input is None else price.cached_input
        return (
            (usage.prompt_tokens - cached) * price.input
            + cached * cached_price
            + usage.completion_tokens * price.output
        ) / 1_000_000

    def budget(self, stored: StoredBudget) -> Budget:
        s = self.settings
        return Budget(
            s.monthly_tokens if stored.monthly_tokens is None else stored.monthly_tokens,
            s.monthly_usd if stored.monthly_usd is None else stored.monthly_usd,
            s.member_daily_tokens if stored.member_daily_tokens is None else stored.member_daily_tokens,
            stored.notice_channel_id,
        )

    async def record(self, spender: Spender, model: str, usage: TokenUsage) -> None:
        """Count one call, priced from `[usage] prices`; a failure to store it is logged and never fails what the
        call was for."""
        await self._record(spender, model, usage, None)

    async def record_training(
        self, guild_id: int, user_id: int | None, model: str, tokens: int, cost_usd: float | None
    ) -> None:
        """Count a started fine-tuning job at its estimate (billed tokens, priced by `[training]`): the provider bills
        it later, and does not report it to the bot."""
        await self._record(Spender("training", guild_id, user_id), model, TokenUsage(tokens, 0), (cost_usd,))

    async def _record(
        self, spender: Spender, model: str, usage: TokenUsage, cost_given: tuple[float | None] | None
    ) -> None:
        """`cost_given`: `(usd,)` priced by the caller (None inside: unknown); None: priced here."""
        if self._metrics is not None:
            counted = (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
            self._metrics.model_usage(model, spender.purpose, *counted)
        now = self._clock()
        try:
            row = UsageRow(
                spender.guild_id,
                spender.user_id,
                model,
                spender.purpose,
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cached_tokens,
                self.cost(model, usage) if cost_given is None else cost_given[0],
                now,
            )
            spent = await self.store.record(row)
            if spender.guild_id is not None:
                await self._maybe_notify(spender.guild_id, now, spent)
        except Exception as exc:  # the answer was given; its count is lost, and the log says so
            tokens = usage.prompt_tokens + usage.completion_tokens
            _log.warning("could not record %d tokens of %s for guild %s: %s", tokens, model, spender.guild_id, exc)

    async def _maybe_notify(self, guild_id: int, now: dt.datetime, spent: Spent) -> None:
        """`spent`: the server's budget and month totals just after the call was recorded."""
        period = month_key(now)
        levels = [level for level in NOTICE_LEVELS if (guild_id, period, level) not in self._sent]
        if not levels:
            return
        budget = self.budget(spent.budget)
        if not budget.limited:
            return
        share = budget.share(spent.server_tokens, spent.server_usd)
        for level in levels:
            if share * 100 < level:
                continue
            self._sent.add((guild_id, period, level))
            if not await self.store.claim_notice(guild_id, period, level):
                continue  # another process (or an earlier call) told them
            notice = BudgetNotice(guild_id, level, budget, spent.server_tokens, spent.server_usd)
            _log.info("guild %s has used %d%% of its monthly model budget", guild_id, level)
            if self._notify is not None:
                task = asyncio.create_task(self._send(notice))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, notice: BudgetNotice) -> None:
        assert self._notify is not None
        try:
            await self._notify(notice)
        except Exception as exc:  # a notice is a courtesy: the budget holds either way
            _log.warning("could not tell guild %s's admins about its budget: %s", notice.guild_id, exc)

    async def spent(self, guild_id: int | None, user_id: int) -> tuple[Budget, Spent]:
        spent = await self.store.spent(guild_id, user_id, self._clock())
        return self.budget(spent.budget), spent

    async def check(self, guild_id: int | None, user_id: int | None) -> None:
        """OverBudget when the server's month or the member's day is used up (one read)."""
        budget, spent = await self.spent(guild_id, user_id or 0)
        if guild_id is not None and budget.limited and budget.share(spent.server_tokens, spent.server_usd) >= 1:
            again = next_month(self._clock())
            raise OverBudget(
                _(
                    "This server has used its model budget for this month, so the bot does not answer until {date} "
                    "(UTC). An admin can raise it with `/usage budget`.",
                    # English names the month; other languages get a plain date.
                    date=f"{again.day} {again:%B}" if current_language() == SOURCE_LANGUAGE else f"{again:%d.%m.%Y}",
                )
            )
        if user_id is not None and budget.member_daily_tokens and spent.member_tokens >= budget.member_daily_tokens:
            raise OverBudget(
                _(
                    "You have used your {limit} tokens for today. Ask again after 00:00 UTC.",
                    limit=f"{budget.member_daily_tokens:,}",
                )
            )

    async def report(self, guild_id: int | None, period: Period, user_id: int | None = None) -> UsageReport:
        """A server's usage (DMs: guild None, with `user_id`), or one member's there."""
        now = self._clock()
        days = [day_key(now - dt.timedelta(days=back)) for back in range(CHART_DAYS - 1, -1, -1)]
        totals, daily, (budget, spent) = await asyncio.gather(
            self.store.totals(guild_id, period_start(period, now), user_id),
            self.store.daily_tokens(guild_id, days, user_id),
            self.spent(guild_id, user_id or 0),
        )
        return UsageReport(period, totals, days, daily, budget, spent)

    async def estimate(self, guild_id: int, calls: list[tuple[str, TokenUsage]]) -> Estimate:
        """At most what `calls` (model, tokens) would spend, and what the server's month has left."""
        tokens = sum(u.prompt_tokens + u.completion_tokens for _model, u in calls)
        costs = [self.cost(model, u) for model, u in calls]
        usd = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
        return await self.estimate_spend(guild_id, tokens, usd)

    async def estimate_spend(self, guild_id: int, tokens: int, usd: float | None) -> Estimate:
        """`tokens` (costing `usd`, None: unknown) against what the server's month has left."""
        budget, spent = await self.spent(guild_id, 0)
        return Estimate(
            tokens,
            usd,
            max(0, budget.monthly_tokens - spent.server_tokens) if budget.monthly_tokens else None,
            max(0.0, budget.monthly_usd - spent.server_usd) if budget.monthly_usd else None,
        )

    async def close(self) -> None:
        """Waits for notices on their way."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
