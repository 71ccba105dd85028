"""Shard processes on one PostgreSQL take turns to IDENTIFY per rate-limit bucket; on SQLite nothing is locked."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.store.database import Database
from bot.store.identify_turns import IdentifyTurns, buckets


def test_shards_identify_in_the_bucket_of_their_id_modulo_max_concurrency() -> None:
    assert buckets([0, 1, 2, 3], 1) == [0]
    assert buckets([5, 2, 1], 4) == [1, 2]
    assert buckets(None, 3) == [0, 1, 2]  # a process running every shard uses every bucket


async def test_on_sqlite_nothing_is_held_since_one_process_runs_every_shard(db: Database) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: on PostgreSQL processes take turns (the test below)")
    turns = IdentifyTurns(db, window_s=0.2)
    async with asyncio.timeout(5):
        await turns.take([0], max_concurrency=2)
    assert not turns.holding  # one process: hikari alone paces its shards
    await turns.close()


async def test_a_second_process_in_the_same_bucket_waits_for_the_first_ones_window(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: processes share turns through its advisory locks; SQLite serves one process")
    caplog.set_level(logging.INFO, logger="bot.store.identify_turns")
    first, same_bucket, other_bucket = (IdentifyTurns(db, window_s=0.2) for _ in range(3))
    await first.take([0], max_concurrency=2)
    assert first.holding
    waiting = asyncio.ensure_future(same_bucket.take([2], max_concurrency=2))  # 2 % 2 == 0: the same bucket
    async with asyncio.timeout(5):
        await other_bucket.take([1], max_concurrency=2)  # bucket 1 identifies alongside at once
    assert other_bucket.holding and not waiting.done()
    first.release_after_window()  # the first one's shards are up: its turn ends when Discord's window has passed
    async with asyncio.timeout(5):
        await waiting
    assert same_bucket.holding and not first.holding
    waited = [r.getMessage() for r in caplog.records if "waiting for its turn" in r.getMessage()]
    assert waited == ["another process is identifying shards in bucket 0; waiting for its turn to end"]
    for turns in (first, same_bucket, other_bucket):
        await turns.close()
