"""Model usage in the database: one row per call, running totals per server month, server day and member day, each
server's budget, and the budget notices already sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.database import Database
from bot.store.records import utcnow
from bot.store.schema import model_usage, usage_budgets, usage_counters, usage_notices

WHOLE_SERVER = 0  # the user_id of a server's own counters


def month_key(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m")


def day_key(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d")


@attrs.frozen
class UsageRow:
    guild_id: int | None
    user_id: int | None
    model: str
    purpose: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float | None
    created_at: dt.datetime

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class StoredBudget:
    """A server's own budget (None: the configured default applies; 0: no limit)."""

    monthly_tokens: int | None = None
    monthly_usd: float | None = None
    member_daily_tokens: int | None = None
    notice_channel_id: int | None = None


@attrs.frozen
class Spent:
    """What the budget check reads: the server's budget row and its month's and the member's day's totals."""

    budget: StoredBudget
    server_tokens: int
    server_usd: float
    member_tokens: int


@attrs.frozen
class UsageTotal:
    model: str
    purpose: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float  # of the calls with a price
    unpriced_calls: int  # calls whose model has no configured price


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


_SPENT_COLUMNS = (
    "monthly_tokens",
    "monthly_usd",
    "member_daily_tokens",
    "notice_channel_id",
    "server_tokens",
    "server_usd",
    "member_tokens",
)
_BUDGET = "(SELECT {} FROM usage_budgets WHERE guild_id = :g) AS {}"
_COUNTER = "(SELECT {} FROM usage_counters WHERE guild_key = :g AND user_id = :{} AND period = :{}) AS {}"
# The budget check before each answer: the server's budget, its month's totals and the member's day's, in one read.
_SPENT = "SELECT " + ", ".join(
    [
        *(_BUDGET.format(c, c) for c in _SPENT_COLUMNS[:4]),
        _COUNTER.format("tokens", "server", "month", "server_tokens"),
        _COUNTER.format("cost_usd", "server", "month", "server_usd"),
        _COUNTER.format("tokens", "u", "day", "member_tokens"),
    ]
)


# The statements of every answer's recording, built once (the bot's hot path).
_INSERT_USAGE = sa.insert(model_usage)
_COUNTERS: dict[tuple[int, bool], sa.TextClause] = {}
_CALL_COLUMNS = [c.name for c in model_usage.c if c.name != "id"]


def _add_to_counters(rows: int, *, with_the_call: bool = False) -> sa.TextClause:
    """One upsert adding a call to `rows` counters (parameters g, t, c, and w0/p0 … per counter: who and period),
    returning each counter's totals after it and, beside each, the server's budget (NULLs when it set none). Plain
    SQL, the same on both databases: SQLAlchemy does not cache a compiled multi-row INSERT, and this one runs after
    every answer. `with_the_call` (PostgreSQL, whose statements may insert in a WITH): the call itself is stored by
    the same statement (parameters: model_usage's columns), one round trip where BEGIN, two statements and COMMIT
    were four."""
    statement = _COUNTERS.get((rows, with_the_call))
    if statement is None:
        values = ", ".join(f"(:g, :w{i}, :p{i}, :t, :c)" for i in range(rows))
        budget = ", ".join(_BUDGET.format(c, c) for c in _SPENT_COLUMNS[:4])
        call = (
            f"WITH the_call AS (INSERT INTO model_usage ({', '.join(_CALL_COLUMNS)}) "
            f"VALUES ({', '.join(':' + c for c in _CALL_COLUMNS)})) "
            if with_the_call
            else ""
        )
        statement = _COUNTERS[(rows, with_the_call)] = sa.text(
            f"{call}INSERT INTO usage_counters (guild_key, user_id, period, tokens, cost_usd) VALUES {values} "
            "ON CONFLICT (guild_key, user_id, period) DO UPDATE SET tokens = usage_counters.tokens + excluded.tokens, "
            "cost_usd = usage_counters.cost_usd + excluded.cost_usd "
            f"RETURNING user_id, period, tokens, cost_usd, {budget}"
        ).bindparams(
            *(sa.bindparam(name, type_=sa.BigInteger) for name in ("g", "t", *(f"w{i}" for i in range(rows)))),
            sa.bindparam("c", type_=sa.Float),
            *(sa.bindparam(c, type_=model_usage.c[c].type) for c in _CALL_COLUMNS if with_the_call),
        )
    return statement


class UsageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, row: UsageRow) -> Spent:
        """Store one call and add it to its counters, in one transaction of two statements (the call; its counters in
        one upsert, which reads the server's budget too; on PostgreSQL, one statement of both): the server's budget
        and month totals after it (`member_tokens`: the caller's day total, 0 without a user), for the budget
        notices."""
        guild_key = row.guild_id or 0
        month, day = month_key(row.created_at), day_key(row.created_at)
        cost = row.cost_usd or 0.0
        keys = [(WHOLE_SERVER, month), (WHOLE_SERVER, day)]
        if row.user_id is not None:
            keys.append((row.user_id, day))
        params: dict[str, Any] = {"g": guild_key, "t": row.tokens, "c": cost}
        for i, (who, period) in enumerate(keys):
            params |= {f"w{i}": who, f"p{i}": period}
        call = attrs.asdict(row)
        if self._db.engine.dialect.name == "postgresql":
            (rows,) = await self._db.write((_add_to_counters(len(keys), with_the_call=True), params | call))
        else:
            _, rows = await self._db.write((_INSERT_USAGE, call), (_add_to_counters(len(keys)), params))
        totals = {(r["user_id"], r["period"]): (int(r["tokens"]), float(r["cost_usd"])) for r in rows}
        budget = [rows[0][column] for column in _SPENT_COLUMNS[:4]]  # the server's budget, beside each counter
        server_tokens, server_usd = totals[(WHOLE_SERVER, month)]
        member_tokens = totals[(row.user_id, day)][0] if row.user_id is not None else 0
        stored = StoredBudget(*budget)
        return Spent(stored, server_tokens, server_usd, member_tokens)

    async def spent(self, guild_id: int | None, user_id: int, at: dt.datetime) -> Spent:
        """The server's budget and totals, in one statement (the check before each answer costs one round trip)."""
        guild_key = guild_id or 0
        params = {"g": guild_key, "server": WHOLE_SERVER, "u": user_id, "month": month_key(at), "day": day_key(at)}
        (found,) = await self._db.fetch(_SPENT, params)
        row = [found[k] for k in _SPENT_COLUMNS]
        return Spent(
            StoredBudget(
                None if row[0] is None else int(row[0]),
                None if row[1] is None else float(row[1]),
                None if row[2] is None else int(row[2]),
                None if row[3] is None else int(row[3]),
            ),
            int(row[4] or 0),
            float(row[5] or 0.0),
            int(row[6] or 0),
        )

    async def budget(self, guild_id: int) -> StoredBudget:
        async with self._db.reading() as conn:
            row = (await conn.execute(sa.select(usage_budgets).where(usage_budgets.c.guild_id == guild_id))).first()
        if row is None:
            return StoredBudget()
        return StoredBudget(row.monthly_tokens, row.monthly_usd, row.member_daily_tokens, row.notice_channel_id)

    async def set_budget(self, guild_id: int, budget: StoredBudget, by_user: int) -> None:
        values = attrs.asdict(budget) | {"updated_by": by_user, "updated_at": utcnow()}
        async with self._db.engine.begin() as conn:
            insert = _insert(conn)(usage_budgets).values(guild_id=guild_id, **values)
            await conn.execute(insert.on_conflict_do_update(index_elements=[usage_budgets.c.guild_id], set_=values))

    async def claim_notice(self, guild_id: int, period: str, level: int) -> bool:
        """True for the one caller (of any process) that is first to send this notice."""
        async with self._db.engine.begin() as conn:
            insert = _insert(conn)(usage_notices).values(
                guild_id=guild_id, period=period, level=level, created_at=utcnow()
            )
            result = await conn.execute(insert.on_conflict_do_nothing().returning(usage_notices.c.level))
            return result.first() is not None

    async def totals(self, guild_id: int | None, since: dt.datetime, user_id: int | None = None) -> list[UsageTotal]:
        """Calls and tokens since `since` by model and purpose: a server's (or a DM user's, guild None), or one
        member's there."""
        t = model_usage.c
        where = [t.guild_id.is_(None) if guild_id is None else t.guild_id == guild_id, t.created_at >= since]
        if user_id is not None:
            where.append(t.user_id == user_id)
        statement = (
            sa.select(
                t.model,
                t.purpose,
                sa.func.count(),
                sa.func.sum(t.prompt_tokens),
                sa.func.sum(t.completion_tokens),
                sa.func.sum(t.cached_tokens),
                sa.func.coalesce(sa.func.sum(t.cost_usd), 0.0),
                sa.func.sum(sa.case((t.cost_usd.is_(None), 1), else_=0)),
            )
            .where(*where)
            .group_by(t.model, t.purpose)
            .order_by(t.model, t.purpose)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            UsageTotal(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4] or 0), int(r[5] or 0), float(r[6]), int(r[7]))
            for r in rows
        ]

    async def daily_tokens(self, guild_id: int | None, days: list[str], user_id: int | None = None) -> list[int]:
        """Tokens of each day in `days` ("2026-12-06"): the server's, or one member's there."""
        c = usage_counters.c
        async with self._db.reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(c.period, c.tokens).where(
                        c.guild_key == (guild_id or 0),
                        c.user_id == (WHOLE_SERVER if user_id is None else user_id),
                        c.period.in_(days),
                    )
                )
            ).all()
        by_day = {r[0]: int(r[1]) for r in rows}
        return [by_day.get(day, 0) for day in days]
