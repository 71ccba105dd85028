"""Garbage collection waits while acknowledgements are due.

Every command invocation leaves its objects (lightbulb's context and execution pipeline, the interaction, linkd's
dependency container, which holds itself) in reference cycles that only the cyclic garbage collector frees. In a burst
of 200 questions that came to 20-30 ms of collections among the acknowledgements, now and then a full one of 50-90 ms,
against about 120 ms of CPU for the acknowledgements themselves (bench/ack_latency.py). Collecting can wait a moment;
Discord's 3 s cannot: while any acknowledgement is in progress the collector is paused, and it runs, over what piled
up meanwhile, once the last one has gone out.

Bounded: a pause lasts at most `limit_s`. A bot that never runs out of acknowledgements in progress (or one stuck
waiting on Discord) collects as usual from then on, until none is in progress. Holders left on an event loop that
was closed (tests run a loop each) are forgotten by the next loop's first. A collector that something else paused
(gc.disable()) is left as it is.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

# Longer than a burst takes to acknowledge (200 at once: about 0.1 s here), well under Discord's 3 s.
LIMIT_S = 1.0

# Runs a callback after so many seconds, and returns how to cancel it (the running loop's call_later by default).
Scheduler = Callable[[float, Callable[[], None]], asyncio.Handle]


def _on_running_loop(delay: float, callback: Callable[[], None]) -> asyncio.Handle:
    return asyncio.get_running_loop().call_later(delay, callback)


class CollectorHolds:
    """Holders (acknowledgements in progress, of every bot in this process) pause the cyclic garbage collector; it
    runs again when the last lets go, or `limit_s` after the pause began, whichever comes first."""

    def __init__(self, limit_s: float = LIMIT_S, schedule: Scheduler = _on_running_loop) -> None:
        self._limit_s = limit_s
        self._schedule = schedule
        self._holders = 0
        self._deadline: asyncio.Handle | None = None  # set while this (not someone else) pauses the collector
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the holders

    def hold(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._loop.is_closed():
                # A loop closed while its holders were still acknowledging (their tasks never finished, and the
                # deadline never came): what they held ended with it.
                self._holders = 0
                self._resume()
            self._loop = loop
        self._holders += 1
        if self._holders == 1 and gc.isenabled():
            gc.disable()
            self._deadline = self._schedule(self._limit_s, self._resume)

    def release(self) -> None:
        self._holders = max(0, self._holders - 1)  # a holder of a closed loop may let go late (when it is collected)
        if not self._holders:
            self._resume()

    def _resume(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            gc.enable()


# One collector per process: every bot in it (tests run several) holds the same one.
COLLECTOR = CollectorHolds()
