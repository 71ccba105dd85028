"""How fast /ask acknowledges: INTERACTION_CREATE → first callback, for 200 concurrent interactions.

Runs the real bot against the loopback fakes, then a bare lightbulb bot whose command only defers, as the baseline,
in the same run and the same way. The fakes run on their own event loop in another thread, so the bot's loop does
only the bot's work; the clock starts when INTERACTION_CREATE leaves the fake's socket.
Prints a summary and, last, one JSON line:
{"bench": "ack_latency", "n": 200, "p50_ms": …, "p99_ms": …, "baseline_p99_ms": …, "ratio": …}

    .venv/bin/python bench/ack_latency.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import hikari
import lightbulb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.discord import FakeDiscord, InteractionHandle
from tests.fakes.harness import running_bot
from tests.fakes.openai import FakeOpenAI

T = TypeVar("T")


class FakeLoop:
    """An event loop in a thread for the fakes."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def final(event: Any) -> bool:
    """The bot's last edit: /ask attaches the Correct button; the baseline's only edit says "ok"."""
    return "correct:" in str(event.json.get("components")) or event.json.get("content") == "ok"


async def burst(discord: FakeDiscord, name: str, options: dict[str, str], n: int) -> list[float]:
    users = [discord.make_user(f"user{i}") for i in range(n)]
    handles: list[InteractionHandle] = [discord.slash(name, options=options, user=u) for u in users]
    await asyncio.gather(*(h.wait_callback(timeout=60) for h in handles))
    latencies = [(h.callback.t - (h.sent or h.created)) * 1000 for h in handles if h.callback is not None]
    # Let every answer finish before the bot stops, so nothing is cut off mid-request.
    await asyncio.gather(*(h.wait(lambda e: e.kind == "edit" and final(e), timeout=120) for h in handles))
    return latencies


async def with_fakes(fakes: FakeLoop, body: Callable[[FakeDiscord, FakeOpenAI], Awaitable[T]]) -> T:
    discord, openai_fake = FakeDiscord(), FakeOpenAI()
    await fakes.run(discord.__aenter__())
    await fakes.run(openai_fake.__aenter__())
    try:
        return await body(discord, openai_fake)
    finally:
        await fakes.run(openai_fake.__aexit__(None, None, None))
        await fakes.run(discord.__aexit__(None, None, None))


async def measure_bot(fakes: FakeLoop, n: int) -> list[float]:
    async def body(discord: FakeDiscord, openai_fake: FakeOpenAI) -> list[float]:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_bot(discord, openai_fake, Path(tmp), limits={"model_calls": 10**6}):
                await fakes.run(burst(discord, "ask", {"question": "warm up"}, 5))
                return await fakes.run(burst(discord, "ask", {"question": "What is the capital of France?"}, n))

    return await with_fakes(fakes, body)


async def measure_baseline(fakes: FakeLoop, n: int) -> list[float]:
    async def body(discord: FakeDiscord, _: FakeOpenAI) -> list[float]:
        bot = hikari.GatewayBot(discord.token, rest_url=discord.rest_url, banner=None, logs=None)
        client = lightbulb.client_from_app(bot, default_enabled_guilds=[discord.guild_id])

        @client.register
        class Ask(lightbulb.SlashCommand, name="ask", description="defer only"):
            question = lightbulb.string("question", "text")

            @lightbulb.invoke
            async def invoke(self, ctx: lightbulb.Context) -> None:
                await ctx.defer()
                await ctx.interaction.edit_initial_response("ok")

        ready = asyncio.Event()

        async def on_started(_: hikari.StartedEvent) -> None:
            await client.start()
            ready.set()

        bot.subscribe(hikari.StartedEvent, on_started)
        await bot.start(check_for_updates=False)
        try:
            await asyncio.wait_for(ready.wait(), 30)
            await fakes.run(burst(discord, "ask", {"question": "warm up"}, 5))
            return await fakes.run(burst(discord, "ask", {"question": "What is the capital of France?"}, n))
        finally:
            await bot.close()

    return await with_fakes(fakes, body)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    logging.basicConfig(level=logging.ERROR)
    fakes = FakeLoop()
    try:
        ours = await measure_bot(fakes, n)
        baseline = await measure_baseline(fakes, n)
    finally:
        fakes.stop()
    p50, p99, base_p99 = percentile(ours, 50), percentile(ours, 99), percentile(baseline, 99)
    print(f"bot      /ask: n={len(ours)} p50={p50:.1f} ms p99={p99:.1f} ms mean={statistics.fmean(ours):.1f} ms")
    print(f"baseline defer: n={len(baseline)} p50={percentile(baseline, 50):.1f} ms p99={base_p99:.1f} ms")
    print(
        json.dumps(
            {
                "bench": "ack_latency",
                "n": len(ours),
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "baseline_p99_ms": round(base_p99, 2),
                "ratio": round(p99 / base_p99, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
