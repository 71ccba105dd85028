"""Does splitting shards over processes pay: 400 concurrent /ask over the guilds of two shards, answered by one process
holding both shards vs two processes holding one each, in the same run.

The bots are real `bot.app.build` bots in separate OS processes (this script started with --serve), on uvloop as
`python -m bot` runs; the loopback fakes (Discord with two shards, OpenAI) run in this process. Both setups share one
PostgreSQL server (a database of the bench's own, made afresh for each setup) and are configured alike: two shards,
Discord's max_concurrency 1 (so the processes take turns to IDENTIFY), the per-user rate limit lifted, and the same
number of answers in flight in all: [llm] max_concurrent_answers is per process (16 by default), so the one process
gets 32 and each of the two 16 (otherwise a second process would win merely by doubling that cap), and streamed edits
0.05 s apart instead of 1 s (an answer holds its place until its last edit: with 1 s, 400 answers through 32 places
take 12.5 s whatever the cores do). Each process has its own database connection pool, as in production. Half the
questions go to a guild on shard 0, half to one on shard 1, each from its own user.

Latency is measured at the fake: from INTERACTION_CREATE leaving its socket to the first edit that carries the answer
(also shown: to the acknowledgement, and to the final edit with the Correct button). Prints a line per setup, then:
{"bench": "shards", "one_process_p99_ms": …, "two_processes_p99_ms": …, "ratio": …}   (ratio = two / one)

    .venv/bin/python bench/shards.py [--n 400] [--rounds 1] [--database-url postgresql+asyncpg://...]

PostgreSQL is required (two processes share it): --database-url, or TEST_DATABASE_URL / DATABASE_URL
(`export TEST_DATABASE_URL=$(bash .ci/postgres.sh)` starts one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ack_latency import percentile
from bench.measured import fresh_loop
from bot.config import Config, Secrets, Settings
from tests.fakes.discord import Event, FakeDiscord, InteractionHandle, final
from tests.fakes.openai import FakeOpenAI

SHARD_COUNT = 2
ANSWER_SLOTS = 32  # answers in flight across all processes (twice the per-process default)
# An answer keeps its place until its last edit, throttled to one per [llm] edit_interval_s (1 s by default): 400
# answers through 32 places would then take 12.5 s whatever the cores do. A short interval leaves the CPU to decide.
EDIT_INTERVAL_S = 0.05
BENCH_DATABASE_SUFFIX = "_bench_shards"


# ----- a bot process ------------------------------------------------------------------------------------------------


def bot_config(args: argparse.Namespace, data_dir: Path) -> Config:
    settings = Settings()
    changes: dict[str, dict[str, Any]] = {
        "discord": {
            "command_guilds": [int(g) for g in args.guilds.split(",")],
            "shard_count": SHARD_COUNT,
            "shard_ids": [int(i) for i in args.shard_ids.split(",")],
        },
        "limits": {"model_calls": 10**6},
        "llm": {"max_concurrent_answers": int(args.answer_slots), "edit_interval_s": EDIT_INTERVAL_S},
        "training": {"work_dir": str(data_dir / "training")},
        "health": {"port": 0},  # any free port: several bot processes on this machine
    }
    settings = attrs.evolve(
        settings, **{name: attrs.evolve(getattr(settings, name), **fields) for name, fields in changes.items()}
    )
    secrets = Secrets(
        discord_token=args.token,
        openai_api_key=args.openai_key,
        openai_base_url=args.openai_url,
        database_url=args.database_url,
    )
    return Config(settings=settings, secrets=secrets)


async def serve(args: argparse.Namespace) -> None:
    """Run one bot process until stdin closes; says "ready" on stdout once it answers."""
    from bot.app import build

    with tempfile.TemporaryDirectory() as tmp:
        built = build(bot_config(args, Path(tmp)), rest_url=args.rest_url)
        discord = built.get(Settings).discord
        await built.bot.start(check_for_updates=False, shard_ids=discord.shard_ids, shard_count=discord.shard_count)
        try:
            await asyncio.wait_for(built.ready.wait(), 120)
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes it
        finally:
            await built.bot.close()


def serve_main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    loop = fresh_loop()
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()


# ----- the bench: fakes here, bots in child processes ---------------------------------------------------------------


def answered(e: Event) -> bool:
    return e.kind == "edit" and "Answer to:" in (e.json.get("content") or "")


def finished(e: Event) -> bool:
    return e.kind == "edit" and final(e)


async def fresh_database(url: str) -> str:
    """The bench's own database on the same server, dropped and made anew (never the tests' database)."""
    import asyncpg

    given = make_url(url)
    name = f"{given.database}{BENCH_DATABASE_SUFFIX}"
    conn = await asyncpg.connect(
        host=given.host, port=given.port, user=given.username, password=given.password, database=given.database
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return given.set(database=name).render_as_string(hide_password=False)


async def start_bot(
    discord: FakeDiscord, openai_fake: FakeOpenAI, database_url: str, shard_ids: list[int], groups: int
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        "--shard-ids",
        ",".join(map(str, shard_ids)),
        "--guilds",
        ",".join(map(str, discord.guild_ids)),
        "--token",
        discord.token,
        "--rest-url",
        discord.rest_url,
        "--openai-url",
        openai_fake.base_url,
        "--openai-key",
        openai_fake.api_key,
        "--database-url",
        database_url,
        "--answer-slots",
        str(ANSWER_SLOTS // groups),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    return process


async def wait_ready(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    async with asyncio.timeout(180):
        while (line := await process.stdout.readline()) != b"ready\n":
            if not line:
                raise RuntimeError(f"a bot process exited before it was ready (code {await process.wait()})")


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        async with asyncio.timeout(60):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def ask_burst(discord: FakeDiscord, users: list[Any], question: str) -> list[InteractionHandle]:
    """One /ask per user, alternating between the guild on shard 0 and the one on shard 1, all at once."""
    places = [(discord.guild_id, discord.channel_id), (discord.other_guild_id, discord.other_guild_channel_id)]
    handles = [
        discord.slash("ask", options={"question": question}, user=user, guild_id=g, channel_id=c)
        for user, (g, c) in zip(users, places * (len(users) // 2 + 1), strict=False)
    ]
    try:
        await asyncio.gather(*(h.wait(finished, timeout=120) for h in handles))
    except TimeoutError:
        stuck = next(h for h in handles if not any(finished(e) for e in h.responses))
        raise RuntimeError(f"an /ask was not answered in time: {[(e.kind, e.json) for e in stuck.responses]}") from None
    return handles


async def run_setup(groups: list[list[int]], n: int, server_url: str) -> dict[str, list[float]]:
    """Start the bot processes for `groups`, ask n questions at once, return latencies (ms) per milestone."""
    database_url = await fresh_database(server_url)
    cpu_before = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    async with FakeDiscord() as discord, FakeOpenAI() as openai_fake:
        discord.shard_count, discord.max_concurrency = SHARD_COUNT, 1
        openai_fake.stream_chunk_chars = 64
        users = [discord.make_user(f"asker{i}") for i in range(n + 10)]
        processes = [await start_bot(discord, openai_fake, database_url, ids, len(groups)) for ids in groups]
        try:
            await asyncio.gather(*(wait_ready(p) for p in processes))
            await ask_burst(discord, users[n:], "warm up")
            handles = await ask_burst(discord, users[:n], "What is the capital of France?")
        finally:
            await asyncio.gather(*(stop_bot(p) for p in processes))
    cpu_after = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    fakes_s, bots_s = (
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        for before, after in zip(cpu_before, cpu_after, strict=True)
    )
    result: dict[str, list[float]] = {"ack": [], "answer": [], "final": [], "cpu_s": [bots_s, fakes_s]}
    for h in handles:
        sent = h.sent or h.created
        for milestone, predicate in (
            ("ack", lambda e: e.kind == "callback"),
            ("answer", answered),
            ("final", finished),
        ):
            event = next(e for e in h.responses if predicate(e))
            result[milestone].append((event.t - sent) * 1000)
    return result


def summary(name: str, latencies: dict[str, list[float]]) -> str:
    parts = [f"{name:<13} n={len(latencies['answer'])}"]
    for milestone in ("ack", "answer", "final"):
        values = latencies[milestone]
        parts.append(
            f"{milestone}: p50={percentile(values, 50):.0f} p99={percentile(values, 99):.0f} "
            f"mean={statistics.fmean(values):.0f} ms"
        )
    bots_s, fakes_s = latencies["cpu_s"][-2:]
    parts.append(f"CPU (start to stop): bot processes {bots_s:.1f} s, fakes {fakes_s:.1f} s")
    return " | ".join(parts)


async def bench(n: int, rounds: int, server_url: str) -> dict[str, Any]:
    setups = {"one process": [[0, 1]], "two processes": [[0], [1]]}
    pooled: dict[str, dict[str, list[float]]] = {
        name: {"ack": [], "answer": [], "final": [], "cpu_s": []} for name in setups
    }
    for round_ in range(rounds):
        # Alternate which setup goes first, so neither always meets a warmer (or busier) machine.
        order = list(setups) if round_ % 2 == 0 else list(reversed(setups))
        for name in order:
            latencies = await run_setup(setups[name], n, server_url)
            print(summary(f"{name}:", latencies), flush=True)
            for milestone, values in latencies.items():
                pooled[name][milestone].extend(values)
    one = percentile(pooled["one process"]["answer"], 99)
    two = percentile(pooled["two processes"]["answer"], 99)
    return {
        "bench": "shards",
        "one_process_p99_ms": round(one, 1),
        "two_processes_p99_ms": round(two, 1),
        "ratio": round(two / one, 3),
    }


def database_url(given: str | None) -> str | None:
    url = given or os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url is None or make_url(url).get_backend_name() != "postgresql":
        return None
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=400, help="questions asked at once (half per shard)")
    parser.add_argument("--rounds", type=int, default=1, help="times each setup runs (pooled); default 1")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (postgresql+asyncpg://...)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    for hidden in (
        "--shard-ids",
        "--guilds",
        "--token",
        "--rest-url",
        "--openai-url",
        "--openai-key",
        "--answer-slots",
    ):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args)
        return
    url = database_url(args.database_url)
    if url is None:
        print(
            "bench/shards.py needs PostgreSQL: two bot processes share one database. Pass --database-url "
            "postgresql+asyncpg://user@host/db or set TEST_DATABASE_URL (export TEST_DATABASE_URL=$(bash "
            ".ci/postgres.sh) starts one).",
            file=sys.stderr,
        )
        sys.exit(2)
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(bench(args.n, args.rounds, url))))


if __name__ == "__main__":
    main()
