"""Running the built bot for `python -m bot`: uvloop where there is one, and start-up failures told in one line."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

import hikari

_log = logging.getLogger(__name__)

PORTAL = "https://discord.com/developers/applications"
_PRIVILEGED = {
    hikari.Intents.MESSAGE_CONTENT: "Message Content",
    hikari.Intents.GUILD_MEMBERS: "Server Members",
    hikari.Intents.GUILD_PRESENCES: "Presence",
}


def use_fast_event_loop() -> bool:
    """Make uvloop the loop that GatewayBot.run() picks up (it takes the current loop); False where there is none."""
    if sys.platform == "win32":
        return False
    try:
        import uvloop
    except ImportError:
        return False
    # A loop set here, not an event loop policy: uvloop 0.22+ has no policy, and policies are deprecated in 3.14.
    asyncio.set_event_loop(uvloop.new_event_loop())
    return True


def startup_problem(exc: BaseException, intents: hikari.Intents = hikari.Intents.NONE) -> str | None:
    """What went wrong and what to do, in one line, for failures the person running the bot can fix; else None."""
    if isinstance(exc, hikari.UnauthorizedError) or (
        isinstance(exc, hikari.GatewayServerClosedConnectionError)
        and exc.code == hikari.ShardCloseCode.AUTHENTICATION_FAILED
    ):
        return (
            "Discord rejected the bot token (401 Unauthorized): copy a new one from the Developer Portal "
            f"({PORTAL} → your app → Bot → Reset Token) into DISCORD_TOKEN."
        )
    if isinstance(exc, hikari.GatewayServerClosedConnectionError):
        if exc.code == hikari.ShardCloseCode.DISALLOWED_INTENT:
            asked = [name for flag, name in _PRIVILEGED.items() if intents & flag] or ["a privileged"]
            hint = (
                " (or leave [discord] chat_channels empty in config.toml)"
                if intents & hikari.Intents.MESSAGE_CONTENT
                else ""
            )
            return (
                f"Discord refused the {', '.join(asked)} intent (gateway close 4014): switch it on in the Developer "
                f"Portal ({PORTAL} → your app → Bot → Privileged Gateway Intents){hint}."
            )
        if exc.code == hikari.ShardCloseCode.SHARDING_REQUIRED:
            return (
                "Discord requires more shards for this many servers (gateway close 4011): raise [discord] shard_count "
                "(or SHARD_COUNT), or leave it unset for Discord's recommended count."
            )
        if exc.code == hikari.ShardCloseCode.INVALID_SHARD:
            return (
                "Discord refused the shard (gateway close 4010): each process's shard ids must lie below one shared "
                "shard count ([discord] shard_count and shard_ids, or SHARD_COUNT and SHARD_IDS)."
            )
        return (
            f"Discord closed the gateway connection (code {exc.code}: {exc.reason}); see Discord's gateway close "
            "codes for what it means."
        )
    if isinstance(exc, hikari.InternalServerError):
        return f"Discord answered {exc.status} (a problem on its side): try again in a few minutes."
    if isinstance(exc, hikari.HTTPResponseError):
        return None  # any other refusal is a bug here, not something to fix in the setup: keep the traceback
    if isinstance(exc, hikari.HTTPError | hikari.GatewayConnectionError | OSError | TimeoutError):
        reason = exc.message if isinstance(exc, hikari.HTTPError) else str(exc)
        return (
            f"Cannot reach Discord ({reason}): check the internet connection, proxy and firewall "
            "(and [discord] rest_url in config.toml, if set)."
        )
    return None


async def _freeze_start_up(_: hikari.StartedEvent) -> None:
    # Everything start-up made (modules, classes, caches) lives as long as the process: moved out of the garbage
    # collector's way, its full collections no longer walk it all and stall the event loop (100+ ms while a knowledge
    # source of 10,000 messages was read, under 50 ms with this; bench/knowledge.py). Only here, in the process's
    # own run: tests start many bots in one process, and what one left behind would never be collected.
    gc.freeze()


def run(bot: hikari.GatewayBot, *, shard_ids: list[int] | None = None, shard_count: int | None = None) -> int:
    """Run until stopped; 0 when stopped normally, 1 (after one line on stderr) when Discord would not have the bot.
    `shard_ids` of `shard_count`: the shards this process runs (None: every shard, as many as Discord recommends)."""
    if use_fast_event_loop():
        _log.info("running on uvloop")
    if shard_count is not None:
        _log.info("running shards %s of %d", shard_ids if shard_ids is not None else "all", shard_count)
    bot.subscribe(hikari.StartedEvent, _freeze_start_up)
    try:
        bot.run(check_for_updates=False, shard_ids=shard_ids, shard_count=shard_count)
    except Exception as exc:
        problem = startup_problem(exc, bot.intents)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
