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
