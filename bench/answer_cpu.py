"""The bot's CPU per answered /ask, on SQLite and on PostgreSQL, beside a minimal streaming bot's for the same answers.

The real bot (bot.app.build) answers `--n` questions, `--concurrency` at a time. It runs in a process of its own, as
`python -m bot` does (bot.launch: on uvloop where it is installed, `--loop asyncio` for asyncio's own; what start-up
made frozen out of the garbage collector's way), and that process's CPU is what is counted: its loop and its threads
(the SQLite file's reader and writer, executors). The loopback fakes run outside it, in this benchmark's own process,
which asks the questions and tells the bot's process over a pipe when the measured questions start and end. Each
measurement is a fresh pair of processes (one bot per process: bots started one after another in one process leave
things behind that slow the next), the baseline's and the bot's taking turns. The baseline, in the same run and the
same way, is a bot with no database: hikari's REST client posts a message and the openai client streams the same
answer into it, edited at the same interval, the last edit with the same buttons. SQL statements are counted with
SQLAlchemy's `before_cursor_execute` event and on the paths that bypass SQLAlchemy (the SQLite file's own reader and
writer, PostgreSQL's asyncpg pool). PostgreSQL is measured when TEST_DATABASE_URL is set (a database of its own is
created on that server, and dropped after). Prints a line per database and, last, one JSON line: {"bench":
"answer_cpu", "cpu_ms_per_answer": …, "baseline_cpu_ms_per_answer": …, "ratio": …, "statements_per_answer": …,
"sqlite": {…}, "postgresql": {…}} (top-level figures: SQLite's)

    export TEST_DATABASE_URL=$(bash .ci/postgres.sh | tail -1)   # optional
    .venv/bin/python bench/answer_cpu.py [--n 100] [--concurrency 8] [--rounds 2] [--loop shipped|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import hikari
import openai
from sqlalchemy import event
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measured import Endpoints, Orders, beside_the_fakes, fresh_loop, process_cpu, tell
from bot.store.database import Database
from tests.fakes.discord import FakeDiscord, final
from tests.fakes.harness import make_config, running_bot
from tests.fakes.openai import FakeOpenAI

ANSWER = (
    "Paris is the capital of France. It lies on the Seine, in the north of the country, and has been the capital "
    "for most of the last thousand years. About two million people live in the city itself and more than twelve "
    "million in its region. Its best-known sights are the Eiffel Tower, the Louvre and Notre-Dame; its university, "
    "the Sorbonne, is one of the oldest in Europe."
)
CHUNK_CHARS = 16
CHUNK_DELAY_S = 0.01
EDIT_INTERVAL_S = 0.1
USERS = 20  # askers take turns, so most questions have earlier turns to remember


@attrs.frozen
class Run:
    cpu_ms: float
    statements: int
    n: int
    loop: str = ""  # the event loop's library (uvloop, asyncio)


def warm_up(concurrency: int) -> int:
    return 3 * concurrency


# In the fakes' process ---------------------------------------------------------------------------------------------


async def ask_all(discord: FakeDiscord, n: int, concurrency: int) -> None:
    """`n` questions to /ask, `concurrency` at a time, each until its last edit."""
    users = [discord.make_user(f"asker{i}") for i in range(USERS)]
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            handle = discord.slash("ask", options={"question": f"Tell me about Paris ({i})"}, user=users[i % USERS])
            await handle.wait(lambda e: e.kind == "edit" and final(e), timeout=120)

    await asyncio.gather(*(one(i) for i in range(n)))


def answers_complete(discord: FakeDiscord) -> int:
    """The baseline's messages that got their last edit (the one with the buttons)."""
    return len([m for m in discord.bot_messages_in(discord.channel_id) if m.custom_ids])


def streams_this_answer(openai_fake: FakeOpenAI) -> None:
    """The fake model streams this benchmark's answer in its chunks."""
    openai_fake.default_reply = ANSWER
    openai_fake.stream_chunk_chars = CHUNK_CHARS
    openai_fake.chunk_delay_s = CHUNK_DELAY_S


