"""How usage looks in Discord: /usage's totals and budget, what a model test would spend, and the budget notices
sent to a server's admins at 80 % and 100 %."""

from __future__ import annotations

import logging

import hikari

from bot.discord.language import guild_locale
from bot.discord.message_split import DISCORD_LIMIT, clip
from bot.i18n import SOURCE_LANGUAGE, _, current_language, pgettext, speaking
from bot.llm.usage import PERIODS, Budget, BudgetNotice, Estimate, UsageReport, next_month
from bot.store.records import utcnow

_log = logging.getLogger(__name__)


def usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def purpose_name(purpose: str) -> str:
    """What a model call was for, as shown (stored in English)."""
    names = {
        "answer": pgettext("purpose", "answer"),
        "voice": pgettext("purpose", "voice"),
        "embeddings": pgettext("purpose", "embeddings"),
        "test": pgettext("purpose", "test"),
        "judge": pgettext("purpose", "judge"),
        "training": pgettext("purpose", "training"),
    }
    return names.get(purpose, purpose)


def cost_text(cost: float, unpriced_calls: int) -> str:
    """ "≈ $0.0123", or what is unknown: calls to a model without a price in `[usage] prices`."""
    if not unpriced_calls:
        return f"≈ {usd(cost)}"
    unknown = (
        _("cost unknown for {count} call (no price configured)", count=f"{unpriced_calls:,}")
        if unpriced_calls == 1
        else _("cost unknown for {count} calls (no price configured)", count=f"{unpriced_calls:,}")
    )
    return f"≈ {usd(cost)} + {unknown}" if cost else unknown


def budget_lines(budget: Budget, report: UsageReport, *, member: bool, own: bool = False) -> list[str]:
    """The budget under a report; a member's own report (`own`) shows only their day, not the server's month."""
    spent = report.spent
    if own:
        if not budget.member_daily_tokens:
            return []
        return [
            _(
                "Today: {used} of your {limit} tokens a day.",
                used=f"{spent.member_tokens:,}",
                limit=f"{budget.member_daily_tokens:,}",
            )
        ]
    lines: list[str] = []
    if budget.monthly_tokens:
        share = round(100 * spent.server_tokens / budget.monthly_tokens)
        lines.append(
            _(
                "This month: {used} of {limit} tokens ({share} %).",
                used=f"{spent.server_tokens:,}",
                limit=f"{budget.monthly_tokens:,}",
                share=share,
            )
        )
    if budget.monthly_usd:
        share = round(100 * spent.server_usd / budget.monthly_usd)
        lines.append(
            _(
                "This month: ≈ {used} of {limit} ({share} %).",
                used=usd(spent.server_usd),
                limit=usd(budget.monthly_usd),
                share=share,
            )
        )
    if budget.member_daily_tokens:
        if member:
            lines.append(
                _(
                    "Today: {used} of {limit} tokens a member may use.",
                    used=f"{spent.member_tokens:,}",
                    limit=f"{budget.member_daily_tokens:,}",
                )
            )
        else:
            lines.append(_("Each member may use {limit} tokens a day.", limit=f"{budget.member_daily_tokens:,}"))
    return lines or [_("No budget is set (`/usage budget`).")]


def report_text(report: UsageReport, whose: str, *, member: bool, own: bool = False) -> str:
    """The totals of `whose` usage ("this server's", "<@id>'s", "your", translated) by model and purpose, and the
    budget."""
    head = _(
        "📊 **{whose} model usage, {period}**", whose=whose[:1].upper() + whose[1:], period=_(PERIODS[report.period])
    )
    if not report.totals:
        body = [_("No model calls.")]
    else:
        calls = sum(t.calls for t in report.totals)
        prompt = sum(t.prompt_tokens for t in report.totals)
        cached = sum(t.cached_tokens for t in report.totals)
        completion = sum(t.completion_tokens for t in report.totals)
        counts = {
            "tokens": f"{report.tokens:,}",
            "calls": f"{calls:,}",
            "prompt": f"{prompt:,}",
            "cached": f"{cached:,}",
            "completion": f"{completion:,}",
        }
        totals = (
            _(
                "**{tokens} tokens** in {calls} call (prompt {prompt}, of them cached {cached} · "
                "completion {completion})",
                **counts,
            )
            if calls == 1
            else _(
                "**{tokens} tokens** in {calls} calls (prompt {prompt}, of them cached {cached} · "
                "completion {completion})",
                **counts,
            )
        )
        body = [f"{totals} · {cost_text(report.cost_usd, report.unpriced_calls)}", ""]
        for t in report.totals:
            tokens = t.prompt_tokens + t.completion_tokens
            used = (
                _("{calls} call, {tokens} tokens", calls=f"{t.calls:,}", tokens=f"{tokens:,}")
                if t.calls == 1
                else _("{calls} calls, {tokens} tokens", calls=f"{t.calls:,}", tokens=f"{tokens:,}")
            )
            body.append(
                f"`{clip(t.model, 60)}` {purpose_name(t.purpose)}: {used}, {cost_text(t.cost_usd, t.unpriced_calls)}"
            )
    text = "\n".join([head, *body, "", *budget_lines(report.budget, report, member=member, own=own)]).rstrip()
    return clip(text, DISCORD_LIMIT)


