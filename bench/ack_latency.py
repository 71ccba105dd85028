"""How fast /ask acknowledges: INTERACTION_CREATE → first callback, for 200 concurrent interactions.

Runs the real bot against the loopback fakes, and a bare lightbulb bot whose command only defers as the baseline, in
the same run and the same way. Each bot runs in a process of its own, as `python -m bot` does (what start-up made
frozen out of the garbage collector's way); the fakes run in this benchmark's process (bench/measured.py), as Discord
is another machine. A burst's 200 INTERACTION_CREATEs leave the fake together (FakeDiscord.at_once), so every bot gets
the same burst whatever its gateway compression. The clock starts when an INTERACTION_CREATE leaves the fake's socket
and stops when the first callback reaches it.
Two variants (hikari picks its JSON library and gateway compression at import time): "plain" hides hikari's speedups
(orjson, ciso8601, backports.zstd, aiohttp's aiodns/brotli) and uses asyncio's own loop; "speedups" is what
`python -m bot` gets: all of them and uvloop. The four processes (each variant's bot and baseline) run at once, on the
same core, and are driven one burst at a time in turn (every other turn in the opposite order), so that the four
bursts of a turn, a second or two apart, see the same machine; each answers a warm-up burst first, then one burst a
turn for `--turns` turns, and has gone quiet before the next process's burst. A variant's figures are the median over
its bursts of each burst's (its p99: the median of the bursts' p99s; each burst's is listed too);
"p99_speedups_vs_plain_paired" is the median, over the turns, of the speedups bot's p99 over the plain bot's in the
same turn. Besides the latencies, each burst reports the bot's process's CPU from the first INTERACTION_CREATE to the
last acknowledgement ("ack_cpu_ms", the baseline's, and "cpu_ratio"), which a busy machine's wall times hide.
Prints a line per variant and, last, one JSON line:
{"bench": "ack_latency", "n": 200, "plain": {"p50_ms": …, "p99_ms": …, "baseline_p99_ms": …, "ratio": …,
 "ack_cpu_ms": …, "cpu_ratio": …, …}, "speedups": {…}, "p99_speedups_vs_plain": …,
 "p99_speedups_vs_plain_paired": …}

    .venv/bin/python bench/ack_latency.py [--n 200] [--turns 24]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.abc
import json
import logging
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

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


# The measured process of the plain variant, before hikari is imported (it picks its libraries at import).
if __name__ == "__main__" and "--measure" in sys.argv and "plain" in sys.argv:
    sys.meta_path.insert(0, _HideModules(SPEEDUPS))

import hikari  # noqa: E402
import lightbulb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measured import (  # noqa: E402
    Endpoints,
    MeasuredProcess,
    Orders,
    beside_the_fakes,
    fresh_loop,
    process_cpu,
    tell,
)
from tests.fakes.discord import Event, FakeDiscord, final  # noqa: E402
from tests.fakes.harness import running_bot  # noqa: E402

VARIANTS = ("plain", "speedups")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def last_edit(event: Event) -> bool:
    """The bot's last edit: /ask attaches the Correct button; the baseline's only edit says "ok"."""
    return final(event) or event.json.get("content") == "ok"


@attrs.frozen
class Burst:
    latencies: list[float]  # ms from INTERACTION_CREATE leaving the fake to the first callback, per interaction
    cpu_ms: float  # the measured bot's process's CPU from the first send to the last callback

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


# In the fakes' process


async def burst(discord: FakeDiscord, measured: MeasuredProcess, question: str, n: int) -> Burst:
    users = [discord.make_user(f"user{i}") for i in range(n)]
    await measured.say("cpu")
    cpu = float(await measured.heard())
    # The fakes keep everything they saw in the run (every request, event and message): a full collection of that
    # took the fakes' process up to 500 ms, now and then in the middle of a burst, and the bot was timed for it.
    # Discord does not pause so: here the collector waits until the burst has been acknowledged.
    gc.disable()
    try:
        # The burst's interactions leave together, as the same instant's: sent one by one as the fake compressed
        # them, they spread over 6-7.5 ms, over less with zstd than with zlib, and the variant with zstd was timed
        # for the fake's faster compression (its last questions left earlier, to a bot as busy).
        with discord.at_once():
            handles = [discord.slash("ask", options={"question": question}, user=u) for u in users]
        await asyncio.gather(*(h.wait_callback(timeout=60) for h in handles))
    finally:
        gc.enable()
    await measured.say("cpu")
    cpu = float(await measured.heard()) - cpu
    latencies = [(h.callback.t - (h.sent or h.created)) * 1000 for h in handles if h.callback is not None]
    # Let every answer finish before the bot stops, so nothing is cut off mid-request; then let the bot finish what
    # follows its last edit (storing the answers, counting their use), which shared the core with the next burst of
    # another process before.
    await asyncio.gather(*(h.wait(lambda e: e.kind == "edit" and last_edit(e), timeout=120) for h in handles))
    await measured.say("settle")
    await measured.expect("settled")
    return Burst(latencies, cpu * 1000)


@attrs.define
class Measured:
    """One bot (ours or the baseline) of one variant, in a process of its own beside its own fakes."""

    variant: str
    which: str  # "bot" or "baseline"
    discord: FakeDiscord
    process: MeasuredProcess
    bursts: list[Burst] = attrs.field(factory=list[Burst])
    libraries: dict[str, str] = attrs.field(factory=dict[str, str])


async def measure(n: int, turns: int) -> tuple[dict[str, dict[str, Any]], float]:
    """All four processes started at once, each warmed up with a burst, then driven one burst at a time in turn, so
    that the four bursts of a turn see the same machine."""
    async with contextlib.AsyncExitStack() as stack:
        measured: list[Measured] = []
        for variant in VARIANTS:
            for which in ("bot", "baseline"):
                command = [sys.executable, __file__, "--measure", which, "--variant", variant]
                discord, process = await stack.enter_async_context(beside_the_fakes(command, own_core=True))
                measured.append(Measured(variant, which, discord, process))
        for m in measured:
            await m.process.expect("ready")
            await burst(m.discord, m.process, "warm up", n)  # as a bot that has answered a while: its pools full
        for turn in range(turns):
            # Every other turn the other way round: whoever goes first in a turn follows the last one of the turn
            # before, a bias the medians should not inherit.
            for m in measured if turn % 2 == 0 else reversed(measured):
                m.bursts.append(await burst(m.discord, m.process, "What is the capital of France?", n))
        for m in measured:
            await m.process.say("stop")
            m.libraries = json.loads(await m.process.last_word())
    bots = {m.variant: m for m in measured if m.which == "bot"}
    baselines = {m.variant: m for m in measured if m.which == "baseline"}
    paired = statistics.median(
        fast.p99 / plain.p99 for fast, plain in zip(bots["speedups"].bursts, bots["plain"].bursts, strict=True)
    )
    figures = {v: {"variant": v} | summary(bots[v].bursts, baselines[v].bursts, bots[v].libraries) for v in VARIANTS}
    return figures, paired


def summary(bot: list[Burst], baseline: list[Burst], libraries: dict[str, str]) -> dict[str, Any]:
    """A variant's figures: each burst's, then their median (this machine's pace drifts by a third from one second to
    the next: the median of many short bursts, interleaved with the other variant's, is what compares)."""
    p99s = [b.p99 for b in bot]
    base_p99s = [b.p99 for b in baseline]
    p99, base_p99 = statistics.median(p99s), statistics.median(base_p99s)
    cpu, base_cpu = statistics.median([b.cpu_ms for b in bot]), statistics.median([b.cpu_ms for b in baseline])
    return {
        **libraries,
        "n": len(bot[0].latencies),
        "p50_ms": round(statistics.median([percentile(b.latencies, 50) for b in bot]), 2),
        "p99_ms": round(p99, 2),
        "mean_ms": round(statistics.median([statistics.fmean(b.latencies) for b in bot]), 2),
        "baseline_p50_ms": round(statistics.median([percentile(b.latencies, 50) for b in baseline]), 2),
        "baseline_p99_ms": round(base_p99, 2),
        "ratio": round(p99 / base_p99, 3),
        "bursts_p99_ms": [round(v, 1) for v in p99s],
        "bursts_baseline_p99_ms": [round(v, 1) for v in base_p99s],
        # CPU spent until the last acknowledgement: what the wall times above become on a busy machine.
        "ack_cpu_ms": round(cpu, 1),
        "baseline_ack_cpu_ms": round(base_cpu, 1),
        "cpu_ratio": round(cpu / base_cpu, 3),
    }


# In the measured process


def libraries() -> dict[str, str]:
    """What hikari and the bot's loop actually use in this process."""
    from hikari.impl import shard
    from hikari.internal import data_binding

    return {
        "json": data_binding.default_json_loads.__module__.split(".")[0],
        "gateway": str(shard._DEFAULT_COMPRESS_TYPE.value),  # pyright: ignore[reportPrivateUsage]
        "loop": type(asyncio.get_event_loop()).__module__.split(".")[0],
    }


# The measured process has settled once it has used under this much CPU in this long.
QUIET_CPU_S, QUIET_WINDOW_S = 0.001, 0.02


async def quiet() -> None:
    """Returns once this process has gone quiet: its answers finished, stored and counted, its threads idle too."""
    while True:
        before = process_cpu()
        await asyncio.sleep(QUIET_WINDOW_S)  # measuring idleness takes an interval
        if process_cpu() - before < QUIET_CPU_S:
            return


async def answer_orders(orders: Orders) -> None:
    """The bot is ready: say this process's CPU when asked, say when it has settled, until told to stop."""
    gc.freeze()  # as bot.launch does once started
    tell("ready")
    while (order := await orders.next()) in ("cpu", "settle"):
        if order == "cpu":
            tell(repr(process_cpu()))
        else:
            await asyncio.wait_for(quiet(), 30)
            tell("settled")
    if order != "stop":
        raise RuntimeError(f"unexpected order {order!r}")


async def bot_here(endpoints: Endpoints) -> None:
    orders = await Orders.open()
    discord, openai_fake = endpoints.as_fakes()
    with tempfile.TemporaryDirectory() as tmp:
        async with running_bot(discord, openai_fake, Path(tmp), limits={"model_calls": 10**6}):
            await answer_orders(orders)


async def baseline_here(endpoints: Endpoints) -> None:
    orders = await Orders.open()
    bot = hikari.GatewayBot(endpoints.token, rest_url=endpoints.rest_url, banner=None, logs=None)
    client = lightbulb.client_from_app(bot, default_enabled_guilds=[endpoints.guild_id])

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
        await answer_orders(orders)
    finally:
        await bot.close()


def measure_here(which: str, variant: str, endpoints: Endpoints) -> None:
    """This process is the measured one; "speedups" runs the bot on uvloop, as `python -m bot` does."""
    logging.basicConfig(level=logging.ERROR)
    loop = fresh_loop(fast=variant == "speedups")
    try:
        loop.run_until_complete(bot_here(endpoints) if which == "bot" else baseline_here(endpoints))
        used = libraries()
    finally:
        loop.close()
    tell(json.dumps(used))


# The whole run


def show(r: dict[str, Any]) -> str:
    return (
        f"{r['variant']:<8} ({r['json']}, {r['loop']}, {r['gateway']}): /ask n={r['n']} p50={r['p50_ms']:.1f} ms "
        f"p99={r['p99_ms']:.1f} ms mean={r['mean_ms']:.1f} ms | defer-only baseline p50={r['baseline_p50_ms']:.1f} ms "
        f"p99={r['baseline_p99_ms']:.1f} ms | ratio {r['ratio']:.3f} | CPU to the last ack {r['ack_cpu_ms']:.0f} ms, "
        f"baseline {r['baseline_ack_cpu_ms']:.0f} ms | p99 per burst {r['bursts_p99_ms']}, baseline "
        f"{r['bursts_baseline_p99_ms']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--turns", type=int, default=24, help="bursts of --n per process, after its warm-up")
    parser.add_argument("--measure", choices=("bot", "baseline"), help=argparse.SUPPRESS)  # this process is measured
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoints", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        measure_here(args.measure, args.variant, Endpoints.parse(args.endpoints))
        return
    logging.basicConfig(level=logging.ERROR)
    # The fakes on the fast loop too: Discord is a fast machine, and a fake that takes long to read each callback
    # would time its own queue (measured: it spends 60-300 ms of CPU in a burst of 200), not the bot's.
    loop = fresh_loop()
    try:
        results, paired = loop.run_until_complete(measure(args.n, args.turns))
    finally:
        loop.close()
    for variant in VARIANTS:
        print(show(results[variant]), flush=True)
    plain, fast = results["plain"], results["speedups"]
    print(
        json.dumps(
            {
                "bench": "ack_latency",
                "n": args.n,
                "turns": args.turns,
                "plain": plain,
                "speedups": fast,
                "p99_speedups_vs_plain": round(fast["p99_ms"] / plain["p99_ms"], 3),
                "p50_speedups_vs_plain": round(fast["p50_ms"] / plain["p50_ms"], 3),
                "p99_speedups_vs_plain_paired": round(paired, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
