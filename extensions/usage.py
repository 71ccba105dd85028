"""/usage: what the bot's model calls used and cost, by model and purpose (admins see the server's, everyone their
own), and the server's monthly budget and members' daily quota (admins)."""

from __future__ import annotations

import asyncio

import hikari
import lightbulb

from bot.discord.checks import admin_only, guild_of
from bot.discord.usage import budget_text, report_text
from bot.i18n import N_, _
from bot.llm.usage import PERIODS, Period, UsageLedger, UsageReport
from bot.store.usage import StoredBudget

loader = lightbulb.Loader()
group = lightbulb.Group("usage", N_("What the bot's model calls used and cost"), localize=True)
# /usage me works in DMs too, so the group is offered there; its admin subcommands refuse outside a server.
ADMIN = admin_only(N_("see this server's model usage or change its budget"))


def period_option() -> str:
    return lightbulb.string(
        "period",
        N_("Which days"),
        localize=True,
        choices=[lightbulb.Choice(shown, value, localize=True) for value, shown in PERIODS.items()],
        default="30d",
    )


async def respond(ctx: lightbulb.Context, report: UsageReport, text: str) -> None:
    from bot.llm.usage_chart import render_daily_tokens  # Pillow drawing, imported when first needed

    png = await asyncio.to_thread(render_daily_tokens, report.days, report.daily_tokens, "tokens a day, last 30 days")
    await ctx.respond(text, attachment=hikari.Bytes(png, "usage.png", mimetype="image/png"), ephemeral=True)


@group.register
class Server(
    lightbulb.SlashCommand,
    name="server",
    description=N_("This server's model usage and cost (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    period = period_option()
    member = lightbulb.user("member", N_("Only this member's usage"), localize=True, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, ledger: UsageLedger = lightbulb.di.INJECTED) -> None:
        user_id = int(self.member.id) if self.member is not None else None
        report = await ledger.report(int(guild_of(ctx)), _period(self.period), user_id)
        whose = _("this server's") if user_id is None else _("<@{user_id}>'s", user_id=user_id)
        await respond(ctx, report, report_text(report, whose, member=user_id is not None))


@group.register
class Me(lightbulb.SlashCommand, name="me", description=N_("Your own model usage here"), localize=True):
    period = period_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, ledger: UsageLedger = lightbulb.di.INJECTED) -> None:
        guild_id = int(ctx.guild_id) if ctx.guild_id is not None else None
        report = await ledger.report(guild_id, _period(self.period), int(ctx.user.id))
        await respond(ctx, report, report_text(report, _("your"), member=True, own=True))


@group.register
class SetBudget(
    lightbulb.SlashCommand,
    name="budget",
    description=N_("Cap this server's model use (admins)"),
    localize=True,
    hooks=[ADMIN],
):
    monthly_tokens = lightbulb.integer(
        "monthly_tokens", N_("Tokens a month for the server (0: no limit)"), localize=True, min_value=0, default=None
    )
    monthly_usd = lightbulb.number(
        "monthly_usd",
        N_("Estimated USD a month for the server (0: no limit)"),
        localize=True,
        min_value=0,
        default=None,
    )
    member_daily_tokens = lightbulb.integer(
        "member_daily_tokens",
        N_("Tokens a day for each member (0: no limit)"),
        localize=True,
        min_value=0,
        default=None,
    )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, ledger: UsageLedger = lightbulb.di.INJECTED) -> None:
        guild_id = int(guild_of(ctx))
        stored = await ledger.store.budget(guild_id)
        if (self.monthly_tokens, self.monthly_usd, self.member_daily_tokens) != (None, None, None):
            stored = StoredBudget(
                stored.monthly_tokens if self.monthly_tokens is None else self.monthly_tokens,
                stored.monthly_usd if self.monthly_usd is None else float(self.monthly_usd),
                stored.member_daily_tokens if self.member_daily_tokens is None else self.member_daily_tokens,
                int(ctx.channel_id),  # the notices at 80 % and 100 % go where the admins set it
            )
            await ledger.store.set_budget(guild_id, stored, int(ctx.user.id))
        await ctx.respond(budget_text(ledger.budget(stored)), ephemeral=True)


def _period(value: str) -> Period:
    for period in PERIODS:
        if period == value:
            return period
    return "30d"


loader.command(group)
