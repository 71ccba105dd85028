"""Running the built bot for `python -m bot`: uvloop where there is one, and start-up failures told in one line."""

from __future__ import annotations

import asyncio
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


def run(bot: hikari.GatewayBot) -> int:
    """Run until stopped; 0 when stopped normally, 1 (after one line on stderr) when Discord would not have the bot."""
    if use_fast_event_loop():
        _log.info("running on uvloop")
    try:
        bot.run(check_for_updates=False)
    except Exception as exc:
        problem = startup_problem(exc, bot.intents)
        if problem is None:
            raise
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
