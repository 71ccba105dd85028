"""How usage looks in Discord: /usage's totals and budget, what a model test would spend, and the budget notices
sent to a server's admins at 80 % and 100 %."""

from __future__ import annotations

import logging

import hikari

from bot.discord.message_split import DISCORD_LIMIT, clip
from bot.llm.usage import PERIODS, Budget, BudgetNotice, Estimate, UsageReport, next_month
from bot.store.records import utcnow

_log = logging.getLogger(__name__)


def usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def cost_text(cost: float, unpriced_calls: int) -> str:
    """ "≈ $0.0123", or what is unknown: calls to a model without a price in `[usage] prices`."""
    if not unpriced_calls:
        return f"≈ {usd(cost)}"
    unknown = f"cost unknown for {unpriced_calls:,} call{'' if unpriced_calls == 1 else 's'} (no price configured)"
    return f"≈ {usd(cost)} + {unknown}" if cost else unknown


def budget_lines(budget: Budget, report: UsageReport, *, member: bool, own: bool = False) -> list[str]:
    """The budget under a report; a member's own report (`own`) shows only their day, not the server's month."""
    spent = report.spent
    if own:
        if not budget.member_daily_tokens:
            return []
        return [f"Today: {spent.member_tokens:,} of your {budget.member_daily_tokens:,} tokens a day."]
    lines: list[str] = []
    if budget.monthly_tokens:
        share = round(100 * spent.server_tokens / budget.monthly_tokens)
        lines.append(f"This month: {spent.server_tokens:,} of {budget.monthly_tokens:,} tokens ({share} %).")
    if budget.monthly_usd:
        share = round(100 * spent.server_usd / budget.monthly_usd)
        lines.append(f"This month: ≈ {usd(spent.server_usd)} of {usd(budget.monthly_usd)} ({share} %).")
    if budget.member_daily_tokens:
        if member:
            lines.append(f"Today: {spent.member_tokens:,} of {budget.member_daily_tokens:,} tokens a member may use.")
        else:
            lines.append(f"Each member may use {budget.member_daily_tokens:,} tokens a day.")
    return lines or ["No budget is set (`/usage budget`)."]


def report_text(report: UsageReport, whose: str, *, member: bool, own: bool = False) -> str:
    """The totals of `whose` usage ("this server's", "<@id>'s", "your") by model and purpose, and the budget."""
    head = f"📊 **{whose[0].upper() + whose[1:]} model usage, {PERIODS[report.period]}**"
    if not report.totals:
        body = ["No model calls."]
    else:
        calls = sum(t.calls for t in report.totals)
        prompt = sum(t.prompt_tokens for t in report.totals)
        cached = sum(t.cached_tokens for t in report.totals)
        completion = sum(t.completion_tokens for t in report.totals)
        body = [
            f"**{report.tokens:,} tokens** in {calls:,} call{'' if calls == 1 else 's'} (prompt {prompt:,}, of them "
            f"cached {cached:,} · completion {completion:,}) · {cost_text(report.cost_usd, report.unpriced_calls)}",
            "",
        ]
        for t in report.totals:
            tokens = t.prompt_tokens + t.completion_tokens
            body.append(
                f"`{clip(t.model, 60)}` {t.purpose}: {t.calls:,} call{'' if t.calls == 1 else 's'}, {tokens:,} tokens, "
                f"{cost_text(t.cost_usd, t.unpriced_calls)}"
            )
    text = "\n".join([head, *body, "", *budget_lines(report.budget, report, member=member, own=own)]).rstrip()
    return clip(text, DISCORD_LIMIT)


def budget_text(budget: Budget) -> str:
    def limit(value: float, shown: str) -> str:
        return shown if value else "no limit"

    return (
        f"💰 Monthly budget: {limit(budget.monthly_tokens, f'{budget.monthly_tokens:,} tokens')}, "
        f"{limit(budget.monthly_usd, usd(budget.monthly_usd))}; each member: "
        f"{limit(budget.member_daily_tokens, f'{budget.member_daily_tokens:,} tokens a day')}. Admins are told here "
        "at 80 % and 100 % of the month's budget; past it, questions are refused until the month ends."
    )


def estimate_line(estimate: Estimate) -> str:
    """What a model test would spend at most, against what the server's month has left."""
    cost = "cost unknown (a model has no price)" if estimate.usd is None else f"≈ {usd(estimate.usd)}"
    line = f"It may use up to {estimate.tokens:,} tokens ({cost})"
    left = _left(estimate)
    if left:
        line += f"; this server's monthly budget has {left} left"
    return line + "."


def budget_left_text(estimate: Estimate) -> str:
    """Under a training estimate: what the server's month has left, and whether this job fits in it."""
    left = _left(estimate)
    if not left:
        return "No monthly budget is set (`/usage budget`)."
    over = (estimate.tokens_left is not None and estimate.tokens > estimate.tokens_left) or (
        estimate.usd_left is not None and estimate.usd is not None and estimate.usd > estimate.usd_left
    )
    fits = " ⚠️ This job alone would go past it." if over else ""
    return f"{left} left this month.{fits}"


def _left(estimate: Estimate) -> str:
    left: list[str] = []
    if estimate.tokens_left is not None:
        left.append(f"{estimate.tokens_left:,} tokens")
    if estimate.usd_left is not None:
        left.append(usd(estimate.usd_left))
    return " and ".join(left)


def notice_text(notice: BudgetNotice) -> str:
    again = next_month(utcnow())
    if notice.level >= 100:
        return (
            f"⛔ This server has used its whole model budget for this month ({usage_of(notice)}). Questions, model "
            f"tests and training are refused until {again.day} {again:%B} (UTC), unless an admin raises it with "
            "`/usage budget`."
        )
    return (
        f"⚠️ This server has used {notice.level} % of its model budget for this month ({usage_of(notice)}). "
        "`/usage server` shows who and what used it."
    )


def usage_of(notice: BudgetNotice) -> str:
    parts: list[str] = []
    if notice.budget.monthly_tokens:
        parts.append(f"{notice.tokens:,} of {notice.budget.monthly_tokens:,} tokens")
    if notice.budget.monthly_usd:
        parts.append(f"≈ {usd(notice.usd)} of {usd(notice.budget.monthly_usd)}")
    return ", ".join(parts)


class BudgetNotices:
    """Sends a server's budget notices to the channel where its admins set the budget, else its system channel."""

    def __init__(self, app: hikari.GatewayBot) -> None:
        self._app = app

    async def send(self, notice: BudgetNotice) -> None:
        channel = notice.budget.notice_channel_id
        if channel is None:
            guild = self._app.cache.get_guild(notice.guild_id)
            channel = guild.system_channel_id if guild is not None else None
        if channel is None:
            _log.warning("guild %s reached %d%% of its model budget; no channel to tell", notice.guild_id, notice.level)
            return
        await self._app.rest.create_message(channel, notice_text(notice), user_mentions=False, role_mentions=False)
