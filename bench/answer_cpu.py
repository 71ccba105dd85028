"""The bot's CPU per answered /ask, on SQLite and on PostgreSQL, beside a minimal streaming bot's for the same answers.

The real bot (bot.app.build) answers `--n` questions, `--concurrency` at a time, from the loopback fakes; the fakes
run on their own event loop in another thread, and their thread's CPU is taken out of the process's, so what is
counted is the bot's (its loop and its threads: the SQLite file's reader and writer, executors). Each measurement
runs in a process of its own, as a bot does (one bot per process: bots started one after another in one process
leave things behind that slow the next), the baseline's and the bot's taking turns. The baseline, in the same run
and the same way, is a bot with no database: hikari's REST client posts a message and the openai client streams the
same answer into it, edited at the same interval, the last edit with the same buttons. Both run as `python -m bot`
does (bot.launch): on uvloop where it is installed (`--loop asyncio`: on asyncio's own), with what start-up made
frozen out of the garbage collector's way. SQL statements are counted with SQLAlchemy's `before_cursor_execute`
event and on the paths that bypass SQLAlchemy (the SQLite file's own reader and writer, PostgreSQL's asyncpg pool).
PostgreSQL is measured when TEST_DATABASE_URL is set (a database of its own is created on that server, and dropped
after). Prints a line per database and, last, one JSON line: {"bench": "answer_cpu", "cpu_ms_per_answer": …,
"baseline_cpu_ms_per_answer": …, "ratio": …, "statements_per_answer": …, "sqlite": {…}, "postgresql": {…}} (top-level
figures: SQLite's)

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
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import hikari
import openai
from sqlalchemy import event
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ack_latency import FakeLoop
from bench.ack_latency import with_fakes as fakes_of_ack_latency
from bot.store.database import Database
from tests.fakes.discord import FakeDiscord
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


class BotCpu:
    """CPU of this process, less the fakes' thread: what the bot under test used."""

    def __init__(self, fakes_thread: threading.Thread) -> None:
        assert fakes_thread.ident is not None
        self._fakes = time.pthread_getcpuclockid(fakes_thread.ident)

    def now(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime - time.clock_gettime(self._fakes)


@attrs.frozen
class Run:
    cpu_ms: float
    statements: int
    n: int
    loop: str = ""  # the event loop's library (uvloop, asyncio)


def warm_up(concurrency: int) -> int:
    return 3 * concurrency


async def ask_all(discord: FakeDiscord, n: int, concurrency: int) -> None:
    """On the fakes' loop: `n` questions to /ask, `concurrency` at a time, each until its last edit."""
    users = [discord.make_user(f"asker{i}") for i in range(USERS)]
    slots = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with slots:
            handle = discord.slash("ask", options={"question": f"Tell me about Paris ({i})"}, user=users[i % USERS])
            await handle.wait(lambda e: e.kind == "edit" and "correct:" in str(e.json.get("components")), timeout=120)

    await asyncio.gather(*(one(i) for i in range(n)))


async def post_all(discord: FakeDiscord, openai_fake: FakeOpenAI, n: int) -> None:
    """On the fakes' loop: wait until the baseline's `n` answers are complete."""
    await discord.wait_for(
        lambda: len([m for m in discord.bot_messages_in(discord.channel_id) if m.custom_ids]) >= n, timeout=120
    )


async def measure_bot(fakes: FakeLoop, cpu: BotCpu, n: int, concurrency: int, database_url: str | None) -> Run:
    async def body(discord: FakeDiscord, openai_fake: FakeOpenAI) -> Run:
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

                engine = built.get(Database).engine.sync_engine
                # Warm up: imports, caches, and as many connections as questions at once, each with its statements
                # prepared, as in a bot that has been answering for a while.
                await fakes.run(ask_all(discord, warm_up(concurrency), concurrency))
                event.listen(engine, "before_cursor_execute", count)
                # Statements that bypass SQLAlchemy: the SQLite file's own reader and writer, PostgreSQL's asyncpg pool.
                db = built.get(Database)
                for fast in (db.sqlite_reader, db.sqlite_writer, db.postgresql_pool):
                    if fast is not None:
                        counted_paths(fast, count)
                with started_up():
                    started = cpu.now()
                    await fakes.run(ask_all(discord, n, concurrency))
                    used = cpu.now() - started
                event.remove(engine, "before_cursor_execute", count)
                return Run(used * 1000, statements, n)

    return await with_fakes(fakes, body)


async def measure_baseline(fakes: FakeLoop, cpu: BotCpu, n: int, concurrency: int) -> Run:
    """hikari REST and the openai client, streaming each answer into a message: no gateway, no database."""

    async def body(discord: FakeDiscord, openai_fake: FakeOpenAI) -> Run:
        model = make_config(discord, openai_fake, Path(".")).settings.llm.default_model
        client = openai.AsyncOpenAI(api_key=openai_fake.api_key, base_url=openai_fake.base_url)
        rest_app = hikari.RESTApp(url=discord.rest_url)
        await rest_app.start()
        try:
            async with rest_app.acquire(discord.token, hikari.TokenType.BOT) as rest:
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
                                        message = await rest.create_message(discord.channel_id, text)
                                    else:
                                        await rest.edit_message(discord.channel_id, message, text)
                                    shown_at = time.monotonic()
                        buttons = rest.build_message_action_row().add_interactive_button(
                            hikari.ButtonStyle.SECONDARY, f"correct:{i}", label="Correct"
                        )
                        await asyncio.sleep(max(0.0, shown_at + EDIT_INTERVAL_S - time.monotonic()))
                        if message is None:
                            await rest.create_message(discord.channel_id, text, components=[buttons])
                        else:
                            await rest.edit_message(discord.channel_id, message, text, components=[buttons])

                await asyncio.gather(*(answer(i) for i in range(warm_up(concurrency))))
                await fakes.run(post_all(discord, openai_fake, warm_up(concurrency)))
                with started_up():
                    started = cpu.now()
                    await asyncio.gather(*(answer(i) for i in range(n)))
                    await fakes.run(post_all(discord, openai_fake, n + warm_up(concurrency)))
                    used = cpu.now() - started
                return Run(used * 1000, 0, n)
        finally:
            await rest_app.close()
            await client.close()

    return await with_fakes(fakes, body)


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
    way. From a collected heap, the same for the bot and the baseline (the runs share the process); thawed after."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def with_fakes(fakes: FakeLoop, body: Callable[[FakeDiscord, FakeOpenAI], Awaitable[Run]]) -> Run:
    """ack_latency's fakes, the model streaming this benchmark's answer in its chunks."""

    async def streaming(discord: FakeDiscord, openai_fake: FakeOpenAI) -> Run:
        openai_fake.default_reply = ANSWER
        openai_fake.stream_chunk_chars = CHUNK_CHARS
        openai_fake.chunk_delay_s = CHUNK_DELAY_S
        return await body(discord, openai_fake)

    return await fakes_of_ack_latency(fakes, streaming)


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


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Each measurement in a process of its own (as the bot runs: one per process), the baseline's and the bot's
    interleaved so both see the same machine."""
    server = os.environ.get("TEST_DATABASE_URL")
    databases = ["sqlite", "postgresql"] if server else ["sqlite"]
    results: dict[str, Any] = {}
    for database in databases:
        bot: list[Run] = []
        baseline: list[Run] = []
        for _ in range(args.rounds):
            baseline.append(measure_in_a_process(args, "baseline"))
            if database == "sqlite":
                bot.append(measure_in_a_process(args, "bot"))
                continue
            assert server is not None
            name = f"answer_cpu_{os.getpid()}"
            url = asyncio.run(own_database(server, name))
            try:
                bot.append(measure_in_a_process(args, "bot", url))
            finally:
                asyncio.run(own_database(server, name, drop=True))
        results[database] = summary(bot, baseline)
        r = results[database]
        print(
            f"{database:<10}: {r['cpu_ms_per_answer']:.2f} ms CPU per answer (lowest round "
            f"{r['min_cpu_ms_per_answer']:.2f}), {r['statements_per_answer']:.2f} statements | minimal streaming "
            f"bot {r['baseline_cpu_ms_per_answer']:.2f} ms | ratio {r['ratio']:.3f}",
            flush=True,
        )
    return results


def measure_in_a_process(args: argparse.Namespace, which: str, database_url: str | None = None) -> Run:
    command = [sys.executable, __file__, "--measure", which, "--n", str(args.n), "--concurrency", str(args.concurrency)]
    command += ["--loop", args.loop] + (["--database-url", database_url] if database_url else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return Run(**json.loads(done.stdout.strip().splitlines()[-1]))


async def measure_here(which: str, n: int, concurrency: int, database_url: str | None) -> Run:
    logging.basicConfig(level=logging.ERROR)
    fakes = FakeLoop()
    cpu = BotCpu(fakes._thread)  # pyright: ignore[reportPrivateUsage]
    try:
        if which == "baseline":
            return await measure_baseline(fakes, cpu, n, concurrency)
        return await measure_bot(fakes, cpu, n, concurrency, database_url)
    finally:
        fakes.stop()


def on_the_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "shipped":
        from bot.launch import use_fast_event_loop

        use_fast_event_loop()
    else:
        asyncio.set_event_loop(asyncio.new_event_loop())
    return asyncio.get_event_loop()


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
    parser.add_argument("--measure", choices=("bot", "baseline"), help=argparse.SUPPRESS)  # one measurement, here
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        loop = on_the_loop(args.loop)
        try:
            run = loop.run_until_complete(measure_here(args.measure, args.n, args.concurrency, args.database_url))
        finally:
            loop.close()
        print(json.dumps(attrs.asdict(attrs.evolve(run, loop=type(loop).__module__.split(".")[0]))))
        return
    results = measure(args)
    top = {k: v for k, v in results["sqlite"].items() if not k.startswith("min_")}
    print(json.dumps({"bench": "answer_cpu", **top, **results, "n": args.n, "concurrency": args.concurrency}))


if __name__ == "__main__":
    main()
