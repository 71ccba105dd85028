"""What the health endpoint reads from the gateway: whether this process's shards are connected, their latency,
and the kind of each interaction received (for the metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import hikari

from bot.metrics import InteractionKind, Metrics
from bot.store.database import Database

_KINDS: dict[type[hikari.PartialInteraction], InteractionKind] = {
    hikari.CommandInteraction: "command",
    hikari.ComponentInteraction: "component",
    hikari.ModalInteraction: "modal",
    hikari.AutocompleteInteraction: "autocomplete",
}


def interaction_kind(interaction: hikari.PartialInteraction) -> InteractionKind | None:
    for cls, kind in _KINDS.items():
        if isinstance(interaction, cls):
            return kind
    return None


def count_interactions(bot: hikari.GatewayBot, metrics: Metrics) -> None:
    """Count every interaction this process receives, by kind, before any command or component handler runs."""

    async def on_interaction(event: hikari.InteractionCreateEvent) -> None:
        kind = interaction_kind(event.interaction)
        if kind is not None:
            metrics.interaction(kind)

    bot.subscribe(hikari.InteractionCreateEvent, on_interaction)


def shard_latencies(shards: Mapping[int, hikari.api.GatewayShard]) -> dict[int, float]:
    """Each shard's heartbeat latency in seconds (NaN until its first heartbeat is acknowledged)."""
    return {int(shard_id): shard.heartbeat_latency for shard_id, shard in shards.items()}


def shards_problem(shards: Mapping[int, hikari.api.GatewayShard]) -> str | None:
    """None when this process holds shards and every one is connected; else which are not."""
    if not shards:
        return "no shard has connected yet"
    down = sorted(int(i) for i, shard in shards.items() if not (shard.is_alive and shard.is_connected))
    if down:
        return f"shard {', '.join(map(str, down))} not connected"
    return None


class Readiness:
    """Ready: the bot has started (every shard of this process said READY, commands are synced), none of its
    shards is reconnecting, and the database answers. Before start and once stopping, not ready."""

    def __init__(self, bot: hikari.GatewayBot, started: asyncio.Event, database: Database, timeout_s: float) -> None:
        self._bot = bot
        self._started = started
        self._database = database
        self._timeout = timeout_s

    async def problem(self) -> str | None:
        if not self._started.is_set():
            shards = shards_problem(self._bot.shards)
            return f"starting: {shards}" if shards else "starting"
        if shards := shards_problem(self._bot.shards):
            return shards
        return await self._database.problem(self._timeout)
