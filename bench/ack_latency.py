"""How fast /ask acknowledges: INTERACTION_CREATE → first callback, for 200 concurrent interactions.

Runs the real bot against the loopback fakes, then a bare lightbulb bot whose command only defers, as the baseline,
in the same run and the same way. The fakes run on their own event loop in another thread, so the bot's loop does
only the bot's work; the clock starts when INTERACTION_CREATE leaves the fake's socket.
Measures two variants in one run, each in its own process (hikari picks its JSON library and gateway compression
at import time): "plain" hides hikari's speedups (orjson, ciso8601, backports.zstd, aiohttp's aiodns/brotli) and
uses asyncio's own loop; "speedups" is what `python -m bot` gets: all of them and uvloop. The fakes always run on
asyncio's own loop. Besides the latencies, each burst reports the process's CPU from the first INTERACTION_CREATE to
the last acknowledgement (bot and fakes together: "ack_cpu_ms", the baseline's, and "cpu_ratio"), which a busy
machine's wall times hide. Prints a summary per variant and, last, one JSON line:
{"bench": "ack_latency", "n": 200, "plain": {"p50_ms": …, "p99_ms": …, "baseline_p99_ms": …, "ratio": …,
 "ack_cpu_ms": …, "cpu_ratio": …, …}, "speedups": {…}, "p99_speedups_vs_plain": …}

    .venv/bin/python bench/ack_latency.py [--n 200] [--variant plain|speedups]   (one variant: its JSON only)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.abc
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import attrs

# hikari's speedups extra (and aiohttp's), and uvloop: what the "plain" variant runs without.
SPEEDUPS = ("orjson", "ciso8601", "backports.zstd", "aiodns", "brotli", "brotlicffi", "uvloop")


class _HideModules(importlib.abc.MetaPathFinder):
    """Makes the named modules look uninstalled, so libraries take their fallbacks."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> None:
        if any(fullname == name or fullname.startswith(name + ".") for name in self.names):
            raise ModuleNotFoundError(f"No module named {fullname!r} (hidden by bench/ack_latency.py)", name=fullname)


if __name__ == "__main__" and "plain" in sys.argv:  # before hikari is imported: it picks its libraries at import
    sys.meta_path.insert(0, _HideModules(SPEEDUPS))

import hikari  # noqa: E402
import lightbulb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.discord import FakeDiscord, InteractionHandle  # noqa: E402
from tests.fakes.harness import running_bot  # noqa: E402
from tests.fakes.openai import FakeOpenAI  # noqa: E402

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


@attrs.frozen
class Burst:
    latencies: list[float]  # ms from INTERACTION_CREATE leaving the fake to the first callback, per interaction
    cpu_ms: float  # the process's CPU (bot, fakes and their threads) from the first send to the last callback


async def burst(discord: FakeDiscord, name: str, options: dict[str, str], n: int) -> Burst:
    users = [discord.make_user(f"user{i}") for i in range(n)]
    # Each burst starts from a collected heap: the bot and the baseline share the process, and neither should pay
    # for a collection of the other's garbage (after the bot, the baseline took twice the CPU without this).
    gc.collect()
    cpu = time.process_time()
    handles: list[InteractionHandle] = [discord.slash(name, options=options, user=u) for u in users]
    await asyncio.gather(*(h.wait_callback(timeout=60) for h in handles))
    cpu = time.process_time() - cpu
    latencies = [(h.callback.t - (h.sent or h.created)) * 1000 for h in handles if h.callback is not None]
    # Let every answer finish before the bot stops, so nothing is cut off mid-request.
    await asyncio.gather(*(h.wait(lambda e: e.kind == "edit" and final(e), timeout=120) for h in handles))
    return Burst(latencies, cpu * 1000)


async def with_fakes(fakes: FakeLoop, body: Callable[[FakeDiscord, FakeOpenAI], Awaitable[T]]) -> T:
    discord, openai_fake = FakeDiscord(), FakeOpenAI()
    await fakes.run(discord.__aenter__())
    await fakes.run(openai_fake.__aenter__())
    try:
        return await body(discord, openai_fake)
    finally:
        await fakes.run(openai_fake.__aexit__(None, None, None))
        await fakes.run(discord.__aexit__(None, None, None))


