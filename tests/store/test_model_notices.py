"""A notice about a server's model is claimed once, even by two processes at once and after a restart."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.store.database import Database
from bot.store.model_notices import ModelNoticeStore

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # any instant: nothing here depends on the date


async def test_a_notice_is_claimed_once_across_processes_and_again_only_after_release(db: Database) -> None:
    first, second = ModelNoticeStore(db), ModelNoticeStore(db)  # two processes on one database
    claims = await asyncio.gather(*(store.claim(1, "ft:m", "shutdown", NOW) for store in (first, second) * 3))
    assert sorted(claims) == [False] * 5 + [True]
    assert await second.claim(1, "ft:m", "missing", NOW)  # another kind of notice is its own
    assert await second.claim(2, "ft:m", "shutdown", NOW)  # and another server's
    assert [m for m, _ in await first.sent(1, "shutdown")] == ["ft:m"]
    await first.release(1, "ft:m", "missing")
    assert await second.claim(1, "ft:m", "missing", NOW)
    assert not await first.claim(1, "ft:m", "shutdown", NOW)