async def measure_in_a_process(args: argparse.Namespace, which: str, database_url: str | None = None) -> Run:
    """One measurement: the fakes here, the bot (or the baseline) in a process of its own, told when to count."""
    command = [sys.executable, __file__, "--measure", which, "--n", str(args.n)]
    command += ["--concurrency", str(args.concurrency), "--loop", args.loop]
    command += ["--database-url", database_url] if database_url else []
    async with beside_the_fakes(command, model=streams_this_answer) as (discord, measured):
        if which == "bot":
            await measured.expect("ready")
            await ask_all(discord, warm_up(args.concurrency), args.concurrency)
            await measured.say("start")
            await measured.expect("started")
            await ask_all(discord, args.n, args.concurrency)
            await measured.say("stop")
        run = Run(**json.loads(await measured.last_word()))
        if which == "baseline":
            assert answers_complete(discord) == args.n + warm_up(args.concurrency)
        return run


# In the measured process ------------------------------------------------------------------------------------------


async def bot_here(endpoints: Endpoints, n: int, database_url: str | None) -> Run:
    """The bot, answering what the fakes' process asks; counted from its "start" to its "stop"."""
    orders = await Orders.open()
    discord, openai_fake = endpoints.as_fakes()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(
            discord, openai_fake, Path(tmp), limits={"model_calls": 10**6}, llm={"edit_interval_s": EDIT_INTERVAL_S}
        )
        if database_url is not None:
            config = attrs.evolve(config, secrets=attrs.evolve(config.secrets, database_url=database_url))
        async with running_bot(discord, openai_fake, Path(tmp), config=config) as built:
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            db = built.get(Database)
            engine = db.engine.sync_engine
            tell("ready")  # the fakes' process warms the bot up: connections opened, statements prepared
            await orders.expect("start")
            event.listen(engine, "before_cursor_execute", count)
            # Statements that bypass SQLAlchemy: the SQLite file's own reader and writer, PostgreSQL's asyncpg pool.
            for fast in (db.sqlite_reader, db.sqlite_writer, db.postgresql_pool):
                if fast is not None:
                    counted_paths(fast, count)
            with started_up():
                started = process_cpu()
                tell("started")
                await orders.expect("stop")
                used = process_cpu() - started
            event.remove(engine, "before_cursor_execute", count)
            return Run(used * 1000, statements, n)


async def baseline_here(endpoints: Endpoints, n: int, concurrency: int) -> Run:
    """hikari REST and the openai client, streaming each answer into a message: no gateway, no database."""
    model = make_config(*endpoints.as_fakes(), Path(".")).settings.llm.default_model
    client = openai.AsyncOpenAI(api_key=endpoints.api_key, base_url=endpoints.base_url)
    rest_app = hikari.RESTApp(url=endpoints.rest_url)
    await rest_app.start()
    try:
        async with rest_app.acquire(endpoints.token, hikari.TokenType.BOT) as rest:
            slots = asyncio.Semaphore(concurrency)

            async def answer(i: int) -> None:
                async with slots:
                    stream = await client.chat.completions.create(
                        model=model,
                        messages=[{"role": "user", "content": f"Tell me about Paris ({i})"}],
                        stream=True,
                    )
                    text, message, shown_at = "", None, float("-inf")
                    async for chunk in stream:
                        if chunk.choices and chunk.choices[0].delta.content:
                            text += chunk.choices[0].delta.content
                            if time.monotonic() - shown_at >= EDIT_INTERVAL_S:
                                if message is None:
                                    message = await rest.create_message(endpoints.channel_id, text)
                                else:
                                    await rest.edit_message(endpoints.channel_id, message, text)
                                shown_at = time.monotonic()
                    buttons = rest.build_message_action_row().add_interactive_button(
                        hikari.ButtonStyle.SECONDARY, f"correct:{i}", label="Correct"
                    )
                    await asyncio.sleep(max(0.0, shown_at + EDIT_INTERVAL_S - time.monotonic()))
                    if message is None:
                        await rest.create_message(endpoints.channel_id, text, components=[buttons])
                    else:
                        await rest.edit_message(endpoints.channel_id, message, text, components=[buttons])

            await asyncio.gather(*(answer(i) for i in range(warm_up(concurrency))))
            # Each answer's last edit has been answered by the fake when its call returns: nothing is left in flight.
            with started_up():
                started = process_cpu()
                await asyncio.gather(*(answer(i) for i in range(n)))
                used = process_cpu() - started
            return Run(used * 1000, 0, n)
    finally:
        await rest_app.close()
        await client.close()


