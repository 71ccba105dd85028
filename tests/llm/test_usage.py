"""The usage ledger: what calls cost at the configured prices, calls to unpriced models counted but not priced, and
budgets in dollars and a member's daily tokens refusing further questions until the month or day ends."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.errors import OverLimit
from bot.llm.usage import Spender, TokenUsage
from bot.store.database import Database
from bot.store.usage import StoredBudget
from tests.store.test_usage import GUILD, NOW, ledger


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
