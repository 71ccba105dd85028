"""Who counts as an admin: the Manage Server (or Administrator) permission, or one of the configured roles."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import hikari

from bot.discord.settings import DiscordSettings
from bot.errors import NotAllowed
from bot.i18n import _

_log = logging.getLogger(__name__)


def admin_role_ids(settings: DiscordSettings, roles: dict[int, str], guild_id: int | None = None) -> set[int]:
    """The guild's roles that grant admin: configured ids, and configured names that name exactly one role here.

    Role names are not unique (anyone with Manage Roles can make another "Bot Admin"), so a name that matches
    several roles grants nothing, and says so in the log."""
    granted: set[int] = set()
    for entry in settings.admin_roles:
        wanted = entry.strip()
        if wanted.isdigit():
            granted.add(int(wanted))
            continue
        matches = [role_id for role_id, name in roles.items() if name.lower() == wanted.lower()]
        if len(matches) == 1:
            granted.add(matches[0])
        elif len(matches) > 1:
            _log.warning(
                "admin role name %r matches %d roles in guild %s, so it grants nothing there; configure role ids",
                wanted,
                len(matches),
                guild_id,
            )
    return granted


def is_admin(
    member: hikari.InteractionMember | None,
    settings: DiscordSettings,
    roles: dict[int, str],
    guild_id: int | None = None,
) -> bool:
    """`roles` maps the guild's role ids to names (from the cache), so roles may be configured by id or unique name."""
    if member is None:  # DMs have no admins
        return False
    perms = member.permissions
    if perms & hikari.Permissions.ADMINISTRATOR:
        return True
    if settings.manage_guild_is_admin and perms & hikari.Permissions.MANAGE_GUILD:
        return True
    granted = admin_role_ids(settings, roles, guild_id)
    return any(int(role_id) in granted for role_id in member.role_ids)


def role_names(app: hikari.RESTAware, guild_id: hikari.Snowflakeish | None) -> dict[int, str]:
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    if cache is None or guild_id is None:
        return {}
    return {int(role_id): role.name for role_id, role in cache.get_roles_view_for_guild(guild_id).items()}


AdminInteraction = hikari.CommandInteraction | hikari.ComponentInteraction | hikari.ModalInteraction


def require_admin(interaction: AdminInteraction, settings: DiscordSettings, action: str) -> hikari.Snowflake:
    """The guild the interaction came from, when its member may run admin actions there; else NotAllowed (shown
    ephemerally). The one admin check: commands run it as a hook (bot.discord.checks), buttons and forms call it.
    `action` is in English, marked for the catalog (`N_`) where it is written, and shown translated."""
    guild_id = interaction.guild_id
    if guild_id is None:
        raise NotAllowed(_("{action} only works in a server.", action=_(action)))
    if not is_admin(interaction.member, settings, role_names(interaction.app, guild_id), int(guild_id)):
        roles = ", ".join(f"`{r}`" for r in settings.admin_roles) or _("none configured")
        raise NotAllowed(
            _(
                "Only admins can {action} (Manage Server permission or an admin role: {roles}).",
                action=_(action),
                roles=roles,
            )
        )
    return guild_id


def channel_permissions(
    app: hikari.RESTAware, guild_id: int, channel_id: int, user_id: int, role_ids: Iterable[int]
) -> hikari.Permissions | None:
    """What Discord grants `user_id` (holding `role_ids`) in a channel, from the cache; None when it is not cached.

    Discord's order: the guild owner and Administrator have everything; otherwise the @everyone role and the member's
    roles, then the channel's @everyone overwrite, its role overwrites together, and the member's own overwrite.
    Without View Channel nothing else in the channel is granted."""
    cache = app.cache if isinstance(app, hikari.CacheAware) else None
    guild = cache.get_guild(guild_id) if cache is not None else None
    channel = cache.get_guild_channel(channel_id) if cache is not None else None
    if cache is None or guild is None or channel is None or channel.guild_id != guild_id:
        return None
    if guild.owner_id == user_id:
        return hikari.Permissions.all_permissions()
    roles = cache.get_roles_view_for_guild(guild_id)
    held = {int(r) for r in role_ids}
    base = hikari.Permissions.NONE
    for role_id, role in roles.items():
        if int(role_id) == guild_id or int(role_id) in held:
            base |= role.permissions
    if base & hikari.Permissions.ADMINISTRATOR:
        return hikari.Permissions.all_permissions()
    overwrites = channel.permission_overwrites
    everyone = overwrites.get(hikari.Snowflake(guild_id))
    if everyone is not None:
        base = (base & ~everyone.deny) | everyone.allow
    allow = deny = hikari.Permissions.NONE
    for target, overwrite in overwrites.items():
        if overwrite.type == hikari.PermissionOverwriteType.ROLE and int(target) in held:
            allow |= overwrite.allow
            deny |= overwrite.deny
    base = (base & ~deny) | allow
    own = overwrites.get(hikari.Snowflake(user_id))
    if own is not None and own.type == hikari.PermissionOverwriteType.MEMBER:
        base = (base & ~own.deny) | own.allow
    return base if base & hikari.Permissions.VIEW_CHANNEL else hikari.Permissions.NONE


READING = hikari.Permissions.VIEW_CHANNEL | hikari.Permissions.READ_MESSAGE_HISTORY


def require_reading(member: hikari.InteractionMember | None) -> None:
    """Refuse unless the member may read the channel the interaction came from (an interaction's member carries their
    permissions in that channel, overwrites applied). A client can still show a message after its channel was hidden
    from the member: what the bot would read out of it must not reach them. DMs (no member) are the user's own."""
    if member is not None and member.permissions & READING != READING:
        raise NotAllowed(_("You cannot read this channel, so the bot will not act on its messages for you."))
