"""Which bot process works on a row: claims with a lease, renewed by their holder, taken over only once the lease has
run out or was released, and one row never held by two processes at once."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.store.claims import claim, claim_one, process_identity, release
from bot.store.database import Database
from bot.store.jobs import JobStore
from bot.store.records import as_utc
from bot.store.schema import training_jobs
from tests.store.test_jobs import new

NOW = dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=2)
ACTIVE = training_jobs.c.status == "queued"


async def _jobs(db: Database, count: int) -> list[int]:
    jobs = JobStore(db)
    return [(await jobs.add(new(remote=f"ftjob-{i}"))).id for i in range(count)]


async def test_claiming_at_once_gives_each_row_to_one_process(db: Database) -> None:
    ids = await _jobs(db, 6)
    first, second = "host-a:1:aa", "host-b:2:bb"
    held = await asyncio.gather(
        *(claim(db, training_jobs, me, now=NOW, lease=LEASE, where=ACTIVE) for me in (first, second, first, second))
    )
    owners = {row.id: row.claimed_by for rows in held for row in rows}
    assert sorted(owners) == ids  # every row went to someone…
    for rows in held:  # …and each claimer saw only rows it holds
        assert all(owners[row.id] == row.claimed_by for row in rows)


async def test_a_held_row_is_renewed_by_its_holder_and_taken_over_only_when_its_lease_runs_out(db: Database) -> None:
    (job,) = await _jobs(db, 1)
    (row,) = await claim(db, training_jobs, "a", now=NOW, lease=LEASE, where=ACTIVE)
    assert (row.claimed_by, as_utc(row.lease_until)) == ("a", NOW + LEASE)
    assert await claim(db, training_jobs, "b", now=NOW + LEASE / 2, lease=LEASE, where=ACTIVE) == []
    (renewed,) = await claim(db, training_jobs, "a", now=NOW + LEASE / 2, lease=LEASE, where=ACTIVE)
    assert as_utc(renewed.lease_until) == NOW + LEASE / 2 + LEASE
    assert not await claim_one(db, training_jobs, job, "b", now=NOW + LEASE, lease=LEASE, where=ACTIVE)
    # "a" died: once its lease has run out, "b" takes the row.
    later = NOW + LEASE / 2 + LEASE + dt.timedelta(seconds=1)
    assert [r.claimed_by for r in await claim(db, training_jobs, "b", now=later, lease=LEASE, where=ACTIVE)] == ["b"]


async def test_a_released_row_is_taken_at_once_and_rows_not_matching_are_never_claimed(db: Database) -> None:
    ids = await _jobs(db, 2)
    await claim(db, training_jobs, "a", now=NOW, lease=LEASE, where=ACTIVE)
    assert await release(db, training_jobs, "a") == 2
    assert await claim_one(db, training_jobs, ids[0], "b", now=NOW, lease=LEASE, where=ACTIVE)
    assert not await claim_one(db, training_jobs, ids[1], "b", now=NOW, lease=LEASE, where=training_jobs.c.id < 0)
    assert await claim(db, training_jobs, "c", now=NOW, lease=LEASE, where=ACTIVE) != []  # the second, still free


def test_a_restarted_process_on_the_same_host_and_pid_has_a_new_identity() -> None:
    assert process_identity() != process_identity()
    assert len(process_identity()) <= 64  # fits claimed_by
