"""Usage counters and budget notices in the database: what several bot processes on one database agree on."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.errors import OverLimit
from bot.llm.usage import BudgetNotice, ModelPrice, Spender, TokenUsage, UsageLedger, UsageSettings
from bot.store.database import Database
from bot.store.usage import StoredBudget, UsageStore

GUILD = 1
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
PRICES = {"priced": ModelPrice(input=1.0, output=2.0, cached_input=0.5)}


def ledger(db: Database, sent: list[BudgetNotice], *, now: dt.datetime = NOW) -> UsageLedger:
    """A process's ledger: its own memory of notices, the database shared."""
    made = UsageLedger(UsageStore(db), UsageSettings(prices=PRICES), clock=lambda: now)

    async def tell(notice: BudgetNotice) -> None:
        sent.append(notice)

    made.on_notice(tell)
    return made


async def test_two_processes_crossing_a_level_at_once_tell_admins_once(db: Database) -> None:
    sent: list[BudgetNotice] = []
    first, second = ledger(db, sent), ledger(db, sent)
    await first.store.set_budget(GUILD, StoredBudget(monthly_tokens=1000), by_user=9)
    answer = Spender("answer", GUILD, 5)
    await first.record(answer, "priced", TokenUsage(700, 0))  # 70 %: no notice yet
    await asyncio.gather(
        first.record(answer, "priced", TokenUsage(100, 0)), second.record(answer, "priced", TokenUsage(100, 0))
    )  # 90 %, recorded by both processes
    await first.close()
    await second.close()
    assert [n.level for n in sent] == [80]
    await second.record(answer, "priced", TokenUsage(50, 60))  # 101 %
    await first.record(answer, "priced", TokenUsage(1, 0))
    await first.close()
    await second.close()
    assert [n.level for n in sent] == [80, 100]
    with pytest.raises(OverLimit, match="budget for this month"):
        await first.check(GUILD, 6)
    # A new month starts afresh.
    await ledger(db, sent, now=NOW + dt.timedelta(days=30)).check(GUILD, 6)


async def test_cost_uses_the_configured_prices_and_is_unknown_for_other_models(db: Database) -> None:
    made = ledger(db, [])
    assert made.cost("priced", TokenUsage(1_000_000, 500_000, cached_tokens=400_000)) == pytest.approx(0.6 + 0.2 + 1.0)
    assert made.cost("unpriced", TokenUsage(10, 10)) is None
    await made.record(Spender("judge", GUILD), "unpriced", TokenUsage(10, 5))
    await made.record(Spender("judge", GUILD), "priced", TokenUsage(1_000_000, 0))
    totals = {t.model: t for t in await made.store.totals(GUILD, NOW - dt.timedelta(days=1))}
    assert totals["unpriced"].unpriced_calls == 1 and totals["unpriced"].prompt_tokens == 10
    assert totals["priced"].cost_usd == pytest.approx(1.0) and totals["priced"].unpriced_calls == 0


async def test_a_currency_budget_counts_priced_calls_and_a_members_quota_resets_the_next_day(db: Database) -> None:
    today = ledger(db, [])
    await today.store.set_budget(GUILD, StoredBudget(monthly_usd=1.0, member_daily_tokens=2_000_000), by_user=9)
    await today.record(Spender("answer", GUILD, 5), "unpriced", TokenUsage(5_000_000, 0))  # no price: no dollars
    await today.check(GUILD, 6)
    with pytest.raises(OverLimit, match="tokens for today"):
        await today.check(GUILD, 5)
    await ledger(db, [], now=NOW + dt.timedelta(days=1)).check(GUILD, 5)  # a new day (UTC)
    await today.record(Spender("answer", GUILD, 6), "priced", TokenUsage(1_000_000, 0))  # $1.00
    with pytest.raises(OverLimit, match="budget for this month"):
        await today.check(GUILD, 7)