async def measure_bot(fakes: FakeLoop, n: int) -> Burst:
    async def body(discord: FakeDiscord, openai_fake: FakeOpenAI) -> Burst:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_bot(discord, openai_fake, Path(tmp), limits={"model_calls": 10**6}):
                await fakes.run(burst(discord, "ask", {"question": "warm up"}, 5))
                return await fakes.run(burst(discord, "ask", {"question": "What is the capital of France?"}, n))

    return await with_fakes(fakes, body)


async def measure_baseline(fakes: FakeLoop, n: int) -> Burst:
    async def body(discord: FakeDiscord, _: FakeOpenAI) -> Burst:
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


async def measure(n: int) -> dict[str, Any]:
    logging.basicConfig(level=logging.ERROR)
    fakes = FakeLoop()
    try:
        bot_burst = await measure_bot(fakes, n)
        baseline_burst = await measure_baseline(fakes, n)
    finally:
        fakes.stop()
    ours, baseline = bot_burst.latencies, baseline_burst.latencies
    p50, p99, base_p99 = percentile(ours, 50), percentile(ours, 99), percentile(baseline, 99)
    return {
        "n": len(ours),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "mean_ms": round(statistics.fmean(ours), 2),
        "baseline_p50_ms": round(percentile(baseline, 50), 2),
        "baseline_p99_ms": round(base_p99, 2),
        "ratio": round(p99 / base_p99, 3),
        # CPU spent until the last acknowledgement: what the wall times above become on a busy machine.
        "ack_cpu_ms": round(bot_burst.cpu_ms, 1),
        "baseline_ack_cpu_ms": round(baseline_burst.cpu_ms, 1),
        "cpu_ratio": round(bot_burst.cpu_ms / baseline_burst.cpu_ms, 3),
    }


def libraries() -> dict[str, str]:
    """What hikari and the bot's loop actually use in this process."""
    from hikari.impl import shard
    from hikari.internal import data_binding

    return {
        "json": data_binding.default_json_loads.__module__.split(".")[0],
        "gateway": str(shard._DEFAULT_COMPRESS_TYPE.value),  # pyright: ignore[reportPrivateUsage]
        "loop": type(asyncio.get_event_loop()).__module__.split(".")[0],
    }


def run_variant(variant: str, n: int) -> dict[str, Any]:
    """This process measures one variant; "speedups" runs the bot on uvloop, as `python -m bot` does."""
    if variant == "speedups":
        from bot.launch import use_fast_event_loop

        if not use_fast_event_loop():
            asyncio.set_event_loop(asyncio.new_event_loop())
    else:
        asyncio.set_event_loop(asyncio.new_event_loop())
    loop = asyncio.get_event_loop()
    try:
        result = {"variant": variant, **libraries(), **loop.run_until_complete(measure(n))}
    finally:
        loop.close()
    return result


def show(r: dict[str, Any]) -> str:
    return (
        f"{r['variant']:<8} ({r['json']}, {r['loop']}, {r['gateway']}): /ask n={r['n']} p50={r['p50_ms']:.1f} ms "
        f"p99={r['p99_ms']:.1f} ms mean={r['mean_ms']:.1f} ms | defer-only baseline p50={r['baseline_p50_ms']:.1f} ms "
        f"p99={r['baseline_p99_ms']:.1f} ms | ratio {r['ratio']:.3f} | CPU to the last ack {r['ack_cpu_ms']:.0f} ms, "
        f"baseline {r['baseline_ack_cpu_ms']:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--variant", choices=["plain", "speedups"], default=None)
    args = parser.parse_args()
    if args.variant is not None:
        print(json.dumps(run_variant(args.variant, args.n)))
        return
    results: dict[str, dict[str, Any]] = {}
    for variant in ("plain", "speedups"):
        child = subprocess.run(
            [sys.executable, __file__, "--n", str(args.n), "--variant", variant],
            check=True,
            capture_output=True,
            text=True,
        )
        results[variant] = json.loads(child.stdout.strip().splitlines()[-1])
        print(show(results[variant]), flush=True)
    plain, fast = results["plain"], results["speedups"]
    print(
        json.dumps(
            {
                "bench": "ack_latency",
                "n": args.n,
                "plain": plain,
                "speedups": fast,
                "p99_speedups_vs_plain": round(fast["p99_ms"] / plain["p99_ms"], 3),
                "p50_speedups_vs_plain": round(fast["p50_ms"] / plain["p50_ms"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
