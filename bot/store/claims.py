"""Claims: which bot process works on a row now (a training job to poll and announce, a training request to settle).

Several processes share one database (shards split across processes, issue 16). Each claims rows with a lease: a row
is claimable when nobody holds it, when this process already does (the claim is renewed), or when its holder's lease
has run out (the holder died, or stopped without releasing). A claim is one UPDATE whose rows are chosen with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two processes claiming at once never wait on each other nor deadlock, and
a row goes to one of them; SQLite, with one writer at a time, runs the same statement without the locking clause.

Leases are compared with each process's wall clock (UTC): the hosts' clocks must agree to well within a lease (NTP).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from bot.store.database import Database


def process_identity() -> str:
    """A name for this process's claims, unique even when a restarted process reuses a host name and pid."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


def _claimable(table: sa.Table, me: str, now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        table.c.claimed_by.is_(None),
        table.c.claimed_by == me,
        table.c.lease_until.is_(None),
        table.c.lease_until < now,
    )


async def claim(
    db: Database,
    table: sa.Table,
    me: str,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    where: sa.ColumnElement[bool],
) -> Sequence[Any]:
    """Claim (or renew) every row matching `where` that nobody else holds; returns the rows now held by `me`."""
    chosen = (
        sa.select(table.c.id)
        .where(where, _claimable(table, me, now))
        .order_by(table.c.id)
        .with_for_update(skip_locked=True)
    )
    async with db.engine.begin() as conn:
        result = await conn.execute(
            sa.update(table)
            .where(table.c.id.in_(chosen.scalar_subquery()))
            .values(claimed_by=me, lease_until=now + lease)
            .returning(*table.c)
        )
        rows = result.all()
    return sorted(rows, key=lambda row: row.id)


async def claim_one(
    db: Database,
    table: sa.Table,
    row_id: int,
    me: str,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    where: sa.ColumnElement[bool],
) -> bool:
    """Compare-and-set: take (or renew) one row's claim if it still matches `where` and nobody else holds it."""
    async with db.engine.begin() as conn:
        result = await conn.execute(
            sa.update(table)
            .where(table.c.id == row_id, where, _claimable(table, me, now))
            .values(claimed_by=me, lease_until=now + lease)
        )
    return result.rowcount == 1


async def release(db: Database, table: sa.Table, me: str) -> int:
    """Give up every claim `me` holds in `table` (a clean stop): another process may take the rows at once."""
    async with db.engine.begin() as conn:
        result = await conn.execute(
            sa.update(table).where(table.c.claimed_by == me).values(claimed_by=None, lease_until=None)
        )
    return result.rowcount
