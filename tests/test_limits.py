"""Per-user rate limits: in memory for one process; in the database, shared by every process using it, on PostgreSQL
(the database limiter is tested on SQLite too, where it keeps the same rules).

Two Database objects on one database stand for two bot processes (each its own connection pool)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot.errors import RateLimited
from bot.limits import DatabaseRateLimiter, Limiter, RateLimiter, for_database
from bot.store.database import Database
from bot.store.schema import rate_limits
from tests.store.conftest import BACKENDS, open_database


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0  # wall-clock seconds, as the database limiter reads them

    def __call__(self) -> float:
        return self.now


Make = Callable[[int, float, Clock], Limiter]


@pytest.fixture(params=["memory", *(f"database-{b}" for b in BACKENDS)])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Make]:
    """Makes limiters kept in memory, or in a database: both keep the same rules."""
    if request.param == "memory":
        yield lambda calls, window, clock: RateLimiter(calls, window, clock=clock)
        return
    database = await open_database(request.param.removeprefix("database-"), tmp_path)
    yield lambda calls, window, clock: DatabaseRateLimiter(database, calls, window, clock=clock)
    await database.close()


@pytest.fixture(params=BACKENDS)
async def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    first = await open_database(request.param, tmp_path)
    second = Database(first.url)
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def test_user_over_the_limit_is_told_when_to_retry_and_others_are_unaffected(make: Make) -> None:
    clock = Clock()
    limiter = make(2, 60, clock)
    await limiter.take(1)
    await limiter.take(1)
    with pytest.raises(RateLimited) as info:
        await limiter.take(1)
    assert "60 s" in info.value.message
    await limiter.take(2)  # another user
    clock.now += 30
    with pytest.raises(RateLimited) as info:
        await limiter.take(1)
    assert "30 s" in info.value.message
    clock.now += 31  # the window has moved past both calls
    await limiter.take(1)
    await limiter.take(1)
    with pytest.raises(RateLimited):
        await limiter.take(1)


async def test_a_call_given_back_does_not_count_against_the_user(make: Make) -> None:
    clock = Clock()
    limiter = make(2, 60, clock)
    await limiter.take(1)
    clock.now += 1
    await limiter.take(1)
    await limiter.give_back(1)  # the second call was abandoned unused
    await limiter.take(1)
    with pytest.raises(RateLimited):
        await limiter.take(1)
    await limiter.give_back(2)  # nothing taken: nothing to give back, and no credit gained
    await limiter.take(2)
    await limiter.take(2)
    with pytest.raises(RateLimited):
        await limiter.take(2)


async def test_two_processes_share_each_user_s_limit(two_processes: tuple[Database, Database]) -> None:
    clock = Clock()
    a, b = (DatabaseRateLimiter(db, 3, 60, clock=clock) for db in two_processes)
    await a.take(1)
    await b.take(1)
    await a.take(1)
    for limiter in (a, b):  # three calls in all: neither process allows a fourth
        with pytest.raises(RateLimited):
            await limiter.take(1)
    await b.take(2)  # another user has calls of their own
    await b.give_back(1)  # a call taken by A, given back by B (any process may drop an early voice answer)
    await a.take(1)
    with pytest.raises(RateLimited):
        await b.take(1)
    clock.now += 60
    await b.take(1)  # the window moved on for both processes


async def test_two_processes_taking_at_once_allow_exactly_the_limit(two_processes: tuple[Database, Database]) -> None:
    a, b = (DatabaseRateLimiter(db, 5, 60, clock=Clock()) for db in two_processes)
    results = await asyncio.gather(*(limiter.take(7) for _ in range(8) for limiter in (a, b)), return_exceptions=True)
    assert sum(r is None for r in results) == 5
    refusals = [r for r in results if r is not None]
    assert all(isinstance(r, RateLimited) for r in refusals)
    assert {r.retry_after for r in refusals if isinstance(r, RateLimited)} == {60}  # all five calls were made now


async def test_users_whose_calls_left_the_window_are_forgotten(two_processes: tuple[Database, Database]) -> None:
    db, _ = two_processes
    clock = Clock()
    limiter = DatabaseRateLimiter(db, 2, 60, clock=clock)
    for user in (1, 2, 3):
        await limiter.take(user)
    clock.now += 61
    await limiter.take(4)  # the first take in a new window prunes the old rows
    async with db.engine.connect() as conn:
        users = (await conn.execute(sa.select(rate_limits.c.user_id))).scalars().all()
    assert users == [4]
    await limiter.take(1)  # a forgotten user starts afresh
    await limiter.take(1)
    with pytest.raises(RateLimited):
        await limiter.take(1)


async def test_two_processes_pruning_while_taking_for_users_being_pruned_all_get_their_answer(
    two_processes: tuple[Database, Database],
) -> None:
    clock = Clock()
    users = range(1, 11)
    first = DatabaseRateLimiter(two_processes[0], 2, 60, clock=clock)
    for user in users:
        await first.take(user)
    clock.now += 61  # every row has expired: each process's next take prunes the others' rows while taking its own
    a, b = (DatabaseRateLimiter(db, 2, 60, clock=clock) for db in two_processes)
    takes = [(a, 1), (b, 2), *((limiter, user) for user in users for limiter in (a, b))]  # 3 takes for users 1, 2
    results = await asyncio.gather(*(limiter.take(user) for limiter, user in takes), return_exceptions=True)
    refused = sorted(user for (_, user), result in zip(takes, results, strict=True) if result is not None)
    assert refused == [1, 2] and all(isinstance(r, RateLimited) for r in results if r is not None)
    async with two_processes[0].engine.connect() as conn:
        rows = (await conn.execute(sa.select(rate_limits.c.user_id, rate_limits.c.hits))).all()
    assert sorted((user, len(hits)) for user, hits in rows) == [(user, 2) for user in users]


async def test_the_limit_is_kept_in_the_database_only_on_postgresql(tmp_path: Path) -> None:
    sqlite_limiter = for_database(Database(f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"), 6, 60)
    postgres_limiter = for_database(Database("postgresql+asyncpg://bot@db.invalid/bot"), 6, 60)
    assert isinstance(sqlite_limiter, RateLimiter) and isinstance(postgres_limiter, DatabaseRateLimiter)


class Wire:
    """A TCP link between a bot process and PostgreSQL that counts the round trips over it: the server ends its answer
    to each request (a statement, BEGIN, COMMIT, a prepare) with one ReadyForQuery message."""

    def __init__(self, url: str) -> None:
        self._target = make_url(url)
        self._server: asyncio.Server | None = None
        self._links: dict[asyncio.Task[Any], tuple[asyncio.StreamWriter, ...]] = {}
        self.url = ""
        self.round_trips = 0

    async def __aenter__(self) -> Wire:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = self._target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writers in self._links.values():  # the bot process has closed its connections (unless a test failed)
            for writer in writers:
                writer.transport.abort()
        await asyncio.gather(*self._links)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._target.host, self._target.port)
        task = asyncio.current_task()
        assert task is not None
        self._links[task] = (writer, up_writer)

        answers = _Answers()  # this connection's

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if count:
                        self.round_trips += answers.ready_for_query(data)
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, count=False), pipe(up_reader, writer, count=True))


class _Answers:
    """One connection's messages from the server, framed: a type byte, then the length."""

    def __init__(self) -> None:
        self._pending = b""  # not yet counted: the start of a message
        self._framed = False

    def ready_for_query(self, data: bytes) -> int:
        """How many ReadyForQuery messages (type Z) end in `data`."""
        self._pending += data
        found = 0
        while True:
            if not self._framed and self._pending[:1] == b"N":  # "no SSL here", before the first message
                self._pending = self._pending[1:]
                continue
            if len(self._pending) < 5 or len(self._pending) < 1 + int.from_bytes(self._pending[1:5], "big"):
                return found
            self._framed = True
            found += self._pending[:1] == b"Z"
            self._pending = self._pending[1 + int.from_bytes(self._pending[1:5], "big") :]


