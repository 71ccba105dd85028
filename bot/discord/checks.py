"""Rules declared on commands: lightbulb hooks that refuse outside a server or to non-admins before the body runs."""

from __future__ import annotations

from collections.abc import Sequence

import hikari
import lightbulb

from bot.discord.permissions import require_admin
from bot.discord.settings import DiscordSettings
from bot.errors import NotAllowed
from bot.i18n import _

# Discord offers a command with these contexts only in servers, not in DMs (for global commands; guild commands are
# only ever offered in their guild).
GUILD_ONLY: Sequence[hikari.ApplicationContextType] = (hikari.ApplicationContextType.GUILD,)


def admin_only(action: str) -> lightbulb.ExecutionHook:
    """A check for `hooks=[...]`: the caller must be an admin in a server; `action` completes "Only admins can …"
    (English, marked for the catalog with `N_`, shown translated)."""

    @lightbulb.hook(lightbulb.ExecutionSteps.CHECKS, skip_when_failed=True, name=f"admin_only({action})")
    def check(
        _pipeline: lightbulb.ExecutionPipeline, ctx: lightbulb.Context, discord: DiscordSettings = lightbulb.di.INJECTED
    ) -> None:
        require_admin(ctx.interaction, discord, action)

    return check


def guild_only(refusal: str) -> lightbulb.ExecutionHook:
    """A check for `hooks=[...]`: the command works in a server only, and says `refusal` elsewhere (English, marked
    for the catalog with `N_`, shown translated)."""

    @lightbulb.hook(lightbulb.ExecutionSteps.CHECKS, skip_when_failed=True, name="guild_only")
    def check(_pipeline: lightbulb.ExecutionPipeline, ctx: lightbulb.Context) -> None:
        if ctx.guild_id is None:
            raise NotAllowed(_(refusal))

    return check


def guild_of(ctx: lightbulb.Context) -> hikari.Snowflake:
    """The server a command runs in, for commands whose hooks already refused it anywhere else."""
    if ctx.guild_id is None:  # only when a command forgot its hook
        raise NotAllowed(_("This only works in a server."))
    return ctx.guild_id