def counted_paths(fast: Any, count: Callable[[], None]) -> None:
    """Counts the statements of a fast path that bypasses SQLAlchemy (bot.store.database: fetch, write)."""
    fetch, write = fast.fetch, fast.write

    async def counted_fetch(sql: str, params: Any) -> Any:
        count()
        return await fetch(sql, params)

    async def counted_write(steps: list[tuple[str, Any]]) -> Any:
        for _ in steps:
            count()
        return await write(steps)

    fast.fetch, fast.write = counted_fetch, counted_write


@contextlib.contextmanager
def started_up() -> Iterator[None]:
    """As `python -m bot` runs once started (bot.launch): what start-up made is frozen out of the garbage collector's
    way, from a collected heap, for the bot and the baseline alike; thawed after."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def measure_here(args: argparse.Namespace) -> None:
    """This process is the measured one: the bot or the baseline, the fakes in the process that started it."""
    logging.basicConfig(level=logging.ERROR)
    endpoints = Endpoints.parse(args.endpoints)
    loop = fresh_loop(fast=args.loop == "shipped")
    try:
        if args.measure == "baseline":
            run = loop.run_until_complete(baseline_here(endpoints, args.n, args.concurrency))
        else:
            run = loop.run_until_complete(bot_here(endpoints, args.n, args.database_url))
    finally:
        loop.close()
    tell(json.dumps(attrs.asdict(attrs.evolve(run, loop=type(loop).__module__.split(".")[0]))))


# The whole run ----------------------------------------------------------------------------------------------------


async def own_database(url: str, name: str, *, drop: bool = False) -> str:
    import asyncpg

    given = make_url(url)
    conn = await asyncpg.connect(
        host=given.host, port=given.port, user=given.username, password=given.password, database=given.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return given.set(database=name).render_as_string(hide_password=False)


def summary(bot: list[Run], baseline: list[Run]) -> dict[str, Any]:
    """Per answer, over all rounds; the lowest round's figure too (the least disturbed by other work)."""
    per = [r.cpu_ms / r.n for r in bot]
    base = [r.cpu_ms / r.n for r in baseline]
    cpu_ms, base_ms = sum(per) / len(per), sum(base) / len(base)
    return {
        "cpu_ms_per_answer": round(cpu_ms, 2),
        "baseline_cpu_ms_per_answer": round(base_ms, 2),
        "ratio": round(cpu_ms / base_ms, 3),
        "statements_per_answer": round(sum(r.statements for r in bot) / sum(r.n for r in bot), 2),
        "min_cpu_ms_per_answer": round(min(per), 2),
        "min_baseline_cpu_ms_per_answer": round(min(base), 2),
        "loop": bot[0].loop,
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The baseline's measurements and the bot's interleaved, so both see the same machine."""
    server = os.environ.get("TEST_DATABASE_URL")
    databases = ["sqlite", "postgresql"] if server else ["sqlite"]
    results: dict[str, Any] = {}
    for database in databases:
        bot: list[Run] = []
        baseline: list[Run] = []
        for _ in range(args.rounds):
            baseline.append(await measure_in_a_process(args, "baseline"))
            if database == "sqlite":
                bot.append(await measure_in_a_process(args, "bot"))
                continue
            assert server is not None
            name = f"answer_cpu_{os.getpid()}"
            url = await own_database(server, name)
            try:
                bot.append(await measure_in_a_process(args, "bot", url))
            finally:
                await own_database(server, name, drop=True)
        results[database] = summary(bot, baseline)
        r = results[database]
        print(
            f"{database:<10}: {r['cpu_ms_per_answer']:.2f} ms CPU per answer (lowest round "
            f"{r['min_cpu_ms_per_answer']:.2f}), {r['statements_per_answer']:.2f} statements | minimal streaming "
            f"bot {r['baseline_cpu_ms_per_answer']:.2f} ms | ratio {r['ratio']:.3f}",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--loop",
        choices=("shipped", "asyncio"),
        default="shipped",
        help="shipped: uvloop where installed, as `python -m bot`",
    )
    parser.add_argument("--measure", choices=("bot", "baseline"), help=argparse.SUPPRESS)  # this process is measured
    parser.add_argument("--endpoints", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure_here(args)
        return
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(measure(args))
    top = {k: v for k, v in results["sqlite"].items() if not k.startswith("min_")}
    print(json.dumps({"bench": "answer_cpu", **top, **results, "n": args.n, "concurrency": args.concurrency}))


if __name__ == "__main__":
    main()