def budget_text(budget: Budget) -> str:
    def limit(value: float, shown: str) -> str:
        return shown if value else _("no limit")

    return _(
        "💰 Monthly budget: {tokens}, {usd}; each member: {daily}. Admins are told here at 80 % and 100 % of the "
        "month's budget; past it, questions are refused until the month ends.",
        tokens=limit(budget.monthly_tokens, _("{count} tokens", count=f"{budget.monthly_tokens:,}")),
        usd=limit(budget.monthly_usd, usd(budget.monthly_usd)),
        daily=limit(budget.member_daily_tokens, _("{count} tokens a day", count=f"{budget.member_daily_tokens:,}")),
    )


def estimate_line(estimate: Estimate) -> str:
    """What a model test would spend at most, against what the server's month has left."""
    cost = _("cost unknown (a model has no price)") if estimate.usd is None else f"≈ {usd(estimate.usd)}"
    tokens = f"{estimate.tokens:,}"
    left = _left(estimate)
    if left:
        return _(
            "It may use up to {tokens} tokens ({cost}); this server's monthly budget has {left} left.",
            tokens=tokens,
            cost=cost,
            left=left,
        )
    return _("It may use up to {tokens} tokens ({cost}).", tokens=tokens, cost=cost)


def budget_left_text(estimate: Estimate) -> str:
    """Under a training estimate: what the server's month has left, and whether this job fits in it."""
    left = _left(estimate)
    if not left:
        return _("No monthly budget is set (`/usage budget`).")
    over = (estimate.tokens_left is not None and estimate.tokens > estimate.tokens_left) or (
        estimate.usd_left is not None and estimate.usd is not None and estimate.usd > estimate.usd_left
    )
    fits = " " + _("⚠️ This job alone would go past it.") if over else ""
    return _("{left} left this month.", left=left) + fits


def _left(estimate: Estimate) -> str:
    left: list[str] = []
    if estimate.tokens_left is not None:
        left.append(_("{count} tokens", count=f"{estimate.tokens_left:,}"))
    if estimate.usd_left is not None:
        left.append(usd(estimate.usd_left))
    return _(" and ").join(left)


def notice_text(notice: BudgetNotice) -> str:
    again = next_month(utcnow())
    if notice.level >= 100:
        return _(
            "⛔ This server has used its whole model budget for this month ({usage}). Questions, model "
            "tests and training are refused until {date} (UTC), unless an admin raises it with `/usage budget`.",
            usage=usage_of(notice),
            # English names the month; other languages get a plain date.
            date=f"{again.day} {again:%B}" if current_language() == SOURCE_LANGUAGE else f"{again:%d.%m.%Y}",
        )
    return _(
        "⚠️ This server has used {level} % of its model budget for this month ({usage}). "
        "`/usage server` shows who and what used it.",
        level=notice.level,
        usage=usage_of(notice),
    )


def usage_of(notice: BudgetNotice) -> str:
    parts: list[str] = []
    if notice.budget.monthly_tokens:
        parts.append(
            _("{used} of {limit} tokens", used=f"{notice.tokens:,}", limit=f"{notice.budget.monthly_tokens:,}")
        )
    if notice.budget.monthly_usd:
        parts.append(_("≈ {used} of {limit}", used=usd(notice.usd), limit=usd(notice.budget.monthly_usd)))
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
        with speaking(await guild_locale(self._app, notice.guild_id)):  # to the server, in its language
            text = notice_text(notice)
        await self._app.rest.create_message(channel, text, user_mentions=False, role_mentions=False)