async def round_trips(wire: Wire, take: Awaitable[None]) -> tuple[str, int]:
    """Whether the call was admitted or refused, and the round trips it took."""
    before = wire.round_trips
    try:
        await take
    except RateLimited:
        return "refused", wire.round_trips - before
    return "admitted", wire.round_trips - before


POSTGRES = ["postgresql"] if os.environ.get("TEST_DATABASE_URL") else []


@contextlib.asynccontextmanager
async def over_a_counted_wire(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Wire, Database]]:
    """A fresh schema on the test server, and a bot process's database opened through a Wire that counts the round
    trips."""
    fresh = await open_database(backend, tmp_path)
    await fresh.close()
    async with Wire(os.environ["TEST_DATABASE_URL"]) as wire:
        db = Database(wire.url)
        await db.open()
        try:
            yield wire, db
        finally:
            await db.close()


@pytest.mark.parametrize("backend", POSTGRES)
async def test_on_postgresql_a_take_is_one_round_trip(backend: str, tmp_path: Path) -> None:
    """The acknowledgement of a question waits for the decision: one round trip, admitted or refused, pruning or not."""
    async with over_a_counted_wire(backend, tmp_path) as (wire, db):
        clock = Clock()
        limiter = DatabaseRateLimiter(db, 2, 60, clock=clock)
        await limiter.take(1)  # each of the statement's two forms (pruning or not) is prepared once per connection
        await limiter.take(1)
        with pytest.raises(RateLimited):
            await limiter.take(1)
        trips = [await round_trips(wire, limiter.take(2)), await round_trips(wire, limiter.take(1))]
        clock.now += 60  # the calls left the window: this take also deletes user 2's row
        trips.append(await round_trips(wire, limiter.take(1)))
        assert trips == [("admitted", 1), ("refused", 1), ("admitted", 1)]
        async with db.engine.connect() as conn:
            rows = (await conn.execute(sa.select(rate_limits.c.user_id, rate_limits.c.hits))).all()
        assert sorted((user, len(hits)) for user, hits in rows) == [(1, 1)]  # user 2's row was pruned


@pytest.mark.parametrize("backend", POSTGRES)
async def test_pruning_never_waits_for_a_row_another_process_is_taking_for(backend: str, tmp_path: Path) -> None:
    db = await open_database(backend, tmp_path)
    try:
        clock = Clock()
        await DatabaseRateLimiter(db, 2, 60, clock=clock).take(2)
        clock.now += 61
        limiter = DatabaseRateLimiter(db, 2, 60, clock=clock)  # its first take prunes
        async with db.engine.begin() as other:  # another process, in the middle of a take for user 2
            await other.execute(sa.select(rate_limits).where(rate_limits.c.user_id == 2).with_for_update())
            async with asyncio.timeout(5):  # a take that waited for the other process would hang here
                await limiter.take(1)
        async with db.engine.connect() as conn:
            users = (await conn.execute(sa.select(rate_limits.c.user_id).order_by(rate_limits.c.user_id))).scalars()
            assert users.all() == [1, 2]  # user 2's row is left for a later prune
    finally:
        await db.close()
