"""Readiness of this process's shards, as /readyz reports it: every shard connected, and their latencies."""

from __future__ import annotations

import math
from typing import Any

import attrs

from bot.discord.health import shard_latencies, shards_problem


@attrs.define
class Shard:
    """What readiness reads of a hikari shard."""

    is_alive: bool = True
    is_connected: bool = True
    heartbeat_latency: float = math.nan


def test_ready_needs_every_shard_of_the_process_connected() -> None:
    shards: dict[int, Any] = {}
    assert shards_problem(shards) == "no shard has connected yet"
    shards = {0: Shard(heartbeat_latency=0.042), 2: Shard(is_connected=False)}  # shard 2 is reconnecting
    assert shards_problem(shards) == "shard 2 not connected"
    shards[2] = Shard()
    assert shards_problem(shards) is None
    assert shard_latencies(shards)[0] == 0.042
